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
- PostgreSQL: a GIN index on to_tsvector('simple', ...), used for space-separated words (English,
  pinyin, model numbers). The 'simple' parser has the same problem with Chinese, so Chinese terms are
  matched with ILIKE (a sequential scan; fine at one brand's volume). A DBA with pg_trgm can add a
  trigram index to make those fast without any code change (docs/dashboard.md).

A later migration that rebuilds `mention` with batch mode on SQLite drops these triggers and must
recreate them.
"""
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

# The exact expression the search code queries, so PostgreSQL's planner can use the index.
PG_TSV = "to_tsvector('simple', coalesce(title, '') || ' ' || text)"

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
        op.execute(f"CREATE INDEX fts_mention_tsv ON mention USING gin ({PG_TSV})")


def downgrade() -> None:
    dialect = op.get_bind().dialect.name
    if dialect == "sqlite":
        for statement in SQLITE_DOWN:
            op.execute(statement)
    elif dialect == "postgresql":
        op.execute("DROP INDEX IF EXISTS fts_mention_tsv")
