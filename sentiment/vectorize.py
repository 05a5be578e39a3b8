"""TF-IDF transforms for the shipped models without importing scikit-learn.

Training fits scikit-learn's `TfidfVectorizer`; scoring only needs its `transform` with a fixed vocabulary,
which is a dictionary lookup, a log and a row norm. Importing scikit-learn for that costs about a second of
CPU in every process that scores (it pulls in scipy.stats), which was a fifth of the analyzer's load time.
These classes reproduce `TfidfVectorizer(analyzer=..., sublinear_tf=True, norm="l2", dtype=float32)
.transform` with a given vocabulary and idf: the same tokens, counts, `1 + log(tf)`, idf product and l2
norm, in float32 (tests/sentiment/test_vectorize.py compares them with scikit-learn's).
"""
from __future__ import annotations

import re
from typing import Callable, Iterable, Sequence

import numpy as np

_WHITE_SPACES = re.compile(r"\s\s+")   # scikit-learn's char analyzer folds runs of white space to one space


def char_ngrams(text: str, lo: int, hi: int) -> list[str]:
    """scikit-learn's `analyzer="char"` with its default preprocessing (lowercase)."""
    text = _WHITE_SPACES.sub(" ", text.lower())
    n_chars = len(text)
    grams = list(text) if lo == 1 else []
    for n in range(max(lo, 2), min(hi + 1, n_chars + 1)):
        grams.extend(text[i:i + n] for i in range(n_chars - n + 1))
    return grams


class Tfidf:
    """The transform of a fitted TfidfVectorizer: `terms` in column order, their `idf`, and the analyzer that
    turns a text into tokens (a callable, or ("char", lo, hi))."""

    def __init__(self, terms: Sequence[str], idf, analyzer: Callable[[str], Iterable[str]] | tuple):
        self.index = dict(zip(terms, range(len(terms))))
        self.idf = np.asarray(idf, dtype=np.float32)
        self.analyzer: Callable[[str], Iterable[str]]
        if isinstance(analyzer, tuple):
            _, lo, hi = analyzer
            self.analyzer = lambda text: char_ngrams(text, lo, hi)
        else:
            self.analyzer = analyzer

    def transform(self, texts: Iterable[str]):
        from scipy.sparse import csr_matrix  # noqa: PLC0415

        index = self.index
        indptr: list[int] = [0]
        indices: list[int] = []
        counts: list[int] = []
        for text in texts:
            row: dict[int, int] = {}
            for token in self.analyzer(text):
                j = index.get(token)
                if j is not None:
                    row[j] = row.get(j, 0) + 1
            present = sorted(row)
            indices.extend(present)
            counts.extend(row[j] for j in present)
            indptr.append(len(indices))
        columns = np.asarray(indices, dtype=np.int32)
        data = np.asarray(counts, dtype=np.float32)
        np.log(data, out=data)
        data += 1.0
        data *= self.idf[columns]
        ptr = np.asarray(indptr, dtype=np.int64)
        lengths = np.diff(ptr)
        rows = np.repeat(np.arange(len(lengths)), lengths)
        norms = np.sqrt(np.bincount(rows, weights=data.astype(np.float64) ** 2, minlength=len(lengths)))
        data /= np.where(norms > 0, norms, 1.0)[rows].astype(np.float32)
        return csr_matrix((data, columns, ptr), shape=(len(lengths), len(self.idf)))
