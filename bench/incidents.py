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
- Cost: posts grouped per second (CPU time, tokenising included) and memory with 10k and 100k open
  incidents (each the heaviest terms of two real CED posts mixed).

Run: OMP_NUM_THREADS=1 .venv/bin/python bench/incidents.py [--tune] [--quick]
"""
from __future__ import annotations

import argparse
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
from datetime import datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from alerts.incidents.grouping import GroupSettings, Grouper, vector  # noqa: E402

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


def run_grouper(posts: list[dict], settings: GroupSettings, tags: bool = True) -> list[int]:
    g = Grouper(settings)
    out = []
    for p in posts:
        incident, _ = g.group(p["text"], when=p["when"], tags=tags)
        out.append(incident)
    return out


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
              social: bool = True, tags: bool = True, gold_key: str = "cascade"):
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
    pred = run_grouper(posts, settings, tags=tags)
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


def afqmc(pairs, settings: GroupSettings) -> tuple[float, float, float, int]:
    tp = fp = fn = 0
    for a, b, same in pairs:
        g = Grouper(settings)
        first, _ = g.group(a)
        second, _ = g.group(b)
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


def cost(open_incidents: int, settings: GroupSettings, posts: list[dict], measure: int = 3000) -> tuple[float, float]:
    """Fill a grouper with `open_incidents` incidents, each the terms of two real CED posts mixed
    (the heaviest 12, as a real centroid keeps its rarest words), then time `measure` real posts,
    tokenising included. Returns (posts/s, MiB of Python memory held by the grouper's state)."""
    rng = random.Random(7)
    vecs = [v for v in (vector(p["text"]) for p in posts) if v]
    base = datetime(2026, 1, 1)
    g = Grouper(settings)
    tracemalloc.start()
    for i in range(open_incidents):
        mixed = {**rng.choice(vecs), **rng.choice(vecs)}
        vec = dict(sorted(mixed.items(), key=lambda kv: -kv[1])[:12])
        n = sum(x * x for x in vec.values()) ** 0.5
        g.absorb(i + 1, {w: x / n for w, x in vec.items()}, None, None, base)
    mem = tracemalloc.get_traced_memory()[0] / 2 ** 20
    tracemalloc.stop()
    texts = [p["text"] for p in rng.sample(posts, measure)]
    t = time.process_time()   # CPU time of this process: the machine is shared, wall time is not ours
    for i, text in enumerate(texts):
        g.group(text, when=base + timedelta(seconds=i))
    return measure / (time.process_time() - t), mem


def outbreak(test: list[dict], streams: int = 20) -> dict:
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
    out = {"meaning": [], "minhash": []}
    false = {"meaning": 0, "minhash": 0}
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
            assign = _assign(name, stream)
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


def _assign(name: str, stream) -> list[int]:
    posts = [{"text": t, "when": w} for w, t, _ in stream]
    if name == "minhash":
        return run_minhash(posts)
    return run_grouper(posts, GroupSettings())


BEFORE = dict(cover=0.0, threshold=0.3)   # the grouping before this round: jieba's IDF, no hashtags, no coverage
TUNE_GRID = [   # (name, settings, social IDF and Weibo cleaning, tags)
    ("before: jieba IDF, threshold 0.3", BEFORE, False, False),
    ("+ social IDF, emoticons and bare links dropped", BEFORE, True, False),
    ("+ topic tags", BEFORE, True, True),
    *[(f"+ anchored coverage {c} (anchor IDF {a}), threshold {t}", dict(cover=c, anchor_idf=a, threshold=t), True, True)
      for t in (0.3, 0.25, 0.2) for c, a in ((0.2, 8.0), (0.2, 7.0), (0.3, 8.0))],
    ("threshold 0.2, no coverage", dict(cover=0.0, threshold=0.2), True, True),
    ("threshold 0.15, coverage 0.2", dict(cover=0.2, threshold=0.15), True, True),
    ("keep 60 terms (defaults otherwise)", dict(keep=60), True, True),
]


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
    ap.add_argument("--outbreak", action="store_true", help="only the outbreak figure")
    args = ap.parse_args(argv)
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    posts = sorted(load_ced(), key=lambda p: (p["when"], p["cascade"]))
    tune = [p for p in posts if split(p["cascade"]) == "tune"]
    test = [p for p in posts if split(p["cascade"]) == "test"]
    settings = GroupSettings()
    if args.outbreak:
        res = outbreak(test, 8 if args.quick else 20)
        print(res)
        return
    if args.tune:
        print("| variant (tune split) | B-cubed P | R | F1 | groups |\n|---|---|---|---|---|")
        for name, kw, social, tags in TUNE_GRID:
            r = ced_table(tune, GroupSettings(**kw), minhash=False, social=social, tags=tags)["meaning"]
            print(f"| {name} | {r[0]:.3f} | {r[1]:.3f} | {r[2]:.3f} | {r[3]} |", flush=True)
        return
    print(f"CED: {len(tune)} tune posts, {len(test)} held-out posts "
          f"({len({p['cascade'] for p in test})} cascades)", flush=True)
    oracle = ced_table(test, settings, minhash=False, oracle=True)
    print(f"ceiling of text alone: {oracle:.3f} of held-out posts share no term with any other post of their "
          f"cascade", flush=True)
    print("| grouping | split | B-cubed P | R | F1 | groups (gold) | posts/s |")
    print("|---|---|---|---|---|---|---|")
    for split_name, part in (("tune", tune), ("held-out", test)):
        before = ced_table(part, GroupSettings(**BEFORE), minhash=False, social=False, tags=False)
        res = ced_table(part, settings)
        for name, row in (("minhash", res["minhash"]), ("meaning, before", before["meaning"]),
                          ("meaning, now", res["meaning"])):
            p, r, f, n, speed = row
            print(f"| {name} | {split_name} | {p:.3f} | {r:.3f} | {f:.3f} | {n} ({res['gold_groups']}) | {speed:,.0f} |",
                  flush=True)
    tagged = tag_topics(posts)
    topics = len({p["topic"] for p in tagged})
    print(f"\n| topic-tagged Weibo posts ({len(tagged)} posts, {topics} topics, tags ignore cascades) | B-cubed P | R | F1 "
          f"| groups |\n|---|---|---|---|---|")
    for name, kw, tags, key in (("before, tags in the text", BEFORE, False, "text"),
                                ("now, tags in the text", {}, True, "text"),
                                ("before, tags cut out", BEFORE, False, "bare"),
                                ("now, tags cut out", {}, True, "bare")):
        rows = [{**p, "text": p[key]} for p in tagged]
        r = ced_table(rows, GroupSettings(**kw), minhash=False, social=bool(kw is not BEFORE), tags=tags,
                      gold_key="topic")["meaning"]
        print(f"| {name} | {r[0]:.3f} | {r[1]:.3f} | {r[2]:.3f} | {r[3]} ({topics}) |", flush=True)
    originals = sorted({p["cascade"]: p for p in posts if p.get("original")}.values(), key=lambda p: p["when"])
    print(f"\n| {len(originals)} original posts of distinct CED events (nothing should join) | joined into another "
          f"event's incident | groups |\n|---|---|---|")
    for name, kw, social in (("before", BEFORE, False), ("now", {}, True)):
        use_idf(social)
        pred = run_grouper(originals, GroupSettings(**kw), tags=social)
        print(f"| {name} | {len(originals) - len(set(pred))} | {len(set(pred))} |", flush=True)
    pairs = load_afqmc(2000 if args.quick else 10000)
    print("\n| AFQMC pairs: would join | precision | recall | F1 | pairs |\n|---|---|---|---|---|")
    rows = [("minhash (Jaccard 0.5)", afqmc_minhash(pairs)),
            (f"meaning (threshold {settings.threshold}, default)", afqmc(pairs, settings))]
    for th in (0.5, 0.8):
        rows.append((f"meaning (threshold {th})", afqmc(pairs, GroupSettings(threshold=th))))
    for name, r in rows:
        print(f"| {name} | {r[0]:.3f} | {r[1]:.3f} | {r[2]:.3f} | {r[3]} |", flush=True)
    same = sum(p[2] for p in pairs) / len(pairs)
    print(f"(same-meaning share of the pairs: {same:.3f}, the precision of joining every pair)")
    res = outbreak(test, 8 if args.quick else 20)
    print(f"\n| outbreak ({res['streams']} streams) | detected | outbreak posts out at the first alarm (median) "
          f"| alarms on background-only incidents |\n|---|---|---|---|")
    for name in ("minhash", "meaning"):
        got = [x for x in res["posts_out"][name] if x is not None]
        med = f"{sorted(got)[len(got) // 2]}" if got else "-"
        print(f"| {name} | {len(got)}/{res['streams']} | {med} | {res['false'][name]} |", flush=True)
    print("\n| open incidents | posts/s | memory (MiB) |\n|---|---|---|")
    for n in ((10_000,) if args.quick else (10_000, 100_000)):
        speed, mem = cost(n, settings, posts)
        print(f"| {n:,} | {speed:,.0f} | {mem:,.0f} |", flush=True)


if __name__ == "__main__":
    main()
