"""Signals, categories and severity from the word lists (DOMAIN.md: scope, intensity, risk)."""
from __future__ import annotations

from dataclasses import dataclass, field

from sentiment.lexicon import CATEGORIES, Lexicon

SEVERITIES = ("none", "general", "important", "urgent")
URGENT_SIGNALS = ("safety", "media", "legal", "regulator")
IMPORTANT_SIGNALS = ("repeat", "long_wait", "warning", "head_office")


@dataclass
class Evidence:
    categories: list[str] = field(default_factory=list)
    signals: list[str] = field(default_factory=list)   # "kind:word"

    def kinds(self) -> set[str]:
        return {s.split(":", 1)[0] for s in self.signals}


def _negated(text: str, start: int, negations: tuple[str, ...]) -> bool:
    window = text[max(0, start - 2):start]
    return any(window.endswith(n) for n in negations)


def find_evidence(text: str, lexicon: Lexicon) -> Evidence:
    ev = Evidence()
    for cat in CATEGORIES:
        for word in lexicon.categories.get(cat, ()):
            pos = text.find(word)
            if pos >= 0 and not _negated(text, pos, lexicon.negations):
                ev.categories.append(cat)
                ev.signals.append(f"{cat}:{word}")
                break
    for kind, words in lexicon.signals.items():
        for word in words:
            pos = text.find(word)
            if pos >= 0 and not _negated(text, pos, lexicon.negations):
                ev.signals.append(f"{kind}:{word}")
                break
    return ev


def grade(*, complaint: bool, sentiment: float, evidence: Evidence, followers: int | None = None) -> str:
    kinds = evidence.kinds()
    if "safety" in kinds:
        return "urgent"        # safety is always urgent, complaint or not
    if not complaint:
        return "none"
    reach = followers or 0
    if kinds & set(URGENT_SIGNALS) or reach >= 1_000_000:
        return "urgent"
    if kinds & set(IMPORTANT_SIGNALS) or reach >= 10_000 or sentiment < 0.05:
        return "important"
    return "general"
