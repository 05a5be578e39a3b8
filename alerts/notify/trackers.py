"""What the ticket-tracker notifiers (Jira, Zendesk) share: one external record per repwatch ticket
(else per incident), found again by an idempotency key, and one comment per alert, found again by a
marker in its text. So a retry after a lost response never duplicates the record or the comment."""
from __future__ import annotations

import hashlib

from alerts.notify.base import Alert
from alerts.notify.render import plain


def record_key(alert: Alert) -> str:
    """The same for every alert about one ticket: the first creates the record, later ones comment."""
    if alert.ticket_id is not None:
        return f"repwatch-ticket-{alert.ticket_id}"
    if alert.incident_id is not None:
        return f"repwatch-incident-{alert.incident_id}"
    return "repwatch-alert-" + hashlib.sha256(alert.key.encode()).hexdigest()[:16]


def marker(alert: Alert) -> str:
    return f"[repwatch:{alert.key}]"


def body(alert: Alert) -> str:
    return f"{plain(alert)}\n\n{marker(alert)}"
