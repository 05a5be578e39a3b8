"""Word lists from data files, so a reputation team can extend them without touching code."""
from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from importlib import resources
from pathlib import Path

import yaml


@dataclass(frozen=True)
class Lexicon:
    categories: dict[str, tuple[str, ...]]
    signals: dict[str, tuple[str, ...]]
    negations: tuple[str, ...]

    def merged(self, other: "Lexicon") -> "Lexicon":
        def merge(a: dict, b: dict) -> dict:
            out = {k: tuple(v) for k, v in a.items()}
            for k, v in b.items():
                out[k] = tuple(dict.fromkeys(out.get(k, ()) + tuple(v)))
            return out

        return Lexicon(merge(self.categories, other.categories), merge(self.signals, other.signals),
                       tuple(dict.fromkeys(self.negations + other.negations)))


CATEGORIES = ("product", "service", "price", "delivery", "after_sales", "communication", "promise")


def _from_mapping(data: dict, where: str) -> Lexicon:
    unknown = set(data) - {"categories", "signals", "negations"}
    if unknown:
        raise ValueError(f"{where}: unknown sections {sorted(unknown)}; expected categories, signals, negations")
    cats = {k: tuple(str(w) for w in v) for k, v in (data.get("categories") or {}).items()}
    bad = set(cats) - set(CATEGORIES)
    if bad:
        raise ValueError(f"{where}: unknown categories {sorted(bad)}; the taxonomy is {', '.join(CATEGORIES)}")
    sigs = {k: tuple(str(w) for w in v) for k, v in (data.get("signals") or {}).items()}
    return Lexicon(cats, sigs, tuple(str(w) for w in data.get("negations") or ()))


@lru_cache(maxsize=8)
def load_lexicon(extra: Path | None = None) -> Lexicon:
    text = resources.files("sentiment").joinpath("data/lexicon.yaml").read_text(encoding="utf-8")
    lexicon = _from_mapping(yaml.safe_load(text), "sentiment/data/lexicon.yaml")
    if extra is not None:
        lexicon = lexicon.merged(_from_mapping(yaml.safe_load(Path(extra).read_text(encoding="utf-8")) or {}, str(extra)))
    return lexicon
