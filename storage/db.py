"""Engines, sessions and schema upgrades.

SQLite (WAL) is the embedded default; ``REPWATCH_DATABASE_URL`` switches to PostgreSQL (psycopg 3).
An empty database is migrated on first use, so `repwatch run` on a new machine just works."""
from __future__ import annotations

import os
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

from sqlalchemy import create_engine, event, inspect
from sqlalchemy.engine import Engine, make_url
from sqlalchemy.exc import ArgumentError, OperationalError
from sqlalchemy.orm import Session, sessionmaker

from storage.exceptions import StorageError

MIGRATIONS = Path(__file__).with_name("migrations")
DEFAULT_SQLITE = "sqlite:///repwatch.db"


def default_url(configured: str | None = None) -> str:
    """The environment wins over the config file, so one schedules.yaml serves every machine."""
    return os.environ.get("REPWATCH_DATABASE_URL") or configured or DEFAULT_SQLITE


def _sqlite_pragmas(dbapi_conn, _record) -> None:
    cur = dbapi_conn.cursor()
    # WAL lets the dashboard read while a collection run writes; busy_timeout waits out short locks.
    cur.execute("PRAGMA journal_mode=WAL")
    cur.execute("PRAGMA busy_timeout=30000")
    cur.execute("PRAGMA foreign_keys=ON")
    cur.execute("PRAGMA synchronous=NORMAL")
    cur.close()


def make_engine(url: str, **kwargs) -> Engine:
    try:
        parsed = make_url(url)
    except ArgumentError as exc:
        raise StorageError(f"database URL {url!r} is not valid: {exc}") from exc
    if parsed.drivername == "postgresql":  # plain postgresql:// means psycopg 3 here, not psycopg2
        parsed = parsed.set(drivername="postgresql+psycopg")
    if parsed.drivername.startswith("sqlite"):
        engine = create_engine(parsed, connect_args={"timeout": 30}, **kwargs)
        event.listen(engine, "connect", _sqlite_pragmas)
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

        try:
            command.upgrade(alembic_config(self.engine), revision)
        except OperationalError as exc:
            raise StorageError(f"cannot migrate database {self.safe_url}: {exc.orig}") from exc

    def ensure_schema(self) -> None:
        """Migrate when the schema is missing or behind. Cheap when up to date: one query."""
        from alembic.runtime.migration import MigrationContext
        from alembic.script import ScriptDirectory

        try:
            with self.engine.connect() as conn:
                current = MigrationContext.configure(conn).get_current_revision()
        except OperationalError as exc:
            raise StorageError(f"cannot open database {self.safe_url}: {exc.orig}") from exc
        head = ScriptDirectory.from_config(alembic_config(self.engine)).get_current_head()
        if current != head:
            self.upgrade()

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
