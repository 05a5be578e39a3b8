"""Sentiment and complaint signals: is a post negative, is it a complaint against the company,
what is it about, and how serious is it. Models load once per process, lazily.

The names below load on first use (PEP 562): a collection-only process imports `sentiment.settings` for the
config and never needs the analyzer, numpy or the word lists (about 16 MiB of its peak, bench/collect.py)."""
from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from sentiment.analyzer import Analyzer, Result, TextIn

__all__ = ["Analyzer", "Result", "TextIn"]


def __getattr__(name: str) -> Any:
    if name in __all__:
        return getattr(import_module("sentiment.analyzer"), name)
    raise AttributeError(f"module 'sentiment' has no attribute {name!r}")
