"""The Alembic migration and the models agree, on every backend under test."""
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import inspect

from storage.models import Base


def _not_fulltext(name, type_, parent_names) -> bool:
    # 0002_fulltext's search objects (FTS5 table and shadow tables, GIN index) are migration-only by
    # design, named fts_*; everything else must still match the models exactly.
    return not (name or "").startswith("fts_")


def test_migrated_schema_matches_models(db):
    with db.engine.connect() as conn:
        context = MigrationContext.configure(conn, opts={"compare_type": False, "include_name": _not_fulltext})
        diff = compare_metadata(context, Base.metadata)
    assert diff == []


def test_every_model_table_exists(db):
    tables = set(inspect(db.engine).get_table_names())
    assert set(Base.metadata.tables) <= tables
    assert "alembic_version" in tables


def test_empty_database_is_migrated_on_first_use(tmp_path):
    from storage import Database

    fresh = Database(f"sqlite:///{tmp_path / 'new.db'}")
    assert "mention" in fresh.table_names()
    with fresh.engine.connect() as conn:
        assert conn.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
    fresh.dispose()


def test_a_database_from_before_session_version_gains_it(tmp_path):
    from sqlalchemy import text

    from storage import Database

    url = f"sqlite:///{tmp_path / 'old.db'}"
    old = Database(url, auto_upgrade=False)
    old.upgrade("0002")
    with old.engine.begin() as conn:
        conn.execute(text("INSERT INTO app_user (name, password_hash, role, disabled) VALUES ('a', 'x', 'admin', 0)"))
    old.dispose()
    new = Database(url)
    with new.engine.connect() as conn:
        assert conn.execute(text("SELECT session_version FROM app_user")).scalar() == 0
    from alembic import command

    from storage.db import alembic_config

    command.downgrade(alembic_config(new.engine), "0002")    # and back down, keeping the user
    assert "session_version" not in {c["name"] for c in inspect(new.engine).get_columns("app_user")}
    with new.engine.connect() as conn:
        assert conn.execute(text("SELECT name FROM app_user")).scalar() == "a"
    new.dispose()
