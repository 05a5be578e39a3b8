"""Collectors: scheduled, polite, incremental intake of public posts and exported complaints.

Each kind is one module, registered by short name (see registry.py). A collector is built from its
config section and returns MentionIn records plus per-item problems; it never raises for one bad item."""
from collectors.base import CollectResult, Collector, Problem, SourceState
from collectors.exceptions import CollectError
from collectors.registry import get_collector, known_kinds, register

__all__ = ["CollectError", "CollectResult", "Collector", "Problem", "SourceState",
           "get_collector", "known_kinds", "register"]
