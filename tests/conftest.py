"""Shared fixtures: real databases (SQLite always, PostgreSQL when REPWATCH_TEST_DATABASE_URL is set),
loopback HTTP and SMTP servers, and a frozen clock."""
from __future__ import annotations

import os
import shutil
from datetime import datetime, timezone
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text

from repwatch.clock import FrozenClock
from repwatch.loopback import LoopbackHTTPServer, SMTPSink
from storage import Database
from storage.models import Base
from storage.pgschema import private_schema, schema_url

PG_URL = os.environ.get("REPWATCH_TEST_DATABASE_URL")
BACKENDS = ["sqlite"] + (["postgresql"] if PG_URL else [])
# A test marked `one_backend` reaches the database only on its way to something else (a browser, the API
# fuzzer, a terminal table): it runs once, on PostgreSQL (production's database) when it is configured. The
# SQL it passes through is tested on every backend by the tests of that query.
ONE_BACKEND = BACKENDS[-1]
# Tests that must not overlap under pytest-xdist (the one that stops RabbitMQ) serialise themselves with a file
# lock: tests/distributed/conftest.py, broker_lock.


def pytest_generate_tests(metafunc):
    """Every test that uses `database_url` (or `db`) runs on each backend under test, unless marked `one_backend`
    (or `browser`: a test that drives Chromium is about the page, and the page's queries have their own tests)."""
    if "database_url" in metafunc.fixturenames:
        one = any(metafunc.definition.get_closest_marker(m) is not None for m in ("one_backend", "browser"))
        metafunc.parametrize("database_url", [ONE_BACKEND] if one else BACKENDS, indirect=True)


def pg_schema_url(schema: str) -> str:
    """The test server with search_path at `schema`: the URL alone isolates a run, subprocesses included."""
    return schema_url(PG_URL, schema)


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
    with private_schema(PG_URL, "rw_test") as url:  # migrated once per session
        yield url


@pytest.fixture
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
