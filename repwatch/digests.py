"""Wires a `digests:` job to the digest builder (alerts/digest) and to SMTP, through the notification log.

A (digest, day, recipient) is sent at most once, across reruns, restarts and two processes racing:
the log row is claimed with one conditional UPDATE (pending → sending) before the SMTP conversation,
and only a Retryable outcome puts it back to pending. A process that dies mid-send leaves the row at
`sending`, which is never retried: a digest that may have arrived is not sent a second time."""
from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from datetime import date, datetime
from email.message import EmailMessage
from typing import Callable, Optional
from zoneinfo import ZoneInfo

from sqlalchemy import select, update

from alerts import Delivered, Failed, Outcome, Recipient, smtp_send
from repwatch.config import Config
from repwatch.due import DONE_STATUSES, digest_key
from repwatch.exceptions import RepwatchError
from repwatch.schedule import DigestJob, zone
from storage import Database
from storage.models import Notification
from storage.writes import execute_dml, insert_ignore

log = logging.getLogger("repwatch.digests")
BACKOFF = (2.0, 10.0, 30.0, 60.0)   # seconds between SMTP tries within one run
MAX_ATTEMPTS = 12                    # over all runs; then the row is marked failed and left for a person


@dataclass
class DigestOutcome:
    digest: str
    day: date
    to: str
    status: str        # sent | skipped | retry_later | failed
    detail: str = ""
    attempts: int = 0

    def line(self) -> str:
        return f"digest {self.digest} {self.day} → {self.to}: {self.status}" + (f" ({self.detail})" if self.detail else "")


def find_job(config: Config, name: Optional[str]) -> DigestJob:
    if name is None and len(config.digests) == 1:
        return config.digests[0]
    for job in config.digests:
        if job.name == name:
            return job
    known = ", ".join(j.name for j in config.digests) or "none configured (add a `digests:` section)"
    what = f"no digest named {name!r}" if name else "several digests are configured; pick one with --digest"
    raise RepwatchError(f"{what}; digests: {known}")


def digest_zone(config: Config, job: DigestJob) -> ZoneInfo:
    return zone(job.schedule, config.timezone)


def build(db: Database, config: Config, job: DigestJob, recipient: Recipient, day: date, now: datetime) -> EmailMessage:
    from alerts import (
        DigestScope as Scope, build_digest_message as build_message, gather_digest as gather, render_digest as render
    )

    scope = Scope(frozenset(recipient.targets), frozenset(recipient.sources))
    with db.session() as s:
        data = gather(s, day, digest_zone(config, job), scope, top=job.top, now=now)
    rendered = render(data, locale=recipient.locale or job.locale, prefix=job.subject_prefix, base_url=config.base_url)
    return build_message(rendered, sender=job.sender, to=recipient.to, now=now,
                         key=digest_key(job.name, day, recipient.to))


def _status(db: Database, key: str) -> Optional[str]:
    with db.session() as s:
        return s.scalar(select(Notification.status).where(Notification.key == key))


def _claim(db: Database, key: str, job: DigestJob, subject: str, now: datetime) -> bool:
    with db.session() as s:
        insert_ignore(s, Notification, dict(key=key, channel=f"digest:{job.name}", kind="digest", status="pending",
                                            attempts=0, created_at=now, summary=subject[:500]), ["key"])
        return execute_dml(s, update(Notification).where(Notification.key == key, Notification.status == "pending")
                         .values(status="sending")).rowcount == 1


def _deliver(job: DigestJob, message: EmailMessage, send, sleep) -> tuple[Outcome, int]:
    outcome: Outcome = Failed("not tried")
    for attempt in range(job.send_attempts):
        outcome = send(job.smtp, message)
        if isinstance(outcome, (Delivered, Failed)):
            return outcome, attempt + 1
        if attempt + 1 < job.send_attempts:
            sleep(BACKOFF[min(attempt, len(BACKOFF) - 1)])
    return outcome, job.send_attempts


def send_digest(db: Database, config: Config, name: str, day: date, now: datetime, *,
                only: Optional[list[str]] = None, sleep: Callable[[float], None] = time.sleep,
                send: Callable[..., Outcome] = smtp_send) -> list[DigestOutcome]:
    job = find_job(config, name)
    wanted = {a.lower() for a in only} if only is not None else None
    outcomes = []
    for recipient in job.recipients:
        if wanted is not None and recipient.to.lower() not in wanted:
            continue
        key = digest_key(job.name, day, recipient.to)
        if _status(db, key) in DONE_STATUSES:   # cheap check first: building renders a chart
            outcomes.append(DigestOutcome(job.name, day, recipient.to, "skipped", "already sent"))
            continue
        message = build(db, config, job, recipient, day, now)
        if not _claim(db, key, job, str(message["Subject"]), now):
            outcomes.append(DigestOutcome(job.name, day, recipient.to, "skipped", "already sent or in flight"))
            continue
        outcome, tries = _deliver(job, message, send, sleep)
        outcomes.append(_record(db, key, job, recipient, day, now, outcome, tries))
    return outcomes


def _record(db, key, job, recipient, day, now, outcome: Outcome, tries: int) -> DigestOutcome:
    with db.session() as s:
        row = s.scalar(select(Notification).where(Notification.key == key))
        row.attempts += tries
        if isinstance(outcome, Delivered):
            row.status, row.sent_at, row.last_error = "sent", now, None
            return DigestOutcome(job.name, day, recipient.to, "sent", outcome.detail, row.attempts)
        row.last_error = outcome.error
        final = isinstance(outcome, Failed) or row.attempts >= MAX_ATTEMPTS
        row.status = "failed" if final else "pending"
        log.warning("digest %s to %s: %s", key, recipient.to, outcome.error)
        return DigestOutcome(job.name, day, recipient.to, "failed" if final else "retry_later", outcome.error,
                             row.attempts)


def write_eml(message: EmailMessage, path: str) -> None:
    with open(path, "wb") as fh:
        fh.write(bytes(message))
