"""incident grouping by meaning: term state, label, merges

Revision ID: 0004
Revises: 0003

Incident.terms holds what alerts/incidents/grouping.py needs to match later posts against the incident (its
centroid and first-post term weights), so the index is rebuilt from the database after a restart
without re-reading posts. Incident.label is its key terms; Incident.merged_into points at the
incident it was merged into.
"""
import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("incident", schema=None) as batch_op:
        batch_op.add_column(sa.Column("terms", sa.JSON(), nullable=True))
        batch_op.add_column(sa.Column("label", sa.String(length=300), nullable=True))
        batch_op.add_column(sa.Column("merged_into", sa.Integer(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("incident", schema=None) as batch_op:
        batch_op.drop_column("merged_into")
        batch_op.drop_column("label")
        batch_op.drop_column("terms")
