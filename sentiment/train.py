"""Build the shipped models from the shared corpora, reproducibly: `python -m sentiment.train` or `repwatch train`.

- Chinese (sentiment/models/zh_sentiment.joblib): character 1–3-gram TF-IDF + logistic regression on the train
  split of waimai_10k, online_shopping_9_cats and weibo_senti_2k (emoticons stripped), the regularisation and
  the weight of the social posts chosen on the validation split; then a logistic stack (model log-odds,
  feeling-word count, complaint-cue count) fitted on the validation split, which is also the probability
  calibration. The test split is never touched.
- Complaint, categories and severity (sentiment/models/complaint.joblib): sentiment/complaint_train.py on
  every labelled set in ../shared/data (sentiment/complaint_data.py), plus any extra weighted examples
  (`build(..., extra=[...])`, e.g. a team's corrections; see complaint_train.Extra).
- English (sentiment/models/en_vader.json): logistic calibration of VADER's (compound, pos, neg) and the complaint-cue count on the train
  split of amazon_cells_labelled.

Everything is deterministic: fixed hash splits, fixed MinHash seed, lbfgs (no random state involved).
Takes two to three minutes on one core.
"""
from __future__ import annotations

import argparse
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import numpy as np

from sentiment import (complaint_data, complaint_model, complaint_train, corpora, encoder_heads, encoder_train,
                       english, zh_model)
from sentiment.evidence import find_evidence
from sentiment.lexicon import load_lexicon
from sentiment.normalize import normalize
from sentiment.exceptions import ModelError

# C=4 beat C=1 by 0.002-0.008 validation AUC on every corpus whenever both were tried; with SMP2020's 31,000 posts
# in training each fit costs minutes, so only C=4 is fitted now.
C_GRID = (4.0,)
# Social posts (weibo_senti_2k, SMP2020 "usual") are the platform repwatch mostly watches; their weight is chosen
# on the validation split (mean AUC over the corpora, each counting the same).
SOCIAL_WEIGHTS = (1.0, 3.0, 10.0)
MODELS_DIR = Path(__file__).resolve().parent / "models"


@dataclass
class Prepared:
    texts: list[str]
    affect: np.ndarray
    cues: np.ndarray
    labels: np.ndarray
    corpus: list[str]
    weights: np.ndarray


def prepare(examples: list[corpora.Example]) -> Prepared:
    """Normalised texts with the same word-list features the analyzer computes (built-in lists only)."""
    lexicon = load_lexicon()
    texts = [normalize(e.text).text for e in examples]
    evidence = [find_evidence(t, lexicon) for t in texts]
    return Prepared(texts, np.array([ev.affect for ev in evidence], dtype=float),
                    np.array([ev.cues for ev in evidence], dtype=float),
                    np.array([e.label for e in examples]), [e.corpus for e in examples],
                    np.array([e.weight for e in examples], dtype=float))


def _auc_by_corpus(labels, scores, corpus) -> dict[str, float]:
    from sklearn.metrics import roc_auc_score  # noqa: PLC0415

    out = {}
    for name in sorted(set(corpus)):
        mask = np.array([c == name for c in corpus])
        if len(set(labels[mask])) == 2:
            out[name] = round(float(roc_auc_score(labels[mask], scores[mask])), 4)
    return out


def train_zh(examples: list[corpora.Example], *, c_grid=C_GRID, social_weights=SOCIAL_WEIGHTS,
             log: Callable[[str], None] = print) -> zh_model.ZhModel:
    from sklearn.linear_model import LogisticRegression  # noqa: PLC0415

    train = prepare([e for e in examples if e.split == "train"])
    valid = prepare([e for e in examples if e.split == "validation"])
    if len(set(train.labels)) < 2 or len(set(valid.labels)) < 2:
        raise ModelError("training needs both labels in the train and validation splits")
    vec = zh_model.vectorizer(min_df=2 if len(train.texts) > 1000 else 1)
    X_train = vec.fit_transform(train.texts)
    X_valid = vec.transform(valid.texts)
    social = np.array([c in corpora.SOCIAL_CORPORA for c in train.corpus])
    weights = social_weights if social.any() else (1.0,)
    best = None
    for c in c_grid:
        for w in weights:
            clf = LogisticRegression(C=c, max_iter=3000, random_state=0).fit(
                X_train, train.labels, sample_weight=np.where(social, w, 1.0) * train.weights)
            aucs = _auc_by_corpus(valid.labels, clf.decision_function(X_valid), valid.corpus)
            score = float(np.mean(list(aucs.values())))   # each corpus counts the same, however big
            log(f"  C={c:g}, social weight {w:g}: validation AUC {aucs} (mean {score:.4f})")
            if best is None or score > best[0]:
                best = (score, c, w, clf, aucs)
    assert best is not None   # the grids are not empty
    _, c, w, clf, aucs = best
    decision = clf.decision_function(X_valid)
    stacker = LogisticRegression(C=1.0, random_state=0).fit(np.c_[decision, valid.affect, valid.cues], valid.labels)
    terms = [t for t, _ in sorted(vec.vocabulary_.items(), key=lambda kv: kv[1])]
    meta = {"features": f"char {vec.ngram_range[0]}-{vec.ngram_range[1]}-grams, tf-idf (sublinear), min_df {vec.min_df}",
            "C": c, "social_weight": w, "vocabulary": len(terms), "trained_on": sorted({e.corpus for e in examples}),
            "train_texts": len(train.texts), "validation_texts": len(valid.texts), "validation_auc": aucs}
    return zh_model.ZhModel(terms, vec.idf_.astype(np.float32), clf.coef_.ravel().astype(np.float32),
                            float(clf.intercept_[0]),
                            {"model": float(stacker.coef_[0][0]), "affect": float(stacker.coef_[0][1]),
                             "cues": float(stacker.coef_[0][2]), "bias": float(stacker.intercept_[0])},
                            meta, tuple(vec.ngram_range))


def train_en(examples: list[corpora.Example], log: Callable[[str], None] = print) -> english.EnglishModel:
    from sklearn.linear_model import LogisticRegression  # noqa: PLC0415
    from sklearn.metrics import roc_auc_score  # noqa: PLC0415

    lexicon = load_lexicon()
    train = [e for e in examples if e.split == "train"]
    valid = [e for e in examples if e.split == "validation"]

    def rows(items):
        texts = [normalize(e.text).text for e in items]
        return np.array([english.features(t, find_evidence(t, lexicon).cues) for t in texts])

    # No intercept: a text without sentiment words or cues stays neutral (see sentiment/english.py).
    clf = LogisticRegression(C=1.0, fit_intercept=False, random_state=0).fit(
        rows(train), [e.label for e in train], sample_weight=[e.weight for e in train])
    meta = {"features": list(english.FEATURES), "train_texts": len(train)}
    if valid and len({e.label for e in valid}) == 2:
        p = clf.decision_function(rows(valid))
        meta["validation_auc"] = round(float(roc_auc_score([e.label for e in valid], p)), 4)
        log(f"  English validation AUC {meta['validation_auc']}")
    return english.EnglishModel(clf.coef_.ravel().tolist(), 0.0, meta)


CORRECTIONS = "corrections"


def correction_examples(extra_examples) -> tuple[list[corpora.Example], list[corpora.Example]]:
    """(Chinese, English) polarity examples from labelled extras (complaint_train.Extra, a dict, or a tuple
    `(text, complaint, categories, severity, weight)`) such as storage.corrections.labelled_examples() gives: a complaint is a negative text, so
    complaints join the train split as negatives with their weight. A non-complaint says nothing about
    polarity (sad news is negative and no complaint), so the polarity models leave those out; the
    complaint, category and severity models are the ones to learn from every field."""
    from sentiment.langdetect import detect_lang  # noqa: PLC0415

    zh: list[corpora.Example] = []
    en: list[corpora.Example] = []
    for raw in extra_examples or ():
        e = raw if isinstance(raw, complaint_train.Extra) else (
            complaint_train.Extra(**raw) if isinstance(raw, dict) else complaint_train.Extra(*raw))
        text, complaint, weight = e.text, e.complaint, e.weight
        if not complaint or not text or weight <= 0:
            continue
        example = corpora.Example(text, 0, CORRECTIONS, "train", float(weight))
        lang = detect_lang(text)
        (zh if lang == "zh" else en if lang == "en" else []).append(example)
    return zh, en


def complaint_items(data_dir: Path, *, zh_examples=None, sample: int | None = None, extra=None,
                    log: Callable[[str], None] = print) -> complaint_train.Prepared:
    """The labelled texts of the complaint models (../shared/data, the parent of `data_dir`, and `extra`),
    normalised, with their word-list features and weak category labels."""
    items = complaint_data.load_all(complaint_data.shared_root(data_dir), near_dups=sample is None, sample=sample,
                                    zh_examples=zh_examples, sentiment_dir=data_dir)
    items += complaint_train.as_labelled(extra)
    log(f"  {len(items)} labelled texts for the complaint model ({sum(it.corpus == 'extra' for it in items)} extra)")
    prep = complaint_train.prepare(items)
    complaint_data.weak_categories(items, prep.found)
    return prep


def train_complaints(data_dir: Path, *, zh_examples=None, sample: int | None = None, extra=None,
                     log: Callable[[str], None] = print) -> complaint_model.ComplaintModel:
    """The complaint / category / severity model from ../shared/data (the parent of `data_dir`) and `extra`."""
    prep = complaint_items(data_dir, zh_examples=zh_examples, sample=sample, extra=extra, log=log)
    return complaint_train.fit(prep, log=log)


def build(data_dir: Path, out_dir: Path, *, zh_corpora=corpora.ZH_CORPORA, sample: int | None = None,
          c_grid=C_GRID, extra=None, log: Callable[[str], None] = print,
          encoder_cache: str | None = encoder_train.CACHE_NAME) -> dict[str, str]:
    """Train every model and write them to out_dir. `sample` keeps every n-th example (quick test runs).

    `extra`: more labelled examples for the complaint model, e.g. a team's corrections: an iterable of
    complaint_train.Extra, of dicts with its fields, or of tuples (text, complaint, categories, severity,
    weight), for example `("送餐速度太慢", 1, ["delivery"], "general", 5.0)`. Severity is 0–4 or a level
    name; weight counts against one corpus example. `encoder_cache`: the name of the vector cache for the
    encoder tier (encoder.embed_cached; None encodes every text again)."""
    started = time.monotonic()
    out_dir.mkdir(parents=True, exist_ok=True)
    log(f"reading and deduplicating {', '.join(zh_corpora)} from {data_dir} ...")
    everything = corpora.load_zh(data_dir, corpora.ZH_CORPORA, near_dups=sample is None)
    zh = [e for e in everything if e.corpus in zh_corpora]
    en = corpora.load_en(data_dir)
    if sample:
        zh, en = zh[::sample], en[::max(1, sample // 10)]
    extra = list(extra or ())
    extra_zh, extra_en = correction_examples(extra)
    if extra:
        log(f"  + {len(extra_zh)} Chinese and {len(extra_en)} English complaints from {len(extra)} "
            "extra examples, as weighted negatives for the polarity models")
    zh, en = zh + extra_zh, en + extra_en
    log(f"  {len(zh)} Chinese texts, {len(en)} English; training the Chinese model ...")
    zh_trained = train_zh(zh, c_grid=c_grid, log=log)
    zh_version = zh_trained.save(out_dir / zh_model.ARTIFACT)
    en_trained = train_en(en, log=log)
    en_version = en_trained.save(out_dir / english.ARTIFACT)
    log("training the complaint, category and severity model ...")
    prep = complaint_items(data_dir, zh_examples=everything, sample=sample, extra=extra, log=log)
    cx = complaint_train.fit(prep, log=log)
    cx_version = cx.save(out_dir / complaint_model.ARTIFACT)
    log("training the encoder tier (heads on the e5 vector, stacks, the cascade's band) ...")
    enc_version = encoder_train.train(prep.items, prep, cx, zh_trained, en_trained, log=log, cache=encoder_cache).save(
        out_dir / encoder_heads.ARTIFACT)
    log(f"wrote {zh_version}, {en_version}, {cx_version} and {enc_version} to {out_dir} in "
        f"{time.monotonic() - started:.0f}s")
    return {"zh": zh_version, "en": en_version, "complaint": cx_version, "encoder": enc_version}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m sentiment.train", description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", type=Path, default=None, help="the shared sentiment corpora (default ../shared/data/sentiment)")
    parser.add_argument("--out", type=Path, default=MODELS_DIR, help="where to write the artifacts (default: the package)")
    parser.add_argument("--sample", type=int, default=None, help="keep every n-th text: a quick run, not for shipping")
    args = parser.parse_args(argv)
    data = args.data or corpora.default_data_dir()
    if not data.is_dir():
        print(f"error: {data} is not a directory; pass --data DIR with the shared sentiment corpora", file=sys.stderr)
        return 2
    build(data, args.out, sample=args.sample)
    return 0


if __name__ == "__main__":
    sys.exit(main())
