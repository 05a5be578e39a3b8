class StorageError(Exception):
    """Base class for storage problems a person must act on (bad URL, unreachable server, failed migration)."""
