"""Engines, sessions and schema upgrades.

SQLite (WAL) is the embedded default; ``REPWATCH_DATABASE_URL`` switches to PostgreSQL (psycopg 3).
An empty database is migrated on first use, so `repwatch run` on a new machine just works."""
from __future__ import annotations

import os
import re
from contextlib import contextmanager
from functools import lru_cache
from pathlib import Path
from typing import Iterator

from sqlalchemy import create_engine, event, inspect, text
from sqlalchemy.engine import Engine, make_url
from sqlalchemy.exc import ArgumentError, DBAPIError
from sqlalchemy.orm import Session, sessionmaker
from sqlalchemy.pool import NullPool

from storage.exceptions import StorageError
from storage.trouble import database_trouble

MIGRATIONS = Path(__file__).with_name("migrations")
DEFAULT_SQLITE = "sqlite:///repwatch.db"


def default_url(configured: str | None = None) -> str:
    """The environment wins over the config file, so one schedules.yaml serves every machine."""
    return os.environ.get("REPWATCH_DATABASE_URL") or configured or DEFAULT_SQLITE


SQLITE_WAIT = 30.0   # seconds a writer waits for another's lock; `?timeout=SECONDS` on the URL changes it


def _sqlite_pragmas(wait: float):
    def apply(dbapi_conn, _record) -> None:
        cur = dbapi_conn.cursor()
        # WAL lets the dashboard read while a collection run writes; busy_timeout waits out short locks.
        cur.execute("PRAGMA journal_mode=WAL")
        cur.execute(f"PRAGMA busy_timeout={int(wait * 1000)}")
        cur.execute("PRAGMA foreign_keys=ON")
        cur.execute("PRAGMA synchronous=NORMAL")
        cur.close()
    return apply


def make_engine(url: str, **kwargs) -> Engine:
    try:
        parsed = make_url(url)
    except ArgumentError as exc:
        raise StorageError(f"database URL {url!r} is not valid: {exc}") from exc
    if parsed.drivername == "postgresql":  # plain postgresql:// means psycopg 3 here, not psycopg2
        parsed = parsed.set(drivername="postgresql+psycopg")
    if parsed.drivername.startswith("sqlite"):
        timeout = parsed.query.get("timeout", SQLITE_WAIT)
        try:
            if isinstance(timeout, tuple):   # ?timeout=1&timeout=2
                raise ValueError(timeout)
            wait = float(timeout)
        except ValueError:
            raise StorageError(f"database URL {url!r}: timeout must be a number of seconds") from None
        engine = create_engine(parsed, connect_args={"timeout": wait}, **kwargs)
        event.listen(engine, "connect", _sqlite_pragmas(wait))
    else:
        kwargs.setdefault("pool_pre_ping", True)
        engine = create_engine(parsed, **kwargs)
    return engine


def alembic_config(engine: Engine):
    from alembic.config import Config

    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    cfg.attributes["engine"] = engine
    return cfg


_REVISION_LINE = re.compile(r"""^(revision|down_revision)\s*(?::[^=\n]*)?=\s*(?:None|(['"])([\w-]+)\2)\s*$""",
                            re.MULTILINE)


@lru_cache(maxsize=1)
def _plain_head() -> str | None:
    """The head revision, read from the migration files' own `revision = "…"` / `down_revision = "…"`
    lines (the values alembic reads when it imports them), when they form one plain chain; None when
    anything is unusual (a merge's tuple, a branch, a line this cannot read), and alembic decides."""
    revisions: set[str] = set()
    parents: set[str] = set()
    for path in (MIGRATIONS / "versions").glob("*.py"):
        found = {m.group(1): m.group(3) for m in _REVISION_LINE.finditer(path.read_text(encoding="utf-8"))}
        if found.get("revision") is None or "down_revision" not in found:
            return None
        revisions.add(found["revision"])
        if found["down_revision"] is not None:
            parents.add(found["down_revision"])
    heads = revisions - parents
    if len(heads) != 1 or not parents <= revisions or len(revisions) != len(parents) + 1:
        return None
    return heads.pop()


class Database:
    """One engine and session factory per process."""

    def __init__(self, url: str | None = None, *, auto_upgrade: bool = True, engine: Engine | None = None):
        self.url = url or default_url()
        self.engine = engine or make_engine(self.url)
        self.sessions = sessionmaker(self.engine, expire_on_commit=False)
        if auto_upgrade:
            self.ensure_schema()

    @property
    def is_sqlite(self) -> bool:
        return self.engine.dialect.name == "sqlite"

    def upgrade(self, revision: str = "head") -> None:
        from alembic import command

        engine = self._migration_engine()
        try:
            command.upgrade(alembic_config(engine), revision)
        except DBAPIError as exc:
            raise database_trouble(exc, self.safe_url, doing="migrating") from exc
        finally:
            if engine is not self.engine:
                engine.dispose()

    def _migration_engine(self) -> Engine:
        """An engine whose transactions cover DDL. Python's sqlite3 module opens a transaction only
        before INSERT/UPDATE/DELETE, so CREATE TABLE commits at once: a migration that failed midway
        (disk full) left half its tables behind and every later run stopped at "table app_user already
        exists". Here every transaction starts with an explicit BEGIN IMMEDIATE (the SQLAlchemy
        recipe for pysqlite), so a failed migration leaves nothing. PostgreSQL does DDL in
        transactions already."""
        url = self.engine.url
        if not self.is_sqlite or url.database in (None, "", ":memory:") or "mode=memory" in str(url):
            return self.engine
        engine = make_engine(url.render_as_string(hide_password=False), poolclass=NullPool)

        @event.listens_for(engine, "connect")
        def _manual_transactions(dbapi_conn, _record):
            dbapi_conn.isolation_level = None   # after the pragmas: WAL cannot be set inside a transaction

        @event.listens_for(engine, "begin")
        def _begin(conn):
            # IMMEDIATE takes the write lock first: two processes migrating at once queue, and the
            # second finds the work done
            conn.exec_driver_sql("BEGIN IMMEDIATE")

        return engine

    def ensure_schema(self) -> None:
        """Migrate when the schema is missing or behind. Cheap when up to date: one query, and alembic
        is not even imported (it and its templates are ~17 MiB of a collection run's memory)."""
        head = _plain_head()
        if head is not None and self._stamped_revision() == head:
            return
        from alembic.runtime.migration import MigrationContext
        from alembic.script import ScriptDirectory

        try:
            with self.engine.connect() as conn:
                current = MigrationContext.configure(conn).get_current_revision()
        except DBAPIError as exc:
            raise database_trouble(exc, self.safe_url, doing="opening") from exc
        head = ScriptDirectory.from_config(alembic_config(self.engine)).get_current_head()
        if current != head:
            self.upgrade()

    def _stamped_revision(self) -> str | None:
        """The one revision alembic stamped in alembic_version; None when there is no such table, no row
        or several (then alembic's own reading decides, and reports an unreachable database)."""
        try:
            with self.engine.connect() as conn:
                rows: list[str] = list(conn.execute(text("SELECT version_num FROM alembic_version")).scalars())
        except DBAPIError:
            return None
        return rows[0] if len(rows) == 1 else None

    @property
    def safe_url(self) -> str:
        return make_url(self.url).render_as_string(hide_password=True)

    @contextmanager
    def session(self) -> Iterator[Session]:
        """A unit of work: commits on success, rolls back on any error, always closes."""
        session = self.sessions()
        try:
            yield session
            session.commit()
        except BaseException:
            session.rollback()
            raise
        finally:
            session.close()

    def table_names(self) -> list[str]:
        return inspect(self.engine).get_table_names()

    def dispose(self) -> None:
        self.engine.dispose()
