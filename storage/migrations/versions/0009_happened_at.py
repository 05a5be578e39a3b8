"""mention.happened_at: the event time stored and indexed (issue 18)

Every query by event time (incidents, spread, the digest, evidence, search, reports) filtered on a
CASE over published_at and collected_at, which no index serves. The value is now a column, written
with every row by storage.vocabulary.event_time (the one rule), and existing rows are backfilled here
with the same rule in SQL (event_time_sql).

Added in place (ALTER TABLE ADD COLUMN), never by rebuilding `mention`: on SQLite a rebuild would
drop 0002's full-text triggers. Nullable in the schema for the same reason (SQLite cannot add NOT
NULL without a rebuild); every insert path fills it.

Revision ID: 0009
Revises: 0008
"""
from alembic import op
import sqlalchemy as sa
import storage.models.base
from storage.vocabulary import event_time_sql


revision = '0009'
down_revision = '0008'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column('mention', sa.Column('happened_at', storage.models.base.UTCDateTime(timezone=True), nullable=True))
    mention = sa.table('mention', sa.column('published_at'), sa.column('collected_at'), sa.column('happened_at'))
    op.execute(mention.update().values(happened_at=event_time_sql(mention.c.published_at, mention.c.collected_at)))
    op.create_index(op.f('ix_mention_happened_at'), 'mention', ['happened_at'], unique=False)


def downgrade() -> None:
    op.drop_index(op.f('ix_mention_happened_at'), table_name='mention')
    # in place on SQLite too (3.35+): batch mode would rebuild `mention` and lose the FTS triggers
    op.execute('ALTER TABLE mention DROP COLUMN happened_at')
