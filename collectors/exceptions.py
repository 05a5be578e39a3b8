from storage.exceptions import RepwatchError
from storage.plugins import UnknownPlugin


class CollectorsError(RepwatchError):
    """Base class for the collection stage's errors."""


class CollectError(CollectorsError):
    """A source-level failure. `kind` is a short, countable reason for source health
    (timeout, connect, http_4xx, http_5xx, too_large, redirects, parse, robots, config, ...)."""

    def __init__(self, kind: str, message: str, *, http_status: int | None = None):
        self.kind = kind
        self.http_status = http_status
        super().__init__(message)


class UnknownCollector(UnknownPlugin, CollectorsError):
    """A source's `kind` names no registered collector."""
