"""Deliver alerts through notifiers, deduplicated by the persistent notification log.

A (alert key, channel) pair is sent at most once, across reruns and restarts: the log row is claimed
before sending, and a row marked sent is never sent again."""
from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime
from typing import Callable, Sequence

from sqlalchemy import select
from sqlalchemy.orm import Session

from alerts.notify.base import Alert, Delivered, Failed, Notifier
from storage.models import Notification
from storage.writes import insert_ignore

log = logging.getLogger(__name__)
MAX_ATTEMPTS = 5


@dataclass
class DispatchReport:
    sent: int = 0
    skipped: int = 0
    failed: int = 0
    retry_later: int = 0


def dispatch(session: Session, alerts: Sequence[Alert], notifiers: Sequence[Notifier], now: datetime,
             commit: Callable[[], None] | None = None) -> DispatchReport:
    report = DispatchReport()
    for alert in alerts:
        for notifier in notifiers:
            key = f"{alert.key}@{notifier.name}"
            insert_ignore(session, Notification, dict(
                key=key, channel=notifier.name, kind=alert.kind, ticket_id=alert.ticket_id, status="pending",
                attempts=0, created_at=now, summary=alert.title[:500]), ["key"])
            row = session.scalar(select(Notification).where(Notification.key == key))
            if row.status == "sent" or (row.status == "failed" and row.attempts >= MAX_ATTEMPTS):
                report.skipped += 1
                continue
            row.attempts += 1
            outcome = notifier.send(alert)
            if isinstance(outcome, Delivered):
                row.status, row.sent_at, row.last_error = "sent", now, None
                report.sent += 1
            else:
                row.last_error = outcome.error
                # Retryable failures stay pending and are tried again on the next run.
                row.status = "failed" if isinstance(outcome, Failed) or row.attempts >= MAX_ATTEMPTS else "pending"
                if row.status == "failed":
                    report.failed += 1
                else:
                    report.retry_later += 1
                log.warning("notify %s via %s: %s", alert.key, notifier.name, outcome.error)
            if commit:
                commit()   # record each delivery at once, so a crash mid-batch never re-sends
    return report
