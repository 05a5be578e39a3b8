"""Storage: the one package every stage may use. Typed SQLAlchemy 2.x models, Alembic migrations,
and idempotent write helpers keyed on natural unique keys.

`Database` and `default_url` load lazily (PEP 562): `import storage.vocabulary` (the analyzer does) must
not import SQLAlchemy, ~0.4 s of the analyzer's load time."""
from __future__ import annotations

from typing import TYPE_CHECKING, Any

from storage.exceptions import StorageError

if TYPE_CHECKING:
    from storage.db import Database, default_url

__all__ = ["Database", "StorageError", "default_url"]


def __getattr__(name: str) -> Any:
    if name in ("Database", "default_url"):
        from storage import db

        return getattr(db, name)
    raise AttributeError(f"module 'storage' has no attribute {name!r}")
