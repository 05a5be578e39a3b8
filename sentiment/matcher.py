"""Phrase matching for the word lists: plain words, `re:` regular expressions, and negation.

Word-list entries are plain text ("坏了", "refund") or, with a `re:` prefix, a regular expression for what a
word list cannot say ("re:第[二三四五六七八九十几]次" is a repeat; "又快又好" must not be). ASCII words match
on word boundaries, so "late" does not fire inside "chocolate". Matching is case-insensitive.

A match right after a negation is not a cue: "没问题" is no problem, "not broken" is not broken.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Iterable, Iterator

_ASCII_WORD = re.compile(r"^[\w' .-]+$", re.ASCII)
# Degree and auxiliary words that may sit between a Chinese negation and what it negates: 不太好, 没怎么用.
_ZH_FILLERS = "(?:太|很|怎么|是|算|够|大|会|再|有|用|那么)?"
_EN_FILLERS = r"(?:\s+(?:a|an|the|too|very|so|really|at\s+all|any|been|be))*"


def _pattern(entry: str) -> str:
    if entry.startswith("re:"):
        return f"(?:{entry[3:]})"
    word = re.escape(entry.casefold())
    if _ASCII_WORD.match(entry):
        return rf"(?<![a-z0-9]){word}(?![a-z0-9])"
    return word


def compile_words(entries: Iterable[str]) -> re.Pattern | None:
    """One pattern for a list; longer plain words first, so "食物中毒" wins over "中毒" at one position."""
    entries = sorted(set(entries), key=lambda e: (e.startswith("re:"), -len(e)))
    if not entries:
        return None
    return re.compile("|".join(_pattern(e) for e in entries))


@dataclass(frozen=True)
class Negation:
    zh: re.Pattern | None
    en: re.Pattern | None

    @classmethod
    def from_words(cls, words: Iterable[str]) -> "Negation":
        words = sorted(set(words), key=len, reverse=True)
        zh = [re.escape(w) for w in words if not w.isascii()]
        en = [re.escape(w.casefold()) for w in words if w.isascii()]
        return cls(
            re.compile(f"(?:{'|'.join(zh)}){_ZH_FILLERS}$") if zh else None,
            re.compile(rf"(?<![a-z])(?:{'|'.join(en)}){_EN_FILLERS}\s*$") if en else None,
        )

    def before(self, text: str, start: int) -> bool:
        """Is the match that starts at `start` negated by what comes right before it?"""
        if self.zh is not None and self.zh.search(text, max(0, start - 5), start):
            return True
        return self.en is not None and bool(self.en.search(text[max(0, start - 30):start]))


def find(pattern: re.Pattern | None, text: str, negation: Negation | None = None) -> Iterator[re.Match]:
    """Matches of `pattern` in (casefolded) `text` that are not negated."""
    if pattern is None:
        return
    for m in pattern.finditer(text):
        if negation is None or not negation.before(text, m.start()):
            yield m


def first(pattern: re.Pattern | None, text: str, negation: Negation | None = None) -> str | None:
    return next((m.group() for m in find(pattern, text, negation)), None)
