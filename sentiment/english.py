"""English scoring: VADER (its lexicon ships inside the vaderSentiment package) with a logistic calibration
fitted on the shared Amazon review sentences by the training command (sentiment/models/en_vader.json).

VADER's compound score is a good ranking but a poor probability: on product reviews a compound of 0.3 is
already clearly positive. The calibration maps VADER's (compound, pos, neg) and the complaint-cue count to a
probability. It has no intercept on purpose: a text with no sentiment words and no cues scores 0.5, neutral.
(In the review sentences it was fitted on, such texts lean negative; in posts at large they do not.)"""
from __future__ import annotations

import hashlib
import json
import math
from functools import lru_cache
from importlib import resources
from pathlib import Path
from sentiment.exceptions import ModelError

ARTIFACT = "en_vader.json"
FEATURES = ("compound", "pos", "neg", "cues")


@lru_cache(maxsize=1)
def vader():
    from vaderSentiment.vaderSentiment import SentimentIntensityAnalyzer  # noqa: PLC0415 - scoring only

    return SentimentIntensityAnalyzer()


def features(text: str, cues: int) -> list[float]:
    """VADER's scores plus the number of complaint cues the word lists found (sentiment/evidence.py)."""
    scores = vader().polarity_scores(text)
    return [float(scores["compound"]), float(scores["pos"]), float(scores["neg"]), float(cues)]


class EnglishModel:
    def __init__(self, coef: list[float], intercept: float, meta: dict):
        self.coef, self.intercept, self.meta = list(coef), float(intercept), dict(meta)

    @property
    def version(self) -> str:
        return self.meta.get("version", "unversioned")

    def log_odds(self, text: str, cues: int) -> float:
        return sum(w * x for w, x in zip(self.coef, features(text, cues))) + self.intercept

    def save(self, path: Path) -> str:
        body = {"features": list(FEATURES), "coef": [round(w, 6) for w in self.coef],
                "intercept": round(self.intercept, 6)}
        self.meta["version"] = "en-vader." + hashlib.sha256(json.dumps(body, sort_keys=True).encode()).hexdigest()[:8]
        Path(path).write_text(json.dumps({**body, "meta": self.meta}, ensure_ascii=False, indent=1, sort_keys=True)
                              + "\n", encoding="utf-8")
        return self.meta["version"]


def load(path: Path | None = None) -> EnglishModel:
    if path is None:
        text = resources.files("sentiment").joinpath(f"models/{ARTIFACT}").read_text(encoding="utf-8")
    else:
        text = Path(path).read_text(encoding="utf-8")
    data = json.loads(text)
    if tuple(data.get("features", ())) != FEATURES:
        raise ModelError(f"{path or ARTIFACT}: features {data.get('features')}, expected {list(FEATURES)}; "
                         f"rebuild it with `repwatch train`")
    return EnglishModel(data["coef"], data["intercept"], data.get("meta", {}))


@lru_cache(maxsize=1)
def shipped() -> EnglishModel:
    return load()


def sigmoid(z: float) -> float:
    return 1.0 / (1.0 + math.exp(-max(-40.0, min(40.0, z))))
