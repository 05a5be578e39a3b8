"""sentence vectors for grouping by meaning (issue 16): each complaint's vector, each incident's centroid

Revision ID: 0011
Revises: 0010

mention_vector holds a grouped complaint's unit sentence vector (multilingual-e5-small, float16 bytes, 768
for 384 numbers) and the encoder's version; Incident.centroid the float32 sum of its posts' vectors
(centred: alerts/incidents/grouping.py). A
restart rebuilds the grouping index from these without re-reading or re-encoding a post. Incidents and
posts from before have none: `repwatch incident backfill` computes them; until then they are matched on
words alone. Downgrade drops both (the word-level state in Incident.terms is untouched).
"""
import sqlalchemy as sa
from alembic import op

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "mention_vector",
        sa.Column("mention_id", sa.Integer(), nullable=False),
        sa.Column("vector", sa.LargeBinary(), nullable=False),
        sa.Column("model", sa.String(length=60), nullable=False),
        sa.ForeignKeyConstraint(["mention_id"], ["mention.id"], name=op.f("fk_mention_vector_mention_id_mention"),
                                ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("mention_id", name=op.f("pk_mention_vector")),
    )
    with op.batch_alter_table("incident", schema=None) as batch_op:
        batch_op.add_column(sa.Column("centroid", sa.LargeBinary(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("incident", schema=None) as batch_op:
        batch_op.drop_column("centroid")
    op.drop_table("mention_vector")
