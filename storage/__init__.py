"""Storage: the one package every stage may use. Typed SQLAlchemy 2.x models, Alembic migrations,
and idempotent write helpers keyed on natural unique keys."""
from storage.db import Database, default_url
from storage.exceptions import StorageError

__all__ = ["Database", "StorageError", "default_url"]
