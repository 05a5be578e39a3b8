"""Database trouble (a failed migration, a locked, read-only or full SQLite file, a failing PostgreSQL
statement) is a clear message and exit 3, and leaves the database consistent.

Disk full is real SQLite disk full: `PRAGMA max_page_count` caps the file, and SQLite answers
SQLITE_FULL exactly as on a full disk. The cap is set by a connect listener on every engine, the one
injected part. On PostgreSQL a failing statement is injected midway through the first migration."""
from __future__ import annotations

import sqlite3
import uuid
from contextlib import contextmanager

import pytest
from click.testing import CliRunner
from sqlalchemy import create_engine, event, inspect, text
from sqlalchemy.engine import Engine

from repwatch.cli import cli
from repwatch.loopback import Response
from storage import Database
from storage.exceptions import StorageError
from storage.pgschema import schema_url
from tests.conftest import PG_URL
from tests.pipeline.conftest import rss


@contextmanager
def disk_full_after(pages: int):
    """Every SQLite connection opened meanwhile may grow its file to `pages` pages, then gets SQLITE_FULL."""
    def cap(dbapi_conn, _record):
        if isinstance(dbapi_conn, sqlite3.Connection):
            dbapi_conn.execute(f"PRAGMA max_page_count={pages}")

    event.listen(Engine, "connect", cap)
    try:
        yield
    finally:
        event.remove(Engine, "connect", cap)


def pages(path) -> int:
    with sqlite3.connect(path) as conn:
        return conn.execute("PRAGMA page_count").fetchone()[0]


def test_disk_full_during_first_migration_leaves_nothing_and_next_run_succeeds(tmp_path):
    path = tmp_path / "new.db"
    with disk_full_after(12), pytest.raises(StorageError) as err:
        Database(f"sqlite:///{path}")
    assert "disk holding the database is full" in str(err.value) and "Free some space" in str(err.value)
    with sqlite3.connect(path) as conn:   # the failed migration left no table behind
        assert conn.execute("SELECT name FROM sqlite_master WHERE type='table'").fetchall() == []
    again = Database(f"sqlite:///{path}")    # before the fix: "table app_user already exists" for ever
    assert {"app_user", "mention", "ticket", "alembic_version"} <= set(again.table_names())
    again.dispose()


@pytest.mark.skipif(not PG_URL, reason="REPWATCH_TEST_DATABASE_URL is not set")
def test_postgresql_first_migration_failing_midway_leaves_nothing(tmp_path):
    schema = f"rw_fail_{uuid.uuid4().hex[:10]}"
    admin = create_engine(schema_url(PG_URL, "public"))
    with admin.begin() as conn:
        conn.execute(text(f'CREATE SCHEMA "{schema}"'))
    url = schema_url(PG_URL, schema)

    def fail_at_ticket(conn, cursor, statement, *args):
        if statement.lstrip().upper().startswith("CREATE TABLE TICKET"):
            raise OSError("injected: could not extend file: No space left on device")

    try:
        event.listen(Engine, "before_cursor_execute", fail_at_ticket)
        try:
            with pytest.raises(OSError):
                Database(url)
        finally:
            event.remove(Engine, "before_cursor_execute", fail_at_ticket)
        check = create_engine(url)
        assert inspect(check).get_table_names(schema=schema) == []
        check.dispose()
        db = Database(url)
        assert {"app_user", "ticket"} <= set(inspect(db.engine).get_table_names(schema=schema))
        db.dispose()
    finally:
        with admin.begin() as conn:
            conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()


@pytest.fixture
def feed_config(tmp_path, http_server):
    posts = [(f"g-{i}", f"快送外卖第{i}单送错了，客服不理人，退款也没有到账，太差了。" * 20) for i in range(60)]
    http_server.routes["/many.xml"] = Response(rss(posts))
    path = tmp_path / "schedules.yaml"
    path.write_text(f"watch: [{{name: 快送外卖}}]\nsources:\n  - {{name: many, kind: feed, "
                    f"url: '{http_server.url('/many.xml')}'}}\n", encoding="utf-8")
    return path


def count(path, table: str) -> int:
    with sqlite3.connect(path) as conn:
        return conn.execute(f"SELECT count(*) FROM {table}").fetchone()[0]


def test_disk_full_mid_run_exits_3_with_advice_and_keeps_the_database_consistent(tmp_path, feed_config):
    path = tmp_path / "repwatch.db"
    Database(f"sqlite:///{path}").dispose()
    with disk_full_after(pages(path) + 3):
        result = CliRunner().invoke(cli, ["-c", str(feed_config), "--database", f"sqlite:///{path}",
                                          "collect", "many"])
    assert result.exit_code == 3, result.output
    assert "disk holding the database is full" in result.output and "Traceback" not in result.output
    with sqlite3.connect(path) as conn:
        assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    assert count(path, "mention") == 0          # the half-stored batch was rolled back whole
    result = CliRunner().invoke(cli, ["collect", "many", "-c", str(feed_config), "--database", f"sqlite:///{path}"])
    assert result.exit_code == 0, result.output
    assert count(path, "mention") == 60


def test_locked_database_exits_3_and_says_what_to_do(tmp_path, feed_config):
    path = tmp_path / "repwatch.db"
    Database(f"sqlite:///{path}").dispose()
    holder = sqlite3.connect(path, isolation_level=None)
    holder.execute("BEGIN IMMEDIATE")       # another process's write transaction
    try:
        result = CliRunner().invoke(cli, ["-c", str(feed_config), "--database", f"sqlite:///{path}?timeout=0.2",
                                          "collect", "many"])
    finally:
        holder.execute("ROLLBACK")
        holder.close()
    assert result.exit_code == 3, result.output
    assert "locked by another process" in result.output and "run again" in result.output
    assert "Traceback" not in result.output


def test_read_only_database_exits_3_and_says_what_to_do(tmp_path, feed_config):
    # tests run as root, for whom file modes do not stop a write: SQLite's own read-only mode stands in
    path = tmp_path / "repwatch.db"
    Database(f"sqlite:///{path}").dispose()
    result = CliRunner().invoke(cli, ["-c", str(feed_config), "--database",
                                      f"sqlite:///file:{path}?mode=ro&uri=true", "collect", "many"])
    assert result.exit_code == 3, result.output
    assert "database is read-only" in result.output and "permissions" in result.output
    assert count(path, "mention") == 0


def test_disk_full_during_a_full_run_exits_3_too(tmp_path, feed_config):
    path = tmp_path / "repwatch.db"
    Database(f"sqlite:///{path}").dispose()
    with disk_full_after(pages(path) + 3):
        result = CliRunner().invoke(cli, ["run", "-c", str(feed_config), "--database", f"sqlite:///{path}"])
    assert result.exit_code == 3, result.output
    assert "disk holding the database is full" in result.output and "Traceback" not in result.output
    assert count(path, "mention") == 0


def _with_options(url: str, *settings: str) -> str:
    """The PostgreSQL URL with extra server settings for its sessions (libpq options)."""
    from sqlalchemy.engine import make_url

    parsed = make_url(url)
    options = " ".join([parsed.query.get("options", ""), *(f"-c{s}" for s in settings)]).strip()
    return parsed.update_query_dict({"options": options}).render_as_string(hide_password=False)


def _postgresql(database_url: str) -> None:
    if not database_url.startswith("postgresql"):
        pytest.skip("PostgreSQL's own read-only and lock errors; SQLite's are tested above")


def test_postgresql_read_only_server_exits_3(database_url, feed_config):
    _postgresql(database_url)
    # a hot standby answers every write with SQLSTATE 25006, as this setting does
    url = _with_options(database_url, "default_transaction_read_only=on")
    result = CliRunner().invoke(cli, ["collect", "many", "-c", str(feed_config), "--database", url])
    assert result.exit_code == 3, result.output
    assert "database is read-only" in result.output and "Traceback" not in result.output


def test_postgresql_lock_wait_exits_3(database_url, feed_config):
    _postgresql(database_url)
    holder = create_engine(database_url)
    conn = holder.connect()
    conn.execute(text("LOCK TABLE collection_run IN ACCESS EXCLUSIVE MODE"))   # another process's long lock
    try:
        url = _with_options(database_url, "lock_timeout=300")
        result = CliRunner().invoke(cli, ["collect", "many", "-c", str(feed_config), "--database", url])
    finally:
        conn.rollback()
        conn.close()
        holder.dispose()
    assert result.exit_code == 3, result.output
    assert "locked by another process" in result.output and "Traceback" not in result.output
