"""The analyzer: text in, a scored and graded Result out. Safe on empty and garbage text."""
from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Sequence

from sentiment.grading import find_evidence, grade
from sentiment.langdetect import detect_lang
from sentiment.lexicon import load_lexicon
from sentiment.settings import AnalysisSettings
from sentiment.snow import snownlp_score

MODEL_VERSION = "snownlp-0.12.3+lexicon-1"
MAX_CHARS = 5000  # scoring cost grows with length; the opening of a post carries its complaint


@dataclass
class TextIn:
    text: str
    title: str | None = None
    rating: float | None = None
    lang: str | None = None
    followers: int | None = None
    id: object = None


@dataclass
class Result:
    lang: str
    sentiment: float
    snownlp: float | None
    negative: bool
    complaint: bool
    categories: list[str] = field(default_factory=list)
    severity: str = "none"
    signals: list[str] = field(default_factory=list)
    targets: list[str] = field(default_factory=list)
    model_version: str = MODEL_VERSION

    def contract(self, id=None) -> dict:
        """The `repwatch analyze` output row. Tooling outside the package depends on these keys."""
        return {"id": id, "lang": self.lang, "sentiment": round(self.sentiment, 4), "negative": self.negative,
                "complaint": self.complaint, "categories": self.categories, "severity": self.severity,
                "signals": self.signals}

    def as_dict(self) -> dict:
        return asdict(self)


class Analyzer:
    def __init__(self, settings: AnalysisSettings | None = None, targets: dict[str, list[str]] | None = None):
        self.settings = settings or AnalysisSettings()
        self.lexicon = load_lexicon(self.settings.lexicon)
        self.targets = {name: [name, *aliases] for name, aliases in (targets or {}).items()}

    def score(self, batch: Sequence[TextIn]) -> list[Result]:
        return [self.score_one(item) for item in batch]

    def score_one(self, item: TextIn) -> Result:
        text = " ".join(p for p in (item.title, item.text) if p)[:MAX_CHARS]
        lang = item.lang or detect_lang(text)
        snow = snownlp_score(text) if lang == "zh" else None
        sentiment = snow if snow is not None else 0.5
        if item.rating is not None:
            # A star rating is the author's own verdict; let it pull the text score (1..5 stars).
            sentiment = 0.5 * sentiment + 0.5 * max(0.0, min(1.0, (item.rating - 1) / 4))
        negative = sentiment < self.settings.negative_threshold
        evidence = find_evidence(text, self.lexicon)
        escalation = evidence.kinds() & {"media", "legal", "regulator", "warning", "head_office", "safety"}
        complaint = negative and bool(evidence.categories or escalation)
        return Result(
            lang=lang, sentiment=sentiment, snownlp=snow, negative=negative, complaint=complaint,
            categories=evidence.categories if complaint else [],
            severity=grade(complaint=complaint, sentiment=sentiment, evidence=evidence, followers=item.followers),
            signals=evidence.signals, targets=self._targets(text),
        )

    def _targets(self, text: str) -> list[str]:
        folded = text.casefold()
        return [name for name, names in self.targets.items() if any(n.casefold() in folded for n in names)]
