class CollectError(Exception):
    """A source-level failure. `kind` is a short, countable reason for source health
    (timeout, connect, http_4xx, http_5xx, too_large, redirects, parse, robots, config, ...)."""

    def __init__(self, kind: str, message: str, *, http_status: int | None = None):
        self.kind = kind
        self.http_status = http_status
        super().__init__(message)


class UnknownCollector(KeyError):
    def __init__(self, kind: str, known: list[str]):
        self.kind = kind
        super().__init__(f"unknown collector kind {kind!r}; known kinds: {', '.join(known)}")

    def __str__(self) -> str:  # KeyError quotes its message otherwise
        return self.args[0]
