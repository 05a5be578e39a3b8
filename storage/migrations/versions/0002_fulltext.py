"""full-text search over mentions

Revision ID: 0002
Revises: 0001

Kept out of the models on purpose (0001 is regenerated from them): these objects are search
machinery, not data, and differ per dialect. Every name starts with `fts_`, which is how
tests/storage/test_migrations.py knows to leave them out of the model comparison.

- SQLite: an FTS5 external-content table with the *trigram* tokenizer, kept in step with `mention`
  by triggers. Chinese has no spaces between words, so word tokenizers (unicode61) index a whole
  clause as one token and "外卖" would never match "快送外卖太慢"; trigrams give substring matching
  for any script. Terms shorter than three characters cannot use a trigram index; the search code
  falls back to LIKE for those.
- PostgreSQL: a trigram GIN index (pg_trgm) on title + text, serving ILIKE '%term%' for any script:
  the same substring semantics as SQLite. A to_tsvector('simple', ...) index was tried first and
  rejected: the 'simple' parser keeps a run of Chinese with embedded digits or Latin as one token
  ("我要投诉到12315"), so neither "投诉" nor "12315" would ever match. pg_trgm is a trusted extension
  (PostgreSQL 13+: a database owner may create it); where it cannot be created the migration goes on
  without the index and search still works, by sequential scan.

A later migration that rebuilds `mention` with batch mode on SQLite drops these triggers and must
recreate them.
"""
import logging

from alembic import op
from sqlalchemy.exc import DBAPIError

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

log = logging.getLogger("alembic.runtime.migration")
# The exact expression the search code queries (repwatch/web/queries/search.py), so PostgreSQL's
# planner can use the index.
PG_TEXT = "(coalesce(title, '') || ' ' || text)"

SQLITE_UP = [
    "CREATE VIRTUAL TABLE fts_mention USING fts5("
    "title, text, content='mention', content_rowid='id', tokenize='trigram')",
    "CREATE TRIGGER fts_mention_ai AFTER INSERT ON mention BEGIN "
    "INSERT INTO fts_mention(rowid, title, text) VALUES (new.id, new.title, new.text); END",
    "CREATE TRIGGER fts_mention_ad AFTER DELETE ON mention BEGIN "
    "INSERT INTO fts_mention(fts_mention, rowid, title, text) VALUES ('delete', old.id, old.title, old.text); END",
    "CREATE TRIGGER fts_mention_au AFTER UPDATE OF title, text ON mention BEGIN "
    "INSERT INTO fts_mention(fts_mention, rowid, title, text) VALUES ('delete', old.id, old.title, old.text); "
    "INSERT INTO fts_mention(rowid, title, text) VALUES (new.id, new.title, new.text); END",
    # rows stored before this migration
    "INSERT INTO fts_mention(fts_mention) VALUES ('rebuild')",
]
SQLITE_DOWN = [
    "DROP TRIGGER IF EXISTS fts_mention_au",
    "DROP TRIGGER IF EXISTS fts_mention_ad",
    "DROP TRIGGER IF EXISTS fts_mention_ai",
    "DROP TABLE IF EXISTS fts_mention",
]


def upgrade() -> None:
    dialect = op.get_bind().dialect.name
    if dialect == "sqlite":
        for statement in SQLITE_UP:
            op.execute(statement)
    elif dialect == "postgresql":
        schema = _pg_trgm_schema()
        if schema is not None:
            op.execute(f'CREATE INDEX fts_mention_trgm ON mention USING gin ({PG_TEXT} "{schema}".gin_trgm_ops)')


def _pg_trgm_schema() -> str | None:
    """The schema pg_trgm lives in, installing it into public when it is missing and allowed."""
    bind = op.get_bind()
    find = ("SELECT n.nspname FROM pg_extension e JOIN pg_namespace n ON n.oid = e.extnamespace "
            "WHERE e.extname = 'pg_trgm'")
    schema = bind.exec_driver_sql(find).scalar()
    if schema is None:
        try:
            with bind.begin_nested():  # a refusal must not abort the rest of the migration
                bind.exec_driver_sql("CREATE EXTENSION IF NOT EXISTS pg_trgm SCHEMA public")
        except DBAPIError as exc:
            log.warning("pg_trgm could not be created (%s); mention search will work without an index",
                        str(exc.orig).strip())
            return None
        schema = bind.exec_driver_sql(find).scalar()
    return schema


def downgrade() -> None:
    dialect = op.get_bind().dialect.name
    if dialect == "sqlite":
        for statement in SQLITE_DOWN:
            op.execute(statement)
    elif dialect == "postgresql":
        op.execute("DROP INDEX IF EXISTS fts_mention_trgm")  # the extension stays: others may use it
