"""sla pause: ticket.paused_at, set while a ticket waits for the customer (issue 17)

Revision ID: 0006
Revises: 0005
"""
from alembic import op
import sqlalchemy as sa
import storage.models.base


revision = '0006'
down_revision = '0005'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('ticket', schema=None) as batch_op:
        batch_op.add_column(sa.Column('paused_at', storage.models.base.UTCDateTime(timezone=True), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('ticket', schema=None) as batch_op:
        batch_op.drop_column('paused_at')
