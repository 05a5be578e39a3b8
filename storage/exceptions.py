"""The root of repwatch's errors, here because storage is the one package every stage imports.

Each package has one base under RepwatchError (httpx's hierarchy is the model): CollectorsError,
SentimentError, AlertError, StorageError, and repwatch's own ConfigError. The CLI prints any of them as
one clear message with an exit code; anything else is a bug and keeps its traceback."""


class RepwatchError(Exception):
    """Base for errors a person must act on."""


class StorageError(RepwatchError):
    """Storage problems a person must act on (bad URL, unreachable server, failed migration)."""

    kind: str = "other"   # set by storage.trouble.database_trouble: unreachable, locked, ... (the run's error_kind)
