"""The Chinese domain model: character 1–3-gram TF-IDF and logistic regression, stacked with the affect
word count and calibrated on held-out data (sentiment/train.py builds it, sentiment/models/ ships it).

The artifact holds plain arrays (terms, idf, weights) rather than pickled scikit-learn objects, so a
scikit-learn upgrade cannot break loading; the vectorizer is rebuilt from them at load time.
"""
from __future__ import annotations

import hashlib
import math
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Sequence

import numpy as np
from sentiment.artifacts import join_terms, load_joblib, split_terms

ARTIFACT = "zh_sentiment.joblib"
FORMAT = 2          # 2: terms stored as one string (sentiment/artifacts.join_terms); 1 still loads


def vectorizer(terms=None, idf=None, *, ngram_range=(1, 3), min_df=2):
    """The one vectorizer definition, for training (terms=None) and loading."""
    from sklearn.feature_extraction.text import TfidfVectorizer  # noqa: PLC0415 - heavy, scoring only

    vec = TfidfVectorizer(analyzer="char", ngram_range=tuple(ngram_range), min_df=min_df, sublinear_tf=True,
                          dtype=np.float32, vocabulary=terms)
    if idf is not None:
        vec.idf_ = np.asarray(idf, dtype=np.float32)
    return vec


@dataclass
class ZhModel:
    terms: list[str]
    idf: np.ndarray
    coef: np.ndarray
    intercept: float
    stack: dict            # {"model": w, "affect": w, "cues": w, "bias": b}: log-odds = Σ w·feature + b
    meta: dict             # how it was trained and how it measured (train.py writes it)
    ngram_range: tuple = (1, 3)
    _vectorizer: object = field(default=None, repr=False, compare=False)

    @property
    def version(self) -> str:
        return self.meta.get("version", "unversioned")

    def decision(self, texts: Sequence[str]) -> np.ndarray:
        """The linear model's log-odds of positive, before stacking."""
        if not texts:
            return np.zeros(0)
        X = self._vec().transform(list(texts))
        return X @ self.coef + self.intercept

    def log_odds(self, texts: Sequence[str], affect: Sequence[float], cues: Sequence[float]) -> np.ndarray:
        """Calibrated log-odds of positive: the linear model stacked with the feeling-word count and the
        number of complaint cues (sentiment/evidence.py)."""
        s = self.stack
        return (s["model"] * self.decision(texts) + s["affect"] * np.asarray(affect, dtype=float)
                + s["cues"] * np.asarray(cues, dtype=float) + s["bias"])

    def _vec(self):
        if self._vectorizer is None:   # scikit-learn's transform, without importing scikit-learn (load time)
            from sentiment.vectorize import Tfidf  # noqa: PLC0415

            self._vectorizer = Tfidf(self.terms, self.idf, ("char", *self.ngram_range))
        return self._vectorizer

    def save(self, path: Path) -> str:
        """Write the artifact; returns its version (a hash of what it computes, not of the file bytes)."""
        import joblib  # noqa: PLC0415

        digest = hashlib.sha256()
        digest.update("\n".join(self.terms).encode("utf-8"))
        for arr in (self.idf, self.coef):
            digest.update(np.ascontiguousarray(arr, dtype=np.float32).tobytes())
        digest.update(repr((round(self.intercept, 6), sorted((k, round(v, 6)) for k, v in self.stack.items()))).encode())
        self.meta["version"] = f"zh-charlr.{digest.hexdigest()[:8]}"
        joblib.dump({"format": FORMAT, "terms": join_terms(self.terms), "idf": self.idf.astype(np.float32),
                     "coef": self.coef.astype(np.float32), "intercept": float(self.intercept), "stack": self.stack,
                     "meta": self.meta, "ngram_range": list(self.ngram_range)}, path, compress=("xz", 3))
        return self.meta["version"]


def load(path: Path | None = None) -> ZhModel:
    data = load_joblib(ARTIFACT, (1, FORMAT), path)
    return ZhModel(split_terms(data["terms"]), data["idf"], data["coef"], data["intercept"], dict(data["stack"]),
                   dict(data["meta"]), tuple(data["ngram_range"]))


@lru_cache(maxsize=1)
def shipped() -> ZhModel:
    """The model in the package, loaded once per process."""
    return load()


def sigmoid(z: float) -> float:
    return 1.0 / (1.0 + math.exp(-max(-40.0, min(40.0, z))))
