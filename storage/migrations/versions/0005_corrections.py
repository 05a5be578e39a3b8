"""corrections: the team's verdicts on mentions and tickets (issue 15, "corrections teach the model")

Revision ID: 0005
Revises: 0004
"""
from alembic import op
import sqlalchemy as sa
import storage.models.base


revision = '0005'
down_revision = '0004'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('correction',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('mention_id', sa.Integer(), nullable=True),
    sa.Column('ticket_id', sa.Integer(), nullable=True),
    sa.Column('at', storage.models.base.UTCDateTime(timezone=True), nullable=False),
    sa.Column('actor', sa.String(length=200), nullable=False),
    sa.Column('complaint', sa.Boolean(), nullable=False),
    sa.Column('categories', sa.JSON(), nullable=False),
    sa.Column('severity', sa.String(length=10), nullable=True),
    sa.Column('changed', sa.JSON(), nullable=False),
    sa.Column('reason', sa.Text(), nullable=True),
    sa.Column('predicted', sa.JSON(), nullable=False),
    sa.ForeignKeyConstraint(['mention_id'], ['mention.id'], name=op.f('fk_correction_mention_id_mention'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['ticket_id'], ['ticket.id'], name=op.f('fk_correction_ticket_id_ticket'), ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_correction'))
    )
    with op.batch_alter_table('correction', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_correction_at'), ['at'], unique=False)
        batch_op.create_index(batch_op.f('ix_correction_mention_id'), ['mention_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_correction_ticket_id'), ['ticket_id'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('correction', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_correction_ticket_id'))
        batch_op.drop_index(batch_op.f('ix_correction_mention_id'))
        batch_op.drop_index(batch_op.f('ix_correction_at'))
    op.drop_table('correction')
