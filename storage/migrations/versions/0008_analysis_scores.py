"""analysis.complaint_score and analysis.confidence: the learned models' probability and per-category
confidence, stored beside the verdict (issue 15)

Revision ID: 0008
Revises: 0007
"""
from alembic import op
import sqlalchemy as sa


revision = '0008'
down_revision = '0007'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('analysis', schema=None) as batch_op:
        batch_op.add_column(sa.Column('complaint_score', sa.Float(), nullable=True))
        batch_op.add_column(sa.Column('confidence', sa.JSON(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('analysis', schema=None) as batch_op:
        batch_op.drop_column('confidence')
        batch_op.drop_column('complaint_score')
