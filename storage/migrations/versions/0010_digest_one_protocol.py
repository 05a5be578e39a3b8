"""digest rows join the alerts' delivery protocol (issue 14, point 5): data only, no schema change

The digest used to log each (digest, day, address) as `digest:<name>:<day>:<address>` on the channel
`digest:<name>` and claim it (pending → sending) before sending, at most once. It is now an alert of kind
"digest" in the same notification log as every alert, keyed `<alert key>@<channel>` like them. So:
- every digest row gets its channel appended to its key: the new protocol finds a digest sent before the
  upgrade under the key it looks for, and never sends it again;
- a row left at `sending` (a process died during the SMTP conversation: it may have arrived) becomes
  `failed`, saying so: the new protocol has no `sending`, and this one is still never sent again;
- a row left `pending` (a temporary failure, not delivered) is deleted: it holds no alert to rebuild a
  message from, and the digest's next run logs it afresh and sends it, once.
Downgrade takes the channel off the keys again; `failed` stays failed, which the old protocol never
re-sends either, and the deleted pending rows are what the old protocol would send anyway.

Revision ID: 0010
Revises: 0009
"""
from alembic import op
import sqlalchemy as sa


revision = '0010'
down_revision = '0009'
branch_labels = None
depends_on = None

INTERRUPTED = ("interrupted during the SMTP conversation before the upgrade to one delivery protocol; "
               "it may have arrived, so it is not sent again")


def upgrade() -> None:
    digest = "kind = 'digest' AND channel LIKE 'digest:%' AND key NOT LIKE '%@' || channel"
    op.execute(sa.text(f"DELETE FROM notification WHERE {digest} AND status = 'pending'"))
    op.execute(sa.text(f"UPDATE notification SET status = 'failed', last_error = :why "
                       f"WHERE {digest} AND status = 'sending'").bindparams(why=INTERRUPTED))
    op.execute(sa.text(f"UPDATE notification SET key = key || '@' || channel WHERE {digest}"))


def downgrade() -> None:
    op.execute(sa.text("UPDATE notification SET key = substr(key, 1, length(key) - length(channel) - 1) "
                       "WHERE kind = 'digest' AND channel LIKE 'digest:%' AND key LIKE '%@' || channel"))
