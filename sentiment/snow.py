"""SnowNLP, the baseline engine. Imported lazily: it costs ~2 s and ~420 MiB, so only processes that
score pay for it. Empty text makes SnowNLP divide by zero, so it never sees any."""
from __future__ import annotations

import threading

_lock = threading.Lock()
_classify = None


def _load():
    global _classify
    with _lock:
        if _classify is None:
            from snownlp import sentiment  # noqa: PLC0415 - deliberately lazy

            _classify = sentiment.classify
    return _classify


def snownlp_score(text: str) -> float | None:
    """Probability of positive, or None for text SnowNLP cannot score (empty, no CJK or word chars)."""
    if not text or not text.strip():
        return None
    try:
        return float(_load()(text))
    except ZeroDivisionError:
        return None
