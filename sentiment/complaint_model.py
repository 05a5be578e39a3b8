"""The learned complaint, category and severity models (sentiment/train.py builds them, sentiment/models/ ships
them as `complaint.joblib`).

One representation serves every head, for Chinese and English alike:
- character 1–3-grams (TF-IDF, sublinear) of the casefolded text;
- word 1–2-grams: jieba (pinned) for runs of Chinese characters, letters and digits for the rest;
- a small dense block from the word lists (sentiment/evidence.py): which categories and signals fired,
  a company cue, the feeling-word count, and whether the text is English. The word lists are features
  and explanations here, no longer gates.

Heads, all linear on that representation:
- complaint: logistic regression, then a Platt calibration per language fitted on the validation split, so
  `complaint_score` is a probability;
- categories: one logistic regression per category of the taxonomy (multi-label);
- severity: ridge regression of the X-CI 0–4 scale over complaints (how grave the complaint reads).

The artifact holds plain arrays (terms, idf, weights as float16), never pickled scikit-learn objects, so a
scikit-learn upgrade cannot break loading.
"""
from __future__ import annotations

import hashlib
import logging
import re
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any, Sequence

import numpy as np

from sentiment.lexicon import SIGNAL_KINDS
from storage.vocabulary import CATEGORIES
from sentiment.artifacts import join_terms, load_joblib, split_terms

ARTIFACT = "complaint.joblib"
FORMAT = 2          # 2: terms stored as one string (sentiment/artifacts.join_terms); 1 still loads
DENSE = (*(f"cat:{c}" for c in CATEGORIES), *(f"sig:{s}" for s in SIGNAL_KINDS), "company", "affect", "english",
         "vader:compound", "vader:pos", "vader:neg")
_RUN = re.compile(r"[\u3400-\u9fff]+|[a-z0-9]+(?:'[a-z]+)?")


def _import_jieba():
    """`import jieba`, without the `import pkg_resources` in jieba/_compat.py: setuptools' pkg_resources costs
    about 0.9 s of CPU to import (a fifth of the analyzer's load time) and jieba only uses it to open its own
    data files, which its fallback opens by path. A `None` in sys.modules makes that import fail fast; it is
    removed again at once, so anything else that wants pkg_resources still gets it."""
    import sys  # noqa: PLC0415

    if "jieba" in sys.modules:
        return sys.modules["jieba"]
    block = "pkg_resources" not in sys.modules
    if block:
        sys.modules["pkg_resources"] = None   # type: ignore[assignment]
    try:
        import jieba  # noqa: PLC0415 - loaded on first use only
    finally:
        if block and sys.modules.get("pkg_resources", 0) is None:
            del sys.modules["pkg_resources"]
    return jieba


@lru_cache(maxsize=1)
def tokenizer():
    """jieba's tokenizer, its prefix dictionary cached in repwatch's cache directory (sentiment.snow_port's
    `cache_dir`, built by `make install`) rather than the system temporary directory, which services with a
    private /tmp lose at every start: building it costs as much again as loading it."""
    import os  # noqa: PLC0415

    from sentiment.snow_port import cache_dir  # noqa: PLC0415

    jieba = _import_jieba()

    jieba.setLogLevel(logging.WARNING)
    made = jieba.Tokenizer()
    folder = cache_dir()
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError:
        pass
    if os.access(folder, os.W_OK) or (folder / f"jieba-{jieba.__version__}.cache").is_file():
        made.tmp_dir, made.cache_file = str(folder), f"jieba-{jieba.__version__}.cache"
    made.initialize()
    return made


def words(text: str) -> list[str]:
    """Word 1- and 2-grams of casefolded text: jieba for Chinese runs, letters and digits otherwise."""
    toks: list[str] = []
    for m in _RUN.finditer(text):
        run = m.group()
        if "\u3400" <= run[0] <= "\u9fff":
            toks.extend(tokenizer().lcut(run, HMM=False) if len(run) > 1 else [run])
        else:
            toks.append(run)
    return toks + [f"{a} {b}" for a, b in zip(toks, toks[1:])]


def vectorizers(char_terms=None, char_idf=None, word_terms=None, word_idf=None, *, min_df=2,
                max_char=120_000, max_word=80_000):
    """The one definition of both vectorizers, for training (terms None) and for loading."""
    from sklearn.feature_extraction.text import TfidfVectorizer  # noqa: PLC0415

    char = TfidfVectorizer(analyzer="char", ngram_range=(1, 3), min_df=min_df, sublinear_tf=True, dtype=np.float32,
                           vocabulary=char_terms, max_features=None if char_terms is not None else max_char)
    word = TfidfVectorizer(analyzer=words, min_df=min_df, sublinear_tf=True, dtype=np.float32,
                           vocabulary=word_terms, max_features=None if word_terms is not None else max_word)
    if char_idf is not None:
        char.idf_ = np.asarray(char_idf, dtype=np.float32)
    if word_idf is not None:
        word.idf_ = np.asarray(word_idf, dtype=np.float32)
    return char, word


def dense_row(evidence, lang: str, text: str = "") -> list[float]:
    """The word-list features of a text, and for English VADER's scores (its lexicon was never fitted on our
    corpora, so it cannot leak the training labels into the stack)."""
    kinds = evidence.kinds()
    cats = set(evidence.categories)
    vader = [0.0, 0.0, 0.0]
    if lang == "en" and text:
        from sentiment.english import vader as _vader  # noqa: PLC0415

        v = _vader().polarity_scores(text)
        vader = [float(v["compound"]), float(v["pos"]), float(v["neg"])]
    return ([1.0 if c in cats else 0.0 for c in CATEGORIES] + [1.0 if s in kinds else 0.0 for s in SIGNAL_KINDS]
            + [1.0 if evidence.company else 0.0, max(-5, min(5, evidence.affect)) / 5.0, 1.0 if lang == "en" else 0.0]
            + vader)


@dataclass
class Scores:
    complaint: np.ndarray             # calibrated probability
    categories: np.ndarray            # (n, len(CATEGORIES)) probabilities
    severity: np.ndarray              # expected X-CI severity of the text as a complaint, 0..4


@dataclass
class ComplaintModel:
    char_terms: list[str]
    char_idf: np.ndarray
    word_terms: list[str]
    word_idf: np.ndarray
    weights: np.ndarray               # (features, heads): complaint, each category, severity
    bias: np.ndarray                  # (heads,)
    calibration: dict                 # {"zh": [a, b], "en": [a, b]}: p = sigmoid(a·z + b)
    thresholds: dict                  # {"category": t}: chosen on validation
    meta: dict
    _vecs: tuple[Any, Any] | None = field(default=None, repr=False, compare=False)   # (char, word) vectorizers

    HEADS = ("complaint", *CATEGORIES, "severity")

    @property
    def version(self) -> str:
        return self.meta.get("version", "unversioned")

    def features(self, texts: Sequence[str], dense: np.ndarray | Sequence[Sequence[float]]):
        from scipy.sparse import csr_matrix, hstack  # noqa: PLC0415

        if self._vecs is None:   # scikit-learn's transform, without importing scikit-learn (load time)
            from sentiment.vectorize import Tfidf  # noqa: PLC0415

            self._vecs = (Tfidf(self.char_terms, self.char_idf, ("char", 1, 3)),
                          Tfidf(self.word_terms, self.word_idf, words))
        char, word = self._vecs
        folded = [t.casefold() for t in texts]
        return hstack([char.transform(folded), word.transform(folded), csr_matrix(np.asarray(dense, dtype=np.float32))],
                      format="csr")

    def score(self, texts: Sequence[str], dense: np.ndarray | Sequence[Sequence[float]], langs: Sequence[str]) -> Scores:
        n = len(texts)
        if not n:
            return Scores(np.zeros(0), np.zeros((0, len(CATEGORIES))), np.zeros(0))
        raw = np.asarray(self.features(texts, dense) @ self.weights.astype(np.float32)) + self.bias
        z = raw[:, 0]
        cal = np.array([self.calibration.get(lang if lang in self.calibration else "zh") for lang in langs])
        complaint = sigmoid(cal[:, 0] * z + cal[:, 1])
        cats = sigmoid(raw[:, 1:1 + len(CATEGORIES)])
        severity = np.clip(raw[:, -1], 0.0, 4.0)
        return Scores(complaint, cats, severity)

    def save(self, path: Path) -> str:
        import joblib  # noqa: PLC0415

        weights = self.weights.astype(np.float16)
        digest = hashlib.sha256()
        digest.update("\n".join(self.char_terms + ["\x00"] + self.word_terms).encode("utf-8"))
        for arr in (self.char_idf.astype(np.float32), self.word_idf.astype(np.float32), weights,
                    self.bias.astype(np.float32)):
            digest.update(np.ascontiguousarray(arr).tobytes())
        digest.update(repr(sorted((k, [round(x, 6) for x in v]) for k, v in self.calibration.items())).encode())
        digest.update(repr(sorted((k, round(v, 6)) for k, v in self.thresholds.items())).encode())
        self.meta["version"] = f"cmp-ngram.{digest.hexdigest()[:8]}"
        joblib.dump({"format": FORMAT, "char_terms": join_terms(self.char_terms),
                     "char_idf": self.char_idf.astype(np.float32), "word_terms": join_terms(self.word_terms),
                     "word_idf": self.word_idf.astype(np.float32), "weights": weights,
                     "bias": self.bias.astype(np.float32), "calibration": self.calibration,
                     "thresholds": self.thresholds, "meta": self.meta}, path, compress=("xz", 6))
        return self.meta["version"]


def load(path: Path | None = None) -> ComplaintModel:
    data = load_joblib(ARTIFACT, (1, FORMAT), path)
    return ComplaintModel(split_terms(data["char_terms"]), data["char_idf"], split_terms(data["word_terms"]),
                          data["word_idf"], data["weights"], data["bias"], dict(data["calibration"]),
                          dict(data["thresholds"]), dict(data["meta"]))


@lru_cache(maxsize=1)
def shipped() -> ComplaintModel:
    return load()


def sigmoid(z):
    """Vectorised, clipped so large log-odds never overflow (the encoder tier's heads use it too)."""
    return 1.0 / (1.0 + np.exp(-np.clip(z, -40, 40)))


if __name__ == "__main__":   # `python -m sentiment.complaint_model` (make install): build jieba's cache now
    print(" ".join(words("预热一下模型")), "- jieba's cache is in", __import__("sentiment.snow_port").snow_port.cache_dir())
