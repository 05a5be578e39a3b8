"""Word lists from data files, so a reputation team can extend them without touching code.

The built-in files (sentiment/data/*.yaml, listed in BUILTIN_FILES) and the optional extra file named by
`analysis.lexicon` all have the same shape; lists are merged in that order, duplicates dropped:

    categories:  {product: [...], service: [...], ...}   what a complaint is about (DOMAIN.md taxonomy)
    signals:     {media: [...], safety: [...], ...}       escalation and growth signals
    company:     [...]                                    cues that a text is about a company, product or service
    negations:   [...]                                    words that cancel the cue right after them
    affect:      {positive: [...], negative: [...]}       general feeling words (scoring, not evidence)
    emoticons:   {positive: [...], negative: [...]}       Weibo [..] names and emoji
    voice:       {first_person: [...], report: [...]}     who speaks: the writer's own experience, or a report

Entries are plain words or `re:` regular expressions (see sentiment/matcher.py).
"""
from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property, lru_cache
from importlib import resources
from pathlib import Path

import yaml

from sentiment.matcher import Negation, compile_words
from storage.vocabulary import CATEGORIES
from sentiment.exceptions import RulesError

SIGNAL_KINDS = ("media", "legal", "regulator", "warning", "head_office", "safety", "repeat", "long_wait")
BUILTIN_FILES = ("lexicon.yaml", "lexicon_en.yaml", "affect.yaml", "emoticons.yaml")
SECTIONS = ("categories", "signals", "company", "negations", "affect", "emoticons", "voice")
POLARITIES = ("positive", "negative")
# A post that reports or advises (news, statistics, a lawyer's tip) with no word of the writer's own experience
# is not itself a complaint, so its escalation signals ("12315", "lawyer") grade nothing (DOMAIN.md).
VOICES = ("first_person", "report")
# Cues that stay cues after a negation: "还没退款" is still about a refund, "不是第一次" is still a repeat.
NOT_NEGATED = frozenset({"after_sales", "communication", "repeat", "long_wait"})


@dataclass(frozen=True, eq=False)
class Lexicon:
    categories: dict[str, tuple[str, ...]] = field(default_factory=dict)
    signals: dict[str, tuple[str, ...]] = field(default_factory=dict)
    company: tuple[str, ...] = ()
    negations: tuple[str, ...] = ()
    affect: dict[str, tuple[str, ...]] = field(default_factory=dict)
    emoticons: dict[str, tuple[str, ...]] = field(default_factory=dict)
    voice: dict[str, tuple[str, ...]] = field(default_factory=dict)

    def merged(self, other: "Lexicon") -> "Lexicon":
        def merge(a: dict, b: dict) -> dict:
            out = dict(a)
            for k, v in b.items():
                out[k] = tuple(dict.fromkeys(out.get(k, ()) + tuple(v)))
            return out

        def join(a: tuple, b: tuple) -> tuple:
            return tuple(dict.fromkeys(a + b))

        return Lexicon(merge(self.categories, other.categories), merge(self.signals, other.signals),
                       join(self.company, other.company), join(self.negations, other.negations),
                       merge(self.affect, other.affect), merge(self.emoticons, other.emoticons),
                       merge(self.voice, other.voice))

    # Compiled once per lexicon (the lexicon is cached per process by load_lexicon).
    @cached_property
    def negation(self) -> Negation:
        return Negation.from_words(self.negations)

    @cached_property
    def category_patterns(self) -> dict:
        return {c: compile_words(self.categories.get(c, ())) for c in CATEGORIES}

    @cached_property
    def signal_patterns(self) -> dict:
        return {k: compile_words(v) for k, v in self.signals.items()}

    @cached_property
    def company_pattern(self):
        return compile_words(self.company)

    @cached_property
    def affect_patterns(self) -> dict:
        return {p: compile_words(self.affect.get(p, ())) for p in POLARITIES}

    @cached_property
    def voice_patterns(self) -> dict:
        return {v: compile_words(self.voice.get(v, ())) for v in VOICES}

    @cached_property
    def emoticon_polarity(self) -> dict[str, int]:
        out = {w: 1 for w in self.emoticons.get("positive", ())}
        out.update({w: -1 for w in self.emoticons.get("negative", ())})
        return out


def _words(value, where: str) -> tuple[str, ...]:
    if value is None:
        return ()
    if not isinstance(value, list):
        raise RulesError(f"{where}: expected a list of words")
    for w in value:
        if isinstance(w, bool) or w is None:
            # YAML reads bare no/yes/on/off/null as booleans or nothing: the word was meant.
            raise RulesError(f"{where}: {w!r} is not a word; quote it (\"no\")")
    return tuple(str(w) for w in value)


def _keyed(value, where: str, keys: tuple[str, ...]) -> dict[str, tuple[str, ...]]:
    value = value or {}
    if not isinstance(value, dict):
        raise RulesError(f"{where}: expected a mapping with keys {', '.join(keys)}")
    bad = set(value) - set(keys)
    if bad:
        raise RulesError(f"{where}: unknown keys {sorted(bad)}; expected {', '.join(keys)}")
    return {k: _words(v, f"{where}.{k}") for k, v in value.items()}


def from_mapping(data: dict, where: str) -> Lexicon:
    if not isinstance(data, dict):
        raise RulesError(f"{where}: expected a mapping with sections {', '.join(SECTIONS)}")
    unknown = set(data) - set(SECTIONS)
    if unknown:
        raise RulesError(f"{where}: unknown sections {sorted(unknown)}; expected {', '.join(SECTIONS)}")
    cats = {k: _words(v, f"{where}: categories.{k}") for k, v in (data.get("categories") or {}).items()}
    bad = set(cats) - set(CATEGORIES)
    if bad:
        raise RulesError(f"{where}: unknown categories {sorted(bad)}; the taxonomy is {', '.join(CATEGORIES)}")
    sigs = {k: _words(v, f"{where}: signals.{k}") for k, v in (data.get("signals") or {}).items()}
    bad = set(sigs) - set(SIGNAL_KINDS)
    if bad:
        raise RulesError(f"{where}: unknown signals {sorted(bad)}; known: {', '.join(SIGNAL_KINDS)}")
    return Lexicon(cats, sigs, _words(data.get("company"), f"{where}: company"),
                   _words(data.get("negations"), f"{where}: negations"),
                   _keyed(data.get("affect"), f"{where}: affect", POLARITIES),
                   _keyed(data.get("emoticons"), f"{where}: emoticons", POLARITIES),
                   _keyed(data.get("voice"), f"{where}: voice", VOICES))


def builtin_text(name: str) -> str:
    return resources.files("sentiment").joinpath(f"data/{name}").read_text(encoding="utf-8")


def builtin_yaml(name: str):
    """A built-in data file, parsed by libyaml when PyYAML has it: the pure-Python parser spent about half a
    second of every analyzer's load on these files. A team's own files keep `yaml.safe_load`."""
    return yaml.load(builtin_text(name), Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))  # noqa: S506


@lru_cache(maxsize=8)
def load_lexicon(extra: Path | None = None) -> Lexicon:
    lexicon = Lexicon()
    for name in BUILTIN_FILES:
        lexicon = lexicon.merged(from_mapping(builtin_yaml(name), f"sentiment/data/{name}"))
    if extra is not None:
        path = Path(extra)
        try:
            data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
        except OSError as exc:
            raise RulesError(f"{path}: cannot read the extra lexicon: {exc.strerror}") from None
        lexicon = lexicon.merged(from_mapping(data, str(path)))
    return lexicon
