"""app_user.session_version: logging out, a password change or disabling ends sessions at once

Revision ID: 0003
Revises: 0002

A revision of its own rather than a regenerated 0001, so databases made before it (the demo's, a
trial install's) gain the column too. It adds the column only where it is missing, so a later
regeneration of 0001 from the models (storage/regen_initial.py), which will hold the column, does
not break it.
"""
from alembic import op
import sqlalchemy as sa

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def _has_column() -> bool:
    return "session_version" in {c["name"] for c in sa.inspect(op.get_bind()).get_columns("app_user")}


def upgrade() -> None:
    # sessions issued before carry no version, so everyone logs in once more after this upgrade
    if not _has_column():
        op.add_column("app_user", sa.Column("session_version", sa.Integer(), server_default="0", nullable=False))


def downgrade() -> None:
    if _has_column():
        # plain DROP COLUMN (SQLite 3.35+): a batch rebuild would drop app_user, and with foreign
        # keys on that deletes every API token pointing at it
        op.execute("ALTER TABLE app_user DROP COLUMN session_version")
