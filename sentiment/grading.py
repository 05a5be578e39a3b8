"""Complaint or not, and severity, from the evidence and the score (rules in sentiment/data/severity.yaml)."""
from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import yaml

from sentiment.evidence import Evidence
from sentiment.lexicon import SIGNAL_KINDS, builtin_yaml
from sentiment.matcher import compile_words, find
from storage.vocabulary import SEVERITY_LEVELS
from sentiment.exceptions import RulesError

SEVERITIES = SEVERITY_LEVELS
_PUNCT_RUN = re.compile(r"([!！?？])\1*")
ESCALATION = frozenset({"media", "legal", "regulator", "warning", "head_office"})
GROWTH = frozenset({"repeat", "long_wait"})


@dataclass(frozen=True, eq=False)
class Rules:
    data: dict

    def __getitem__(self, path: str):
        node = self.data
        for part in path.split("."):
            node = node[part]
        return node

    @property
    def intensity(self):
        return _compiled(tuple(self.data.get("intensity") or ()))


@lru_cache(maxsize=16)
def _compiled(words: tuple[str, ...]):
    return compile_words(words)


def _merge(base: dict, extra: dict, where: str) -> dict:
    out = dict(base)
    for key, value in extra.items():
        if key not in base:
            raise RulesError(f"{where}: unknown key {key!r}; known: {', '.join(sorted(base))}")
        out[key] = _merge(base[key], value, f"{where}.{key}") if isinstance(base[key], dict) else value
    return out


@lru_cache(maxsize=8)
def load_rules(extra: Path | None = None) -> Rules:
    data = builtin_yaml("severity.yaml")
    if extra is not None:
        try:
            override = yaml.safe_load(Path(extra).read_text(encoding="utf-8")) or {}
        except OSError as exc:
            raise RulesError(f"{extra}: cannot read the severity rules: {exc.strerror}") from None
        if not isinstance(override, dict):
            raise RulesError(f"{extra}: expected a mapping like sentiment/data/severity.yaml")
        data = _merge(data, override, str(extra))
    return Rules(data)


@dataclass
class Verdict:
    complaint: bool
    severity: str
    signals: list[str]          # evidence plus what grading itself used (reach, intensity)


def is_reported(ev: Evidence, rules: Rules) -> bool:
    """A report or advice in nobody's own voice ("律师提醒：…可拨打12315投诉", "The FTC received 2.6 million
    reports last year"): its signal words are what it is about, not what happened to its writer."""
    return ev.reported is not None and not rules["complaint.reported_escalates"]


def telling_kinds(ev: Evidence, rules: Rules) -> set[str]:
    """The kinds of evidence that may make a text a complaint or raise its severity: every kind that fired,
    but no signal kind of a reported text."""
    kinds = ev.kinds()
    return kinds - set(SIGNAL_KINDS) if is_reported(ev, rules) else kinds


def judge(ev: Evidence, *, sentiment: float, negative: bool, folded_text: str, rules: Rules,
          followers: int | None = None, complaint: bool | None = None,
          learned_severity: float | None = None) -> Verdict:
    """`complaint` is the complaint model's decision (sentiment/complaint_model.py); None (a language the model
    does not read) falls back to the word-list rules. Escalation signals raise the severity only of a text
    that is itself a complaint; `learned_severity` (0–4, the severity head) can raise it to important."""
    reported = is_reported(ev, rules)
    kinds = telling_kinds(ev, rules)
    about_company = bool(ev.company or ev.categories)
    signals = list(ev.signals)
    c = rules["complaint"]
    if complaint is None:
        safety = "safety" in kinds and (about_company or not c["safety_needs_company"])
        complaint = (
            (negative and bool(ev.categories))
            or (negative and ev.company is not None and sentiment < c["company_only_below"])
            or (about_company and bool(kinds & (ESCALATION | GROWTH)) and sentiment < c["signal_only_below"])
            or safety
        )
    else:
        safety = "safety" in kinds
    if not complaint:
        return Verdict(False, "none", signals)
    if ev.company:
        signals.append(ev.company)
    if reported:
        signals.append(f"reported:{ev.reported}")
    # Distinct words, and a run of "!!!" counts once however often it recurs: one shouty writer is one signal.
    intensity = [] if reported else list(dict.fromkeys(_PUNCT_RUN.sub(lambda m: m.group()[0] * 3, m.group())
                                                       for m in find(rules.intensity, folded_text)))
    signals += [f"intensity:{w}" for w in intensity]
    reach = followers or 0
    if reach >= rules["important.followers_at_least"]:
        signals.append(f"reach:{reach} followers")
    urgent_kinds = set(rules["urgent.signals"]) - ({"safety"} if not safety else set())
    if kinds & urgent_kinds or reach >= rules["urgent.followers_at_least"]:
        severity = "urgent"
    elif (kinds & set(rules["important.signals"]) or reach >= rules["important.followers_at_least"]
          or len(intensity) >= rules["important.intensity_at_least"]
          or (learned_severity is not None and learned_severity >= rules["important.learned_at_least"])):
        severity = "important"
    else:
        severity = "general"
    return Verdict(True, severity, signals)
