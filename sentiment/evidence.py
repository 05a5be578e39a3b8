"""What the word lists find in a text: complaint categories, escalation signals, whether the text is about a
company at all, and the feeling words and emoticons that move its score."""
from __future__ import annotations

from dataclasses import dataclass, field

from sentiment.lexicon import CATEGORIES, NOT_NEGATED, Lexicon
from sentiment.matcher import find, first

AFFECT_CAP = 5       # a post that lists twenty feeling words is not twenty times as sure
EMOTICON_CAP = 3


@dataclass
class Evidence:
    categories: list[str] = field(default_factory=list)
    signals: list[str] = field(default_factory=list)   # "kind:matched text", categories first
    company: str | None = None                         # what ties the text to a company, if anything
    affect: int = 0                                    # positive minus negative feeling words
    emoticons: int = 0                                 # positive minus negative emoticons and emoji
    # The report or advice cue of a text that has no word of the writer's own experience ("律师提醒", "last
    # year"), else None. Not a signal: the complaint model's features count signal kinds, and this is none.
    reported: str | None = None

    def kinds(self) -> set[str]:
        return {s.split(":", 1)[0] for s in self.signals}

    @property
    def cues(self) -> int:
        """How many kinds of complaint evidence fired: a scoring feature, since sarcasm ("真快啊，三个小时才
        送到") and calm complaints hide from the sentiment model but not from the word lists."""
        return len(self.kinds())


def affect_score(text: str, lexicon: Lexicon) -> int:
    """Feeling words, each +1 or -1, flipped after a negation ("不开心" is -1), capped."""
    score = 0
    for polarity, sign in (("positive", 1), ("negative", -1)):
        pattern = lexicon.affect_patterns.get(polarity)
        if pattern is None:
            continue
        for m in pattern.finditer(text):
            score += -sign if lexicon.negation.before(text, m.start()) else sign
    return max(-AFFECT_CAP, min(AFFECT_CAP, score))


def emoticon_score(names: list[str], text: str, lexicon: Lexicon) -> int:
    polarity = lexicon.emoticon_polarity
    score = sum(polarity.get(n, 0) for n in names)
    score += sum(polarity.get(ch, 0) for ch in text if ord(ch) > 0x2000 and ch in polarity)
    return max(-EMOTICON_CAP, min(EMOTICON_CAP, score))


def find_evidence(text: str, lexicon: Lexicon, *, emoticons: list[str] | None = None,
                  targets: dict[str, list[str]] | None = None, rated: bool = False) -> Evidence:
    """`text` is normalised (sentiment.normalize); matching is on its casefolded form."""
    folded = text.casefold()
    ev = Evidence()
    neg = lexicon.negation
    for cat in CATEGORIES:
        hit = first(lexicon.category_patterns.get(cat), folded, None if cat in NOT_NEGATED else neg)
        if hit:
            ev.categories.append(cat)
            ev.signals.append(f"{cat}:{hit}")
    for kind, pattern in lexicon.signal_patterns.items():
        hit = first(pattern, folded, None if kind in NOT_NEGATED else neg)
        if hit:
            ev.signals.append(f"{kind}:{hit}")
    ev.company = _company(folded, lexicon, targets or {}, rated)
    ev.reported = _reported(folded, lexicon)
    ev.affect = affect_score(folded, lexicon)
    ev.emoticons = emoticon_score(emoticons or [], text, lexicon)
    return ev


def _reported(folded: str, lexicon: Lexicon) -> str | None:
    voice = lexicon.voice_patterns
    cue = first(voice.get("report"), folded, None)
    return cue if cue and not first(voice.get("first_person"), folded, None) else None


def _company(folded: str, lexicon: Lexicon, targets: dict[str, list[str]], rated: bool) -> str | None:
    for name, names in targets.items():
        if any(n.casefold() in folded for n in names if n):
            return f"target:{name}"
    hit = next(find(lexicon.company_pattern, folded), None)
    if hit is not None:
        return f"company:{hit.group()}"
    return "rating" if rated else None   # a star rating is only ever given to a product or service
