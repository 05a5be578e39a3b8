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


def test_a_database_from_before_corrections_gains_the_table_and_goes_back_down(tmp_path):
    from alembic import command

    from storage import Database
    from storage.db import alembic_config

    old = Database(f"sqlite:///{tmp_path / 'old.db'}", auto_upgrade=False)
    old.upgrade("0004")
    assert "correction" not in inspect(old.engine).get_table_names()
    old.dispose()
    new = Database(f"sqlite:///{tmp_path / 'old.db'}")
    assert "correction" in inspect(new.engine).get_table_names()
    command.downgrade(alembic_config(new.engine), "0004")
    assert "correction" not in inspect(new.engine).get_table_names()
    new.dispose()


def test_happened_at_is_backfilled_by_the_event_time_rule_and_indexed(tmp_path):
    """0009 stores the event time: old rows get it from the same rule (a future or missing published
    date means collected_at), the index exists, and going back down keeps the full-text triggers."""
    from datetime import datetime, timedelta, timezone

    from alembic import command
    from sqlalchemy import text

    from storage import Database
    from storage.db import alembic_config
    from storage.vocabulary import event_time

    url = f"sqlite:///{tmp_path / 'old.db'}"
    old = Database(url, auto_upgrade=False)
    old.upgrade("0007")
    seen = datetime(2026, 11, 23, 2, 0, tzinfo=timezone.utc)
    published = {"none": None, "past": seen - timedelta(hours=5), "future": seen + timedelta(days=2)}
    with old.engine.begin() as conn:
        conn.execute(text("INSERT INTO source (name, kind, state, error_counts, consecutive_failures, health) VALUES ('s', 'feed', '{}', '{}', 0, 'unknown')"))
        for eid, when in published.items():
            conn.execute(text("INSERT INTO mention (source_id, external_id, content_hash, text, published_at, "
                              "collected_at, raw) VALUES (1, :eid, :eid, '退款慢', :pub, :seen, '{}')"),
                         {"eid": eid, "pub": when.replace(tzinfo=None) if when else None,
                          "seen": seen.replace(tzinfo=None)})
    old.dispose()
    new = Database(url)
    from storage.models import Mention

    with new.session() as s:
        got = {m.external_id: m.happened_at for m in s.query(Mention)}
    assert got == {eid: event_time(when, seen) for eid, when in published.items()}
    assert "ix_mention_happened_at" in {i["name"] for i in inspect(new.engine).get_indexes("mention")}
    command.downgrade(alembic_config(new.engine), "0007")
    assert "happened_at" not in {c["name"] for c in inspect(new.engine).get_columns("mention")}
    with new.engine.connect() as conn:
        triggers = set(conn.exec_driver_sql("SELECT name FROM sqlite_master WHERE type = 'trigger'").scalars())
    assert {"fts_mention_ai", "fts_mention_ad", "fts_mention_au"} <= triggers
    new.dispose()


def test_analyses_from_before_0008_keep_their_rows_with_no_score_and_go_back_down(tmp_path):
    from alembic import command
    from sqlalchemy import text

    from storage import Database
    from storage.db import alembic_config

    url = f"sqlite:///{tmp_path / 'old.db'}"
    old = Database(url, auto_upgrade=False)
    old.upgrade("0007")
    with old.engine.begin() as conn:
        conn.execute(text("INSERT INTO source (name, kind, state, consecutive_failures, error_counts, health) "
                          "VALUES ('s', 'feed', '{}', 0, '{}', 'ok')"))
        conn.execute(text("INSERT INTO mention (source_id, external_id, content_hash, text, raw) "
                          "VALUES (1, 'a', 'h', '太慢了', '{}')"))
        conn.execute(text("INSERT INTO analysis (mention_id, sentiment, negative, complaint, categories, severity, "
                          "signals, targets, model_version) "
                          "VALUES (1, 0.1, 1, 1, '[\"delivery\"]', 'general', '[]', '[]', 'old')"))
    old.dispose()
    new = Database(url)
    with new.engine.connect() as conn:
        assert conn.execute(text("SELECT complaint_score, confidence, model_version FROM analysis")).one() == (
            None, None, "old")
    command.downgrade(alembic_config(new.engine), "0007")
    assert {"complaint_score", "confidence"}.isdisjoint(c["name"] for c in inspect(new.engine).get_columns("analysis"))
    with new.engine.connect() as conn:
        assert conn.execute(text("SELECT model_version FROM analysis")).scalar() == "old"
    new.dispose()
