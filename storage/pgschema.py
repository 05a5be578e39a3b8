"""PostgreSQL schemas as separate repwatch databases on one server.

The schema travels inside the URL (libpq `options=-csearch_path=...`), so every process given the URL
(CLI, workers, the scheduler) sees the same tables. Tests use a private schema per run this way."""
from __future__ import annotations

import uuid
from contextlib import contextmanager
from typing import Iterator

from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url


def schema_url(url: str, schema: str) -> str:
    """`url` with its search_path pointed at `schema` (plain postgresql:// means psycopg 3)."""
    parsed = make_url(url)
    if parsed.drivername == "postgresql":
        parsed = parsed.set(drivername="postgresql+psycopg")
    return parsed.update_query_dict({"options": f"-csearch_path={schema}"}).render_as_string(hide_password=False)


@contextmanager
def private_schema(url: str, prefix: str = "rw") -> Iterator[str]:
    """Create a uniquely named schema, migrate it, yield its URL, then drop it with everything in it."""
    from storage.db import Database

    schema = f"{prefix}_{uuid.uuid4().hex[:10]}"
    admin = create_engine(schema_url(url, "public"))
    with admin.begin() as conn:
        conn.execute(text(f'CREATE SCHEMA "{schema}"'))
    try:
        scoped = schema_url(url, schema)
        Database(scoped).dispose()  # migrate
        yield scoped
    finally:
        with admin.begin() as conn:
            conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()
