"""Source health: last success, consecutive failures, error reasons counted by kind, a run that
suddenly returns nothing where it used to return many (a broken selector), and silence."""
from __future__ import annotations

from datetime import datetime, timedelta

from storage.models import CollectionRun, Source

BROKEN_AFTER_FAILURES = 3
# A run returning zero items where the running average is at least this many looks like a layout change.
ZERO_ITEMS_ALARM = 5.0


def record_outcome(source: Source, run: CollectionRun, now: datetime, *, items_seen: int | None,
                   expected_period: timedelta | None = None) -> str:
    """Fold one run into the source's health. Returns the new health: ok, degraded, failing, silent."""
    source.last_run_at = now
    if run.status == "failed":
        source.consecutive_failures += 1
        counts = dict(source.error_counts or {})
        counts[run.error_kind or "unknown"] = counts.get(run.error_kind or "unknown", 0) + 1
        source.error_counts = counts
        source.last_error = run.error
        source.health = "failing" if source.consecutive_failures >= BROKEN_AFTER_FAILURES else "degraded"
        return source.health
    source.consecutive_failures = 0
    source.last_success_at = now
    source.last_error = None
    health = "ok"
    if items_seen is not None and run.status != "not_modified":
        typical = source.typical_items
        if items_seen == 0 and typical is not None and typical >= ZERO_ITEMS_ALARM:
            health = "degraded"
            source.last_error = (f"returned 0 items where it usually returns ~{typical:.0f}: "
                                 "the page layout or selectors may have changed")
            counts = dict(source.error_counts or {})
            counts["zero_items"] = counts.get("zero_items", 0) + 1
            source.error_counts = counts
        else:
            # exponential moving average; zero runs don't drag it down, so one quiet day can't hide breakage
            source.typical_items = items_seen if typical is None else 0.7 * typical + 0.3 * items_seen
    if run.new_count:
        source.last_item_at = now
    if health == "ok" and expected_period and source.last_item_at and now - source.last_item_at > expected_period:
        health = "silent"
    source.health = health
    return health
