"""Incident grouping: quality and cost, the new grouping (alerts/incidents/grouping.py) beside MinHash.

- CED cascades (../shared/data/grouping/ced_cascades.jsonl): Weibo events, the original post and up
  to 40 reposts/comments each; one cascade = one event. All posts of a split, in date order, go
  through the online grouper; B-cubed precision/recall/F1 and the number of groups. The cascades are
  split by a hash of their id: a third to tune on, two thirds held out. Settings were tuned on the
  tune part only (`--tune` prints the grid); the table reports the held-out part.
- AFQMC pairs: would the second question join an incident made of the first one? Precision/recall
  of "same meaning", on a fixed sample.
- Outbreak: a held-out cascade breaking out in a week of background posts; how many of its posts are
  out when per-incident spread detection first alarms, MinHash grouping against grouping by meaning.
- Cost: posts grouped per second (CPU time, tokenising included, encoding excluded) and memory with 10k
  and 100k open incidents (each the heaviest terms of two real CED posts mixed, and the mean of their
  sentence vectors); the encoder's own cost (texts per CPU-second) separately.
- Sentence vectors (issue 16): multilingual-e5-small through sentiment.encoder, computed once per text and
  kept by embed_cached (about 13 minutes of one core for the CED posts the first time).

Run: REPWATCH_ENCODER_THREADS=1 OMP_NUM_THREADS=1 .venv/bin/python bench/incidents.py [--tune] [--quick]
"""
from __future__ import annotations

import argparse
import dataclasses
import gzip
import hashlib
import json
import os
import random
import re
import sys
import time
import tracemalloc
from collections import defaultdict
from datetime import datetime, timedelta, timezone
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import numpy as np  # noqa: E402

from alerts.incidents.grouping import GroupSettings, Grouper, centred, vector  # noqa: E402

DATA = Path(__file__).resolve().parents[2] / "shared" / "data" / "grouping"
if not DATA.exists():
    DATA = Path("/work/shared/data/grouping")
_MD = re.compile(r"^(\d{2})月(\d{2})日 (\d{2}):(\d{2})$")


def _date(s: str, year: int | None) -> datetime | None:
    try:
        return datetime.fromisoformat(s)
    except ValueError:
        m = _MD.match(s.strip())
        if m and year:
            mo, d, h, mi = map(int, m.groups())
            try:
                return datetime(year, mo, d, h, mi)
            except ValueError:
                return None
        return None


def load_ced() -> list[dict]:
    """Posts as {cascade, text, when}, the original first (dated a minute before its first repost)."""
    out = []
    with open(DATA / "ced_cascades.jsonl", encoding="utf-8") as f:
        for line in f:
            c = json.loads(line)
            good = [d for d in (_date(p["date"], None) for p in c["posts"]) if d]
            year = min(good).year if good else None
            dated = [(p["text"], _date(p["date"], year)) for p in c["posts"]]
            dated = [(t, d) for t, d in dated if d is not None and t.strip()]
            if not dated:
                continue
            first = min(d for _, d in dated)
            out.append({"cascade": c["cascade"], "text": c["text"], "when": first - timedelta(minutes=1), "original": True})
            out.extend({"cascade": c["cascade"], "text": t, "when": d} for t, d in dated)
    return out


def split(cascade: str) -> str:
    return "tune" if int(hashlib.sha1(cascade.encode()).hexdigest(), 16) % 3 == 0 else "test"


def bcubed(gold: list[str], pred: list) -> tuple[float, float, float]:
    by_gold, by_pred, both = defaultdict(int), defaultdict(int), defaultdict(int)
    for g, p in zip(gold, pred):
        by_gold[g] += 1
        by_pred[p] += 1
        both[(g, p)] += 1
    n = len(gold)
    prec = sum(both[(g, p)] / by_pred[p] for g, p in zip(gold, pred)) / n
    rec = sum(both[(g, p)] / by_gold[g] for g, p in zip(gold, pred)) / n
    return prec, rec, (2 * prec * rec / (prec + rec) if prec + rec else 0.0)


def vectors(posts: list[dict], name: str = "ced") -> np.ndarray:
    """The posts' sentence vectors (sentiment.encoder), encoded once and cached."""
    from sentiment.encoder import cache_path, embed_cached

    return embed_cached([p["text"] for p in posts], cache_path(name))


def encoded(posts: list[dict], name: str = "ced") -> list[dict]:
    """The posts of the cascades whose every post is already in the vector cache (a held-out subset while
    the cache is being filled: `--encoded-only`)."""
    from sentiment.encoder import _key, cache_path, version

    path = cache_path(name)
    path = path.with_name(f"{path.stem}-{hashlib.sha1(version().encode()).hexdigest()[:8]}.npz")
    with np.load(path, allow_pickle=False) as z:
        known = set(z["keys"].tolist())
    missing = {p["cascade"] for p in posts if _key(p["text"]) not in known}
    return [p for p in posts if p["cascade"] not in missing]


BATCH = 256   # posts scored against the open centroids in one matrix product, as `repwatch group` does


OVERRIDE: dict = {}   # settings every grouping of the quality tables runs with (--coarse: the coarse index forced on)


def run_grouper(posts: list[dict], settings: GroupSettings, tags: bool = True,
                embs: np.ndarray | None = None) -> list[int]:
    g = Grouper(dataclasses.replace(settings, **OVERRIDE))
    out = []
    for i in range(0, len(posts), BATCH):
        chunk = [{"text": p["text"], "when": p["when"]} for p in posts[i:i + BATCH]]
        placed = g.group_batch(chunk, None if embs is None else embs[i:i + BATCH], tags=tags)
        out.extend(incident for incident, _ in placed)
    return out


# the representations compared (settings beyond the shipped defaults); vectors: whether the posts' sentence
# vectors are passed in
WORDS = dict(meaning=2.0)                    # TF-IDF with anchors alone (before sentence vectors)


def run_minhash(posts: list[dict]) -> list[int]:
    """Today's grouping (alerts/incidents/index.py before issue 16): MinHash over character 3-grams, LSH,
    estimated Jaccard >= 0.5 against the incident's first post, 30-day window ignored (it only splits)."""
    from datasketch import MinHashLSH

    from alerts.incidents.index import signature
    from alerts.settings import IncidentSettings

    s = IncidentSettings()
    jaccard = 0.5   # the old default threshold (estimated Jaccard)
    lsh = MinHashLSH(threshold=jaccard, num_perm=s.num_perm)
    sigs, out = {}, []
    for i, p in enumerate(posts):
        mh = signature(p["text"], s)
        best, best_sim = None, 0.0
        for key in lsh.query(mh):
            sim = mh.jaccard(sigs[key])
            if sim >= jaccard and sim > best_sim:
                best, best_sim = key, sim
        if best is None:
            best = str(i)
            lsh.insert(best, mh)
            sigs[best] = mh
        out.append(int(best))
    return out


def ced_table(posts: list[dict], settings: GroupSettings, minhash: bool = True, oracle: bool = False,
              social: bool = True, tags: bool = True, gold_key: str = "cascade", embs: np.ndarray | None = None):
    use_idf(social)
    gold = [p[gold_key] for p in posts]
    if oracle:   # the share of posts no text similarity can place: no term shared with their cascade
        terms = defaultdict(lambda: defaultdict(int))
        vecs = [vector(p["text"]) for p in posts]
        for g, v in zip(gold, vecs):
            for w in v:
                terms[g][w] += 1
        alone = sum(1 for g, v in zip(gold, vecs) if not any(terms[g][w] > 1 for w in v))
        return alone / len(posts)
    res = {}
    t = time.process_time()   # CPU time: the machine is shared, wall time is not ours alone
    pred = run_grouper(posts, settings, tags=tags, embs=embs)
    res["meaning"] = (*bcubed(gold, pred), len(set(pred)), len(posts) / (time.process_time() - t))
    if minhash:
        t = time.process_time()
        pred = run_minhash(posts)
        res["minhash"] = (*bcubed(gold, pred), len(set(pred)), len(posts) / (time.process_time() - t))
    res["gold_groups"] = len(set(gold))
    return res


def tag_topics(posts: list[dict]) -> list[dict]:
    """Posts grouped by topic rather than by cascade, the topic named by the author: every CED post and
    every Weibo post of ../shared/data/sentiment (SMP2020 usual, weibo_senti) carrying a topic tag
    (#话题#), its topic being its first tag, whichever cascade or corpus it comes from. CED posts come
    first in date order, then the others (undated) in file order; no time window applies (`when` None).
    Each post as it is (the grouper sees the tag) and with every tag cut out (`bare`: what the words alone
    do). Small (about 1,100 posts, most topics of one post): it shows the mechanism and the joins across
    topics, it is not the hot-topic hold-out."""
    import csv

    from alerts.incidents.grouping import _HASHTAG_ZH

    texts = [p["text"] for p in posts]
    data = DATA.parent / "sentiment"
    for split in ("train", "dev", "test"):
        with open(data / f"smp2020_usual_{split}.tsv", encoding="utf-8") as f:
            next(f)
            texts.extend(line.rstrip("\n").split("\t", 1)[-1] for line in f)
    with open(data / "weibo_senti_2k.csv", encoding="utf-8-sig") as f:
        texts.extend(row["review"] for row in csv.DictReader(f))
    out, seen = [], set()
    for text in texts:
        m = _HASHTAG_ZH.search(text)
        if m and text not in seen and m.group(1).strip():
            seen.add(text)
            out.append({"text": text, "when": None, "topic": m.group(1).strip().casefold(),
                        "bare": _HASHTAG_ZH.sub(" ", text)})
    return out


def load_afqmc(n: int, seed: int = 16) -> list[tuple[str, str, int]]:
    rows = []
    for name in ("afqmc_train.csv.gz", "afqmc_train_add.csv.gz"):
        with gzip.open(DATA / name, "rt", encoding="utf-8") as f:
            for line in f:
                parts = line.rstrip("\n").split("\t")
                if len(parts) == 4 and parts[3] in ("0", "1"):
                    rows.append((parts[1], parts[2], int(parts[3])))
    random.Random(seed).shuffle(rows)
    return rows[:n]


def afqmc(pairs, settings: GroupSettings, embs: dict[str, np.ndarray] | None = None) -> tuple[float, float, float, int]:
    tp = fp = fn = 0
    for a, b, same in pairs:
        g = Grouper(settings)
        first, _ = g.group(a, emb=None if embs is None else embs[a])
        second, _ = g.group(b, emb=None if embs is None else embs[b])
        joined = first == second
        tp += joined and same
        fp += joined and not same
        fn += (not joined) and same
    p = tp / (tp + fp) if tp + fp else 0.0
    r = tp / (tp + fn) if tp + fn else 0.0
    return p, r, (2 * p * r / (p + r) if p + r else 0.0), len(pairs)


def afqmc_minhash(pairs) -> tuple[float, float, float, int]:
    from alerts.incidents.index import signature
    from alerts.settings import IncidentSettings

    s = IncidentSettings()
    jaccard = 0.5   # the old default threshold (estimated Jaccard)
    tp = fp = fn = 0
    for a, b, same in pairs:
        joined = signature(a, s).jaccard(signature(b, s)) >= jaccard
        tp += joined and same
        fp += joined and not same
        fn += (not joined) and same
    p = tp / (tp + fp) if tp + fp else 0.0
    r = tp / (tp + fn) if tp + fn else 0.0
    return p, r, (2 * p * r / (p + r) if p + r else 0.0), len(pairs)


def cost(open_incidents: int, settings: GroupSettings, posts: list[dict], embs: np.ndarray | None = None,
         measure: int = 3000, targets: int = 1) -> tuple[float, float, float]:
    """Fill a grouper with `open_incidents` incidents, each the terms of two real CED posts mixed
    (the heaviest 12, as a real centroid keeps its rarest words) and, with `embs`, the sum of their two
    sentence vectors; then time `measure` real posts, BATCH at a time as the pipeline and `repwatch group`
    place them, tokenising and scoring included, encoding excluded (the vectors are given). Returns
    (posts/s, MiB of memory held by the grouper's state, numpy's included, CPU seconds to lay out the coarse
    index once filled, as a restart does: Grouper.layout)."""
    rng = random.Random(7)
    have = [(i, v) for i, v in enumerate(vector(p["text"]) for p in posts) if v]
    base = datetime(2026, 1, 1)
    g = Grouper(settings)
    tracemalloc.start()
    for i in range(open_incidents):
        (a, va), (b, vb) = rng.choice(have), rng.choice(have)
        mixed = {**va, **vb}
        vec = dict(sorted(mixed.items(), key=lambda kv: -kv[1])[:12])
        n = sum(x * x for x in vec.values()) ** 0.5
        g.absorb(i + 1, {w: x / n for w, x in vec.items()}, None if targets == 1 else f"t{i % targets}", None, base,
                 None if embs is None else centred(embs[a] + embs[b]))
    t = time.process_time()
    g.layout()   # the coarse index of a target beyond coarse_min incidents, as a restart builds it
    layout = time.process_time() - t
    mem = tracemalloc.get_traced_memory()[0] / 2 ** 20
    tracemalloc.stop()
    picked = rng.sample(range(len(posts)), measure)
    chunk = [{"text": posts[i]["text"], "when": base + timedelta(seconds=k),
              "target": None if targets == 1 else f"t{k % targets}"} for k, i in enumerate(picked)]
    sample = None if embs is None else embs[picked]   # (the texts do not name these targets: nothing to cut)
    found = coarse_recall(g, sample, targets, settings.meaning) if sample is not None else None
    t = time.process_time()   # CPU time of this process: the machine is shared, wall time is not ours
    for k in range(0, measure, BATCH):
        g.group_batch(chunk[k:k + BATCH], None if sample is None else sample[k:k + BATCH])
    return measure / (time.process_time() - t), mem, layout, found


def coarse_recall(g: Grouper, sample: np.ndarray, targets: int, cut: float, n: int = 1000) -> tuple[float, float] | None:
    """What the coarse index costs in matches, before the timed posts are placed: of the (post, incident) pairs
    with cosine `cut` or more in an exact scan of the post's target, the share it finds, and the share of posts
    (with one such pair) whose best incident it finds. None when no target has a coarse index."""
    pairs = hit = posts = best = 0
    for k, e in enumerate(centred(v) for v in sample[:n]):
        index = g.vectors.get(None if targets == 1 else f"t{k % targets}")
        if index is None or index.coarse is None:
            continue
        exact = {}
        for block in index.blocks:
            scores = block.mat[:len(block.ids)] @ e
            exact.update((block.ids[r], float(scores[r])) for r in np.flatnonzero(scores >= cut))
        got = index.above(e, cut, None)
        pairs, hit = pairs + len(exact), hit + len(exact.keys() & got.keys())
        if exact:
            posts, best = posts + 1, best + (max(exact, key=exact.__getitem__) in got)
    return (hit / pairs, best / posts) if pairs else None


def encoder_speed(posts: list[dict], n: int = 200) -> float:
    """Texts per CPU-second of sentiment.encoder.embed on `n` CED posts, in batches of 64 (uncached)."""
    from sentiment.encoder import embed

    texts = [p["text"] for p in random.Random(3).sample(posts, n)]
    embed(texts[:2])   # load the model outside the timing
    t = time.process_time()
    for k in range(0, n, 64):
        embed(texts[k:k + 64])
    return n / (time.process_time() - t)


def outbreak(test: list[dict], streams: int = 20, embs: dict[str, np.ndarray] | None = None) -> dict:
    """End to end on incident spread: a week of background posts (1/hour, random posts of other
    held-out cascades), then one held-out cascade breaks out (0.5 posts/hour doubling every 3 hours,
    every post of it in its own words). Each grouping feeds per-incident hourly counts to the pipeline's
    detector (alerts.detect, a fresh incident's prior as in alerts/incidents/spread.py). Per stream: outbreak posts
    already out when an incident holding outbreak posts first alarms, or none; alarms on incidents of
    background posts only. Only the per-incident series depend on the grouping (the per-target series
    counts every complaint whatever the grouping)."""
    from alerts.incidents.detect import SpreadDetector
    from alerts.settings import AlertSettings

    alert = AlertSettings()
    by_cascade = defaultdict(list)
    for p in test:
        by_cascade[p["cascade"]].append(p)
    big = sorted(c for c, ps in by_cascade.items() if len(ps) >= 30)
    names = ["minhash", "meaning"] + (["vectors"] if embs is not None else [])
    out: dict[str, list] = {name: [] for name in names}
    false = {name: 0 for name in names}
    for seed in range(streams):
        rng = random.Random(seed)
        chosen = rng.choice(big)
        others = [p for c, ps in by_cascade.items() if c != chosen for p in ps]
        start = datetime(2026, 1, 5)
        stream = []
        for h in range(7 * 24):
            for _ in range(_poisson(rng, 1.0)):
                stream.append((start + timedelta(hours=h, minutes=rng.randrange(60)), rng.choice(others)["text"], False))
        onset = start + timedelta(days=5)
        posts = list(by_cascade[chosen])
        h = 0
        while posts and h < 48:
            for _ in range(min(len(posts), _poisson(rng, 0.5 * 2 ** (h / 3)))):
                stream.append((onset + timedelta(hours=h, minutes=rng.randrange(60)), posts.pop(0)["text"], True))
            h += 1
        stream.sort(key=lambda x: x[0])
        for name in out:
            assign = _assign(name, stream, embs)
            bins: dict[int, dict[datetime, int]] = defaultdict(lambda: defaultdict(int))
            has_outbreak: dict[int, datetime] = {}
            for (when, _, is_out), inc in zip(stream, assign):
                bins[inc][when.replace(minute=0, second=0)] += 1
                if is_out:
                    has_outbreak.setdefault(inc, when)
            first = None
            for inc, counts in bins.items():
                det = SpreadDetector(alert.detect, prior=alert.spread.incident_prior)
                b = min(counts)
                end = start + timedelta(days=8)
                while b < end:
                    alarm = det.update(b, counts.get(b, 0))
                    if alarm is not None:
                        if inc in has_outbreak:
                            first = b if first is None else min(first, b)
                        else:
                            false[name] += 1
                        break
                    b += timedelta(hours=1)
            if first is None:
                out[name].append(None)
            else:   # the alarm is raised when its bin closes
                out[name].append(sum(1 for when, _, o in stream if o and when < first + timedelta(hours=1)))
    return {"posts_out": out, "false": false, "streams": streams}


def _poisson(rng: random.Random, lam: float) -> int:
    import math

    n, p, limit = 0, 1.0, math.exp(-lam)
    while True:
        p *= rng.random()
        if p <= limit:
            return n
        n += 1


def _assign(name: str, stream, embs: dict[str, np.ndarray] | None = None) -> list[int]:
    posts = [{"text": t, "when": w} for w, t, _ in stream]
    if name == "minhash":
        return run_minhash(posts)
    if name == "vectors" and embs is not None:
        return run_grouper(posts, GroupSettings(), embs=np.stack([embs[p["text"]] for p in posts]))
    return run_grouper(posts, GroupSettings(**WORDS))


BEFORE = dict(cover=0.0, threshold=0.3, meaning=2.0)   # the first round: jieba's IDF, no hashtags, no coverage
TUNE_GRID = [   # (name, settings, social IDF and Weibo cleaning, tags)
    ("before: jieba IDF, threshold 0.3", BEFORE, False, False),
    ("+ social IDF, emoticons and bare links dropped", BEFORE, True, False),
    ("+ topic tags", BEFORE, True, True),
    *[(f"+ anchored coverage {c} (anchor IDF {a}), threshold {t}", dict(cover=c, anchor_idf=a, threshold=t, **WORDS),
       True, True) for t in (0.3, 0.25, 0.2) for c, a in ((0.2, 8.0), (0.2, 7.0), (0.3, 8.0))],
    ("threshold 0.2, no coverage", dict(cover=0.0, threshold=0.2, **WORDS), True, True),
    ("threshold 0.15, coverage 0.2", dict(cover=0.2, threshold=0.15, **WORDS), True, True),
    ("keep 60 terms (defaults otherwise)", dict(keep=60, **WORDS), True, True),
]
# sentence vectors (issue 16): (name, settings); the posts' vectors are passed in
VECTOR_GRID = [   # (name, settings, centred)
    *[(f"vectors only, raw cosine with the centroid {m}", dict(words=False, meaning=m, average=False), False)
      for m in (0.92, 0.94, 0.96)],
    *[(f"vectors only, centred cosine with the centroid {m}", dict(words=False, meaning=m, average=False), True)
      for m in (0.2, 0.25, 0.3, 0.35, 0.4, 0.5, 0.6, 0.7, 0.8)],
    *[(f"words + vectors, centred cosine with the centroid {m}, floor {f}", dict(meaning=m, floor=f, average=False), True)
      for m in (0.3, 0.35, 0.4, 0.45, 0.5, 0.6) for f in (0.0, 0.1, 0.2)],
    *[(f"vectors only, mean centred cosine with the posts {m}", dict(words=False, meaning=m), True)
      for m in (0.15, 0.2, 0.25, 0.3, 0.35, 0.4, 0.5)],
    *[(f"words + vectors, mean centred cosine with the posts {m}, floor {f}", dict(meaning=m, floor=f), True)
      for m in (0.2, 0.25, 0.3, 0.35, 0.4, 0.45) for f in (0.0, 0.1)],
]


def use_center(on: bool) -> None:
    """Cosines of centred sentence vectors (shipped) or of the raw ones, for what follows."""
    import alerts.incidents.grouping as grouping

    grouping.USE_CENTER = on


def use_idf(social: bool) -> None:
    """Switch the IDF table (jieba's alone, or lowered by the social-post counts) for what follows."""
    import alerts.incidents.grouping as grouping

    if grouping.USE_SOCIAL != social:
        grouping.USE_SOCIAL, grouping._IDF = social, None
    grouping.CLEAN_WEIBO = social   # the first round also kept Weibo emoticons and bare "http:" as words


def main(argv=None) -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--tune", action="store_true", help="grid over settings on the tune split")
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--vectors", action="store_true", help="with --tune: only the sentence-vector grid")
    ap.add_argument("--only", help="with --tune --vectors: only the rows whose name contains this")
    ap.add_argument("--encoded-only", action="store_true",
                    help="held-out: only the cascades whose posts are all in the vector cache already")
    ap.add_argument("--ced-only", action="store_true", help="only the CED table")
    ap.add_argument("--no-tags", action="store_true", help="skip the topic-tagged posts (their vectors cost ~1 min)")
    ap.add_argument("--afqmc", type=int, default=2000, help="AFQMC pairs (their vectors: about 2 texts each)")
    ap.add_argument("--outbreak", action="store_true", help="only the outbreak figure")
    ap.add_argument("--cost", action="store_true", help="only the cost figures")
    ap.add_argument("--demo", action="store_true", help="only the demo's incidents, words and words + vectors")
    ap.add_argument("--meaning", type=float, nargs="*", default=[], help="with --demo: other cosines to show")
    ap.add_argument("--coarse", nargs=2, type=int, metavar=("MIN", "PROBE"),
                    help="quality with the coarse index from MIN incidents per target, PROBE lists per post (shipped: "
                         "from 20,000, 24 lists; the CED and topic-tagged sets never reach 20,000 open incidents)")
    args = ap.parse_args(argv)
    if args.coarse:
        OVERRIDE.update(coarse_min=args.coarse[0], probe=args.coarse[1])
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    os.environ.setdefault("REPWATCH_ENCODER_THREADS", "1")
    posts = sorted(load_ced(), key=lambda p: (p["when"], p["cascade"]))
    tune = [p for p in posts if split(p["cascade"]) == "tune"]
    test = [p for p in posts if split(p["cascade"]) == "test"]
    settings = GroupSettings()
    if args.cost:
        return cost_table(tune, settings, args.quick)
    if args.demo:
        import tempfile

        with tempfile.TemporaryDirectory() as tmp:
            for name, kw in (("words", {"encoder": False}), ("words + vectors", {}),
                             *[(f"words + vectors, cosine {m}", {"meaning": m}) for m in args.meaning]):
                print(f"demo, {name}:")
                n, incidents, multi = demo(kw, Path(tmp) / f"{len(name)}.db", show=True)
                print(f"| {name} | {n} complaints | {incidents} incidents | {multi} of more than one post |", flush=True)
        return
    if args.outbreak:
        print(outbreak(test, 8 if args.quick else 20, text_vectors(test)))
        return
    tune_e = vectors(tune)
    if args.tune:
        print("| variant (tune split) | B-cubed P | R | F1 | groups |\n|---|---|---|---|---|")
        for name, kw, social, tags in TUNE_GRID if not args.vectors else ():
            r = ced_table(tune, GroupSettings(**kw), minhash=False, social=social, tags=tags)["meaning"]
            print(f"| {name} | {r[0]:.3f} | {r[1]:.3f} | {r[2]:.3f} | {r[3]} |", flush=True)
        for name, kw, centre in VECTOR_GRID if not args.only else [g for g in VECTOR_GRID if args.only in g[0]]:
            use_center(centre)
            r = ced_table(tune, GroupSettings(**kw), minhash=False, embs=tune_e)["meaning"]
            print(f"| {name} | {r[0]:.3f} | {r[1]:.3f} | {r[2]:.3f} | {r[3]} |", flush=True)
        return
    if args.encoded_only:
        test = encoded(test)
    test_e = vectors(test)
    print(f"CED: {len(tune)} tune posts, {len(test)} held-out posts "
          f"({len({p['cascade'] for p in test})} cascades)", flush=True)
    oracle = ced_table(test, settings, minhash=False, oracle=True)
    print(f"ceiling of text alone: {oracle:.3f} of held-out posts share no term with any other post of their "
          f"cascade", flush=True)
    print("| grouping | split | B-cubed P | R | F1 | groups (gold) | posts/s |")
    print("|---|---|---|---|---|---|---|")
    for split_name, part, embs in (("tune", tune, tune_e), ("held-out", test, test_e)):
        res = ced_table(part, GroupSettings(**WORDS))
        rows = [("minhash", res["minhash"]), ("words (TF-IDF, anchors)", res["meaning"])]
        rows.append(("vectors only", ced_table(part, GroupSettings(words=False, meaning=VECTORS_ONLY), minhash=False,
                                               embs=embs)["meaning"]))
        rows.append(("words + vectors (shipped)", ced_table(part, settings, minhash=False, embs=embs)["meaning"]))
        for name, row in rows:
            p, r, f, n, speed = row
            print(f"| {name} | {split_name} | {p:.3f} | {r:.3f} | {f:.3f} | {n} ({res['gold_groups']}) | {speed:,.0f} |",
                  flush=True)
    if args.ced_only:
        return
    tagged = tag_topics(posts) if not args.no_tags else []
    topics = len({p["topic"] for p in tagged})
    tagged_e = {key: vectors([{"text": p[key]} for p in tagged], "tagged") for key in ("text", "bare")} if tagged else {}
    print(f"\n| topic-tagged Weibo posts ({len(tagged)} posts, {topics} topics, tags ignore cascades) | B-cubed P | R | F1 "
          f"| groups |\n|---|---|---|---|---|")
    for name, kw, key, vec in (("words, tags in the text", WORDS, "text", False),
                               ("words + vectors, tags in the text", {}, "text", True),
                               ("words, tags cut out", WORDS, "bare", False),
                               ("words + vectors, tags cut out", {}, "bare", True)) if tagged else ():
        rows = [{**p, "text": p[key]} for p in tagged]
        r = ced_table(rows, GroupSettings(**kw), minhash=False, gold_key="topic",
                      embs=tagged_e[key] if vec else None)["meaning"]
        print(f"| {name} | {r[0]:.3f} | {r[1]:.3f} | {r[2]:.3f} | {r[3]} ({topics}) |", flush=True)
    originals = sorted({p["cascade"]: p for p in posts if p.get("original")}.values(), key=lambda p: p["when"])
    print(f"\n| {len(originals)} original posts of distinct CED events (nothing should join) | joined into another "
          f"event's incident | groups |\n|---|---|---|")
    for name, kw, vec in (("words", WORDS, False), ("words + vectors", {}, True)):
        use_idf(True)
        pred = run_grouper(originals, GroupSettings(**kw), embs=vectors(originals) if vec else None)
        print(f"| {name} | {len(originals) - len(set(pred))} | {len(set(pred))} |", flush=True)
    pairs = load_afqmc(args.afqmc)
    pair_e = text_vectors([{"text": t} for a, b, _ in pairs for t in (a, b)], "afqmc")
    print("\n| AFQMC pairs: would join | precision | recall | F1 | pairs |\n|---|---|---|---|---|")
    rows = [("minhash (Jaccard 0.5)", afqmc_minhash(pairs)),
            ("words (threshold 0.3)", afqmc(pairs, GroupSettings(**WORDS))),
            (f"vectors only (cosine {VECTORS_ONLY})", afqmc(pairs, GroupSettings(words=False, meaning=VECTORS_ONLY), pair_e)),
            (f"words + vectors (shipped: cosine {settings.meaning}, floor {settings.floor})", afqmc(pairs, settings, pair_e))]
    for name, r in rows:
        print(f"| {name} | {r[0]:.3f} | {r[1]:.3f} | {r[2]:.3f} | {r[3]} |", flush=True)
    same = sum(p[2] for p in pairs) / len(pairs)
    print(f"(same-meaning share of the pairs: {same:.3f}, the precision of joining every pair)")
    res = outbreak(test, 8 if args.quick else 20, text_vectors(test))
    print(f"\n| outbreak ({res['streams']} streams) | detected | outbreak posts out at the first alarm (median) "
          f"| alarms on background-only incidents |\n|---|---|---|---|")
    for name in res["posts_out"]:
        got = [x for x in res["posts_out"][name] if x is not None]
        med = f"{sorted(got)[len(got) // 2]}" if got else "-"
        print(f"| {name} | {len(got)}/{res['streams']} | {med} | {res['false'][name]} |", flush=True)
    cost_table(posts, settings, args.quick)


def demo(settings: dict, tmp: Path, show: bool = False) -> tuple[int, int, int]:
    """The demo's own pipeline (repwatch.demo: bundled real posts served from loopback, two passes) with
    alerts.incidents overridden by `settings`. Returns (complaints grouped, incidents, incidents of more
    than one post); `show` prints the multi-post incidents' labels and posts."""
    from sqlalchemy import func, select

    from repwatch.config import parse_config
    from repwatch.demo import demo_config, demo_routes
    from repwatch.loopback import LoopbackHTTPServer, SMTPSink
    from repwatch.pipeline import run_once
    from sentiment import Analyzer
    from storage import Database
    from storage.models import Incident, IncidentMention, Mention

    with LoopbackHTTPServer() as http, SMTPSink() as smtp:
        http.routes.update(demo_routes(http.url("")))
        raw = demo_config(http.url(""), smtp.port)
        raw["alerts"] = {**raw["alerts"], "incidents": settings}
        config = parse_config(raw, "<demo config>")
        db = Database(f"sqlite:///{tmp}")
        analyzer = Analyzer(config.analysis, config.targets())
        now = datetime(2026, 11, 21, 8, 0, tzinfo=timezone.utc)
        for n in (1, 2):
            run_once(db, config, analyzer, now + timedelta(minutes=10 * (n - 1)))
        with db.session() as s:
            linked = s.scalar(select(func.count()).select_from(IncidentMention)) or 0
            sizes = {i: n for i, n in s.execute(select(IncidentMention.incident_id, func.count())
                                                .group_by(IncidentMention.incident_id))}
            if show:
                for incident_id, n in sorted(sizes.items(), key=lambda kv: -kv[1]):
                    if n > 1:
                        inc = s.get(Incident, incident_id)
                        texts = s.scalars(select(Mention.text).join(IncidentMention, IncidentMention.mention_id == Mention.id)
                                          .where(IncidentMention.incident_id == incident_id))
                        print(f"  #{incident_id} ({n}) {inc.label}: " + " | ".join(t[:40] for t in texts))
        db.dispose()
    return linked, len(sizes), sum(1 for n in sizes.values() if n > 1)


VECTORS_ONLY = 0.45   # "vectors only" at the shipped cosine, for a like-for-like row


def text_vectors(posts: list[dict], name: str = "ced") -> dict[str, np.ndarray]:
    return dict(zip((p["text"] for p in posts), vectors(posts, name)))


def cost_table(posts: list[dict], settings: GroupSettings, quick: bool) -> None:
    """Cost on the tune split's posts (their vectors are cached first)."""
    embs = vectors(posts)
    print(f"\nencoder: {encoder_speed(posts):.1f} texts per CPU-second (sentiment.encoder.embed, batches of 64)")
    print("\n| open incidents | watch targets | grouping | posts/s (encoding excluded) | memory (MiB) | coarse index "
          "laid out (CPU s) | pairs above `meaning` / best incidents found by it |\n|---|---|---|---|---|---|---|")
    for n, targets in (((10_000, 1),) if quick else ((10_000, 1), (100_000, 1), (100_000, 20))):
        for name, kw, e in (("words", WORDS, None), ("words + vectors", {}, embs),
                            ("vectors only", dict(words=False, meaning=VECTORS_ONLY), embs)):
            speed, mem, layout, found = cost(n, GroupSettings(**{**settings.__dict__, **kw}), posts, e, targets=targets)
            shown = f"{found[0]:.3f} / {found[1]:.3f}" if found else "exact"
            print(f"| {n:,} | {targets} | {name} | {speed:,.0f} | {mem:,.0f} | {layout:.1f} | {shown} |", flush=True)


if __name__ == "__main__":
    main()
