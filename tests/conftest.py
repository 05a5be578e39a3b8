"""Shared fixtures: real databases (SQLite always, PostgreSQL when REPWATCH_TEST_DATABASE_URL is set),
loopback HTTP and SMTP servers, and a frozen clock."""
from __future__ import annotations

import os
import shutil
import uuid
from datetime import datetime, timezone
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from repwatch.clock import FrozenClock
from repwatch.loopback import LoopbackHTTPServer, SMTPSink
from storage import Database
from storage.models import Base

PG_URL = os.environ.get("REPWATCH_TEST_DATABASE_URL")
BACKENDS = ["sqlite"] + (["postgresql"] if PG_URL else [])


def pg_schema_url(schema: str) -> str:
    """The same server, with search_path pointed at a private schema: the URL alone isolates a run,
    so subprocesses (CLI, workers) given it see the same tables."""
    url = make_url(PG_URL)
    if url.drivername == "postgresql":
        url = url.set(drivername="postgresql+psycopg")
    return url.update_query_dict({"options": f"-csearch_path={schema}"}).render_as_string(hide_password=False)


@pytest.fixture(scope="session")
def _sqlite_template(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("template") / "template.db"
    db = Database(f"sqlite:///{path}")
    db.dispose()
    return path


@pytest.fixture(scope="session")
def _pg_schema():
    if not PG_URL:
        pytest.skip("REPWATCH_TEST_DATABASE_URL is not set")
    schema = f"rw_test_{uuid.uuid4().hex[:10]}"
    admin = create_engine(pg_schema_url("public"))
    with admin.begin() as conn:
        conn.execute(text(f'CREATE SCHEMA "{schema}"'))
    url = pg_schema_url(schema)
    Database(url).dispose()  # migrate once per session
    yield url
    with admin.begin() as conn:
        conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
    admin.dispose()


@pytest.fixture(params=BACKENDS)
def database_url(request, tmp_path) -> str:
    """A migrated, empty database for one test, on each backend under test."""
    if request.param == "sqlite":
        path = tmp_path / "repwatch.db"
        shutil.copy(request.getfixturevalue("_sqlite_template"), path)
        return f"sqlite:///{path}"
    url = request.getfixturevalue("_pg_schema")
    engine = create_engine(url)
    tables = ", ".join(f'"{t.name}"' for t in Base.metadata.sorted_tables)
    with engine.begin() as conn:
        conn.execute(text(f"TRUNCATE {tables} RESTART IDENTITY CASCADE"))
    engine.dispose()
    return url


@pytest.fixture
def db(database_url):
    database = Database(database_url)
    yield database
    database.dispose()


@pytest.fixture
def clock() -> FrozenClock:
    return FrozenClock(datetime(2026, 11, 23, 2, 0, tzinfo=timezone.utc))


@pytest.fixture
def http_server():
    with LoopbackHTTPServer() as server:
        yield server


@pytest.fixture
def smtp():
    with SMTPSink() as sink:
        yield sink


@pytest.fixture(scope="session")
def shared_data() -> Path:
    """../shared/data beside the repository (present on developer machines and in CI)."""
    here = Path(__file__).resolve().parents[1]
    for candidate in (here.parent / "shared" / "data", here.parent.parent / "shared" / "data"):
        if candidate.is_dir():
            return candidate
    pytest.skip("../shared/data is not present")
