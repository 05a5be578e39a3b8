"""The encoder tier: linear heads on the multilingual-e5 vector (sentiment/encoder.py), stacked with the n-gram
heads of sentiment/complaint_model.py.

Heads, all on the 384-number L2-normalised vector:
- complaint: logistic regression;
- categories: one logistic regression per category of the taxonomy (multi-label);
- severity: ridge regression of X-CI's 0–4 scale over complaints;
- negativity: logistic regression of "negative" (the polarity labels of the corpora).

Stacks, fitted on the validation split (the n-gram models are never refitted here): for complaint, per
language, a logistic regression over (n-gram log-odds, encoder log-odds); for negativity the same over
(the analyzer's sentiment log-odds, encoder log-odds); for categories, per language, a weighted average of the
log-odds and a threshold; for severity a weighted average; the weights chosen on validation. Where the encoder did not run, the n-gram figures stand unchanged.

Encoding is about 29 texts per CPU-second, so the heads are trained on a capped, stratified, deterministic
sample of each corpus (`select`), not on every text; the vectors are cached (encoder.embed_cached).
The artifact holds plain arrays (float32), like complaint.joblib's format 2.
"""
from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Sequence

import numpy as np

from sentiment.complaint_model import sigmoid
from storage.vocabulary import CATEGORIES

ARTIFACT = "encoder_heads.joblib"
FORMAT = 1
# texts per corpus and split that the encoder heads train, calibrate and are measured on
CAPS = {"train": 800, "validation": 250, "test": 400}
HEADS = ("complaint", *CATEGORIES, "severity", "negative")


def _rank(text: str) -> bytes:
    return hashlib.blake2b(text.encode("utf-8"), digest_size=8, person=b"rw-enc-cap").digest()


def select(items: Sequence, caps: dict[str, int] | None = None) -> list[int]:
    """Indices of a capped sample of `items` (complaint_data.Labelled): per (corpus, split) at most
    caps[split] texts, stratified by (complaint, negative) in proportion, each stratum in the order of a hash of
    its text. Deterministic, and a text keeps its place when a corpus grows. Extra examples (a team's
    corrections) are always kept."""
    caps = caps or CAPS
    groups: dict[tuple[str, str], list[int]] = {}
    keep: list[int] = []
    for i, it in enumerate(items):
        if it.corpus == "extra":
            keep.append(i)
        else:
            groups.setdefault((it.corpus, it.split), []).append(i)
    for (corpus, split), idx in sorted(groups.items()):
        cap = caps.get(split, 0)
        if len(idx) <= cap:
            keep += idx
            continue
        strata: dict[tuple, list[int]] = {}
        for i in idx:
            strata.setdefault((items[i].complaint, items[i].negative), []).append(i)
        # largest remainder: stratum sizes in proportion, summing to cap
        quota = {k: cap * len(v) / len(idx) for k, v in strata.items()}
        take = {k: int(q) for k, q in quota.items()}
        for k in sorted(strata, key=lambda k: (-(quota[k] - take[k]), repr(k)))[:cap - sum(take.values())]:
            take[k] += 1
        for k, v in strata.items():
            keep += sorted(v, key=lambda i: _rank(items[i].text))[:take[k]]
    return sorted(keep)


@dataclass
class EncoderHeads:
    weights: np.ndarray               # (DIM, len(HEADS))
    bias: np.ndarray                  # (len(HEADS),)
    stack: dict                       # see module docstring
    meta: dict = field(default_factory=dict)

    @property
    def version(self) -> str:
        return self.meta.get("version", "unversioned")

    def raw(self, vecs: np.ndarray) -> np.ndarray:
        return np.asarray(vecs, dtype=np.float32) @ self.weights + self.bias

    def in_band(self, ngram_p: float, lang: str) -> bool:
        """Is the n-gram model unsure enough of this text for the encoder to read it (the cascade)?"""
        lo, hi = self.stack["band"].get(lang, self.stack["band"]["zh"])
        return lo <= ngram_p <= hi

    def combine(self, vecs: np.ndarray, langs: Sequence[str], ngram_p, ngram_cats, ngram_sev, sent_z) -> "Combined":
        """The stacked decisions for texts the encoder read (all arrays row-aligned with `vecs`)."""
        raw = self.raw(vecs)
        n = len(langs)
        cp = np.zeros(n)
        sz = np.zeros(n)
        zn = logit(ngram_p)
        for k, lang in enumerate(langs):
            a, c, d = self.stack["complaint"].get(lang, self.stack["complaint"]["zh"])
            cp[k] = sigmoid(a * zn[k] + c * raw[k, 0] + d)
            a, c, d = self.stack["sentiment"].get(lang, self.stack["sentiment"]["zh"])
            sz[k] = a * float(sent_z[k]) - c * raw[k, -1] + d
        wc = np.array([[self.category_stack(lang)["weight"]] for lang in langs]).reshape(n, 1)
        cats = sigmoid((1 - wc) * logit(ngram_cats).reshape(n, -1) + wc * raw[:, 1:1 + len(CATEGORIES)])
        thresholds = np.array([float(self.category_stack(lang)["threshold"]) for lang in langs])
        ws = self.stack["severity"]["weight"]
        sev = np.clip((1 - ws) * np.asarray(ngram_sev, dtype=float) + ws * raw[:, 1 + len(CATEGORIES)], 0.0, 4.0)
        return Combined(cp, cats, sev, sz, thresholds)

    def category_stack(self, lang: str) -> dict:
        """{"weight": the encoder's share of the category log-odds, "threshold": ...} for a language (chosen per
        language on validation; heads of format 1 before that had one pair for every language)."""
        stack = self.stack["category"]
        if "weight" in stack:
            return stack
        return stack.get(lang, stack["zh"])

    def decides_categories(self, lang: str) -> bool:
        """Does the encoder have a share in this language's categories? Then `encoder: auto` reads every
        complaint of the language, so that its categories are decided with the encoder's help."""
        return float(self.category_stack(lang)["weight"]) > 0


    def save(self, path: Path) -> str:
        import joblib  # noqa: PLC0415

        from sentiment import encoder  # noqa: PLC0415

        digest = hashlib.sha256(encoder.version().encode())
        for arr in (self.weights.astype(np.float32), self.bias.astype(np.float32)):
            digest.update(np.ascontiguousarray(arr).tobytes())
        digest.update(repr(_rounded(self.stack)).encode())
        self.meta["version"] = f"enc-heads.{digest.hexdigest()[:8]}"
        self.meta["encoder"] = encoder.version()
        joblib.dump({"format": FORMAT, "weights": self.weights.astype(np.float32),
                     "bias": self.bias.astype(np.float32), "stack": self.stack, "meta": self.meta},
                    path, compress=("xz", 6))
        return self.meta["version"]


def _rounded(obj):
    if isinstance(obj, dict):
        return sorted((k, _rounded(v)) for k, v in obj.items())
    if isinstance(obj, (list, tuple)):
        return [_rounded(v) for v in obj]
    if isinstance(obj, float):
        return round(obj, 6)
    return obj


def load(path: Path | None = None) -> EncoderHeads:
    from sentiment.artifacts import load_joblib  # noqa: PLC0415

    data = load_joblib(ARTIFACT, FORMAT, path)
    return EncoderHeads(np.asarray(data["weights"], dtype=np.float32), np.asarray(data["bias"], dtype=np.float32),
                        dict(data["stack"]), dict(data["meta"]))


@lru_cache(maxsize=1)
def shipped() -> EncoderHeads:
    return load()


@dataclass
class Combined:
    complaint: np.ndarray       # calibrated P(complaint)
    categories: np.ndarray      # (n, len(CATEGORIES))
    severity: np.ndarray        # X-CI 0..4
    sentiment_z: np.ndarray     # log-odds of "positive"
    category_threshold: np.ndarray   # (n,): per text, its language's threshold


def logit(p):
    p = np.clip(np.asarray(p, dtype=float), 1e-6, 1 - 1e-6)
    return np.log(p / (1 - p))
