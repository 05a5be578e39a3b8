"""Deliver alerts through notifiers with a persistent notification log (Alertmanager's nflog).

One row per (alert key, channel) holds the alert itself, so:
- a restart or a rerun never sends a row marked sent again;
- a delivery that failed with a retryable error is rebuilt from the row and retried on a later run,
  after a backoff that doubles, up to `max_attempts`;
- a still-firing alert (repeatable, e.g. a spread alarm) is sent again only after `repeat_interval`;
- a new alert waits `group_wait` (urgent ones do not), and non-urgent ones wait out quiet hours;
- alerts of one group (one incident, else one target) that are due together go out as one message;
- silenced alerts are logged as `silenced` and not sent;
- a channel with a rate (the chat robots, alerts/notify/robots.py) that has used it up answers Deferred:
  the rows stay pending, without an attempt counted, until the channel's window frees, and go out on a
  later run; the window of recent sends per robot is kept in DetectorState (`rate:<hash of the URL>`),
  so a new process knows what the last one sent;
- a message sent in parts that stopped part-way (a failure, or the robot saying "too fast") keeps how
  far it got on its rows (`payload._progress`, tied to the delivery id), and the next try of the same
  delivery goes on from the next part instead of repeating the first ones.
Each group's outcome is committed at once (with `commit`), so a crash mid-batch never re-sends.

The daily digest is an alert of kind "digest" with its own recipients (alerts/digest/deliver.py) and
goes through the same log: `enqueue`, then `deliver_due` with `only=digest_rows(...)`, while the alert
stage delivers `only=alert_rows()`. Each row thus has exactly one sender, and the digest job and the
alert stage (separate locks in distributed mode) never both pick up one row."""
from __future__ import annotations

import hashlib
import logging
from dataclasses import dataclass, fields
from datetime import datetime, timedelta, tzinfo
from itertools import groupby
from typing import Callable, Sequence

from sqlalchemy import ColumnElement, select
from sqlalchemy.orm import Session

from alerts.notify import silences
from alerts.notify.base import Alert, Deferred, Delivered, Failed, Notifier
from alerts.notify.limits import SendWindow
from alerts.notify.policy import combine, due_time
from alerts.settings import DeliverySettings
from storage.context import RunContext
from storage.models import DetectorState, Notification, Ticket
from storage.timefmt import local_time
from storage.vocabulary import severity_rank
from storage.writes import insert_ignore

log = logging.getLogger(__name__)
DIGEST = "digest"   # the alert kind of a daily digest (alerts/digest/deliver.py)


@dataclass
class DispatchReport:
    sent: int = 0
    skipped: int = 0
    failed: int = 0
    retry_later: int = 0
    silenced: int = 0
    waiting: int = 0        # queued behind group_wait or quiet hours
    messages: int = 0       # messages actually handed to notifiers (a group is one message)
    deferred: int = 0       # pending until the channel's rate allows (or after its "too fast")

    def __add__(self, other: "DispatchReport") -> "DispatchReport":
        return DispatchReport(**{f.name: getattr(self, f.name) + getattr(other, f.name) for f in fields(self)})


def _wants(notifier: Notifier, alert: Alert) -> bool:
    # a digest goes to the channels its config names; min_severity is about alerts
    return alert.kind == DIGEST or severity_rank(alert.severity) >= severity_rank(notifier.min_severity)


def alert_rows() -> ColumnElement[bool]:
    """The rows the alert stage sends: everything but digests."""
    return Notification.kind != DIGEST


def digest_rows(prefix: str) -> ColumnElement[bool]:
    """The rows one digest run sends: its own keys (`digest:<name>:<day>`), whatever the channel."""
    return (Notification.kind == DIGEST) & Notification.key.startswith(prefix, autoescape=True)


def enqueue(session: Session, alerts: Sequence[Alert], notifiers: Sequence[Notifier], ctx: RunContext,
            policy: DeliverySettings) -> DispatchReport:
    """Log every alert once per notifier that wants it, due now or when group_wait or quiet hours end."""
    report, now, tz = DispatchReport(), ctx.now, ctx.tz
    for alert in alerts:
        for notifier in notifiers:
            if not _wants(notifier, alert):
                continue
            key = f"{alert.key}@{notifier.name}"
            due = due_time(alert, now, policy, tz)
            payload = {**alert.to_dict(), "tz": alert.tz or tz.key}   # times are shown in the team's zone
            if insert_ignore(session, Notification, dict(
                    key=key, channel=notifier.name, kind=alert.kind, ticket_id=alert.ticket_id, status="pending",
                    attempts=0, created_at=now, summary=alert.title[:500], payload=payload,
                    group_key=alert.group, due_at=due, sends=0), ["key"]):
                continue
            row = session.scalar(select(Notification).where(Notification.key == key))
            assert row is not None   # the insert was ignored: the row is there
            last = row.sent_at or row.created_at
            if alert.repeatable and row.status in ("sent", "silenced") and now - last >= policy.repeat_interval:
                # still firing after repeat_interval: send again, with the fresh evidence
                row.status, row.attempts, row.last_error = "pending", 0, None
                row.payload, row.due_at, row.summary = payload, due, alert.title[:500]
            elif row.status == "pending" and alert.repeatable:
                row.payload = payload    # not sent yet: send the newest figures
            else:
                report.skipped += 1
    return report


def deliver_due(session: Session, notifiers: Sequence[Notifier], now: datetime, policy: DeliverySettings,
                commit: Callable[[], None] | None = None, *,
                only: ColumnElement[bool] | None = None, tz: tzinfo | None = None) -> DispatchReport:
    """Send everything in the log that is due: new alerts, retries, and groups whose wait is over
    (`only`: just the rows matching it, e.g. alert_rows() or one digest's digest_rows()). `tz`: the team's
    timezone, for the times in what the log says to people (UTC when not given)."""
    report = DispatchReport()
    muting = silences.active(session, now)
    windows: dict[str, SendWindow] = {}     # one per robot, shared by the notifiers that post to it
    for notifier in notifiers:
        window_key = notifier.window_key()
        if window_key is not None:
            if window_key not in windows:
                windows[window_key] = _load_window(session, window_key)
            notifier.use_window(windows[window_key])
        stmt = select(Notification).where(Notification.channel == notifier.name, Notification.status == "pending")
        if only is not None:
            stmt = stmt.where(only)
        rows = list(session.scalars(stmt.order_by(Notification.group_key, Notification.id)))
        groups = [list(members) for _, members in groupby(rows, key=lambda r: r.group_key or r.key)]
        # most severe first, then oldest: when a channel's rate runs out, what waits is the mildest
        groups.sort(key=lambda members: (-max(severity_rank((r.payload or {}).get("severity")) for r in members),
                                         members[0].id))
        for members in groups:
            if not any(r.due_at is None or r.due_at <= now for r in members):
                report.waiting += len(members)
                continue
            # the group is due: everything in it that is not backing off after a failure goes together
            batch = [r for r in members if r.attempts == 0 or r.due_at is None or r.due_at <= now]
            report.waiting += len(members) - len(batch)
            _send_group(session, notifier, batch, now, policy, muting, report, tz)
            state = notifier.window_state()
            if window_key is not None and state is not None:
                _keep_window(session, window_key, state, now)
            if commit:
                commit()
    return report


def _send_group(session: Session, notifier: Notifier, rows: list[Notification], now: datetime,
                policy: DeliverySettings, muting, report: DispatchReport, tz: tzinfo | None = None) -> None:
    live = []
    for row in rows:
        alert = Alert.from_dict(row.payload) if row.payload else Alert(
            key=row.key.rsplit("@", 1)[0], kind=row.kind, title=row.summary or "", severity="general", summary="")
        silence = silences.muted_by(muting, alert)
        if silence is not None:
            row.status, row.last_error = "silenced", f"silenced by silence {silence.id} until {local_time(silence.ends_at, tz)}"
            report.silenced += 1
        else:
            live.append((row, alert))
    if not live:
        return
    message = combine([a for _, a in live])
    message.delivery = delivery_id(notifier.name, [row for row, _ in live])
    message.resume = _progress(live, message.delivery)
    outcome = notifier.send(message)
    if isinstance(outcome, Deferred):
        # not now, and no failure: the rate is used up or the robot said "too fast"; no attempt is counted
        for row, _ in live:
            row.due_at = now + timedelta(seconds=outcome.retry_after)
            row.last_error = f"waiting: {outcome.error}"[:2000]
            _keep_progress(row, outcome.progress, message.delivery)
            report.deferred += 1
        log.info("notify %s via %s deferred: %s", message.key, notifier.name, outcome.error)
        return
    report.messages += 1
    for row, alert in live:
        row.attempts += 1
        if isinstance(outcome, Delivered):
            row.status, row.sent_at, row.last_error = "sent", now, None
            row.sends += 1
            if (row.payload or {}).get("document"):
                # a sent row is never rebuilt: keep its short form, not the digest's HTML and chart
                row.payload = {**row.payload, "document": None}
            _keep_progress(row, None, None)
            report.sent += 1
            if outcome.ref and alert.ticket_id:
                _remember_ref(session, alert.ticket_id, notifier.name, outcome.ref)
            continue
        row.last_error = outcome.error[:2000]
        if isinstance(outcome, Failed) or row.attempts >= policy.max_attempts:
            row.status = "failed"
            report.failed += 1
        else:
            row.due_at = now + policy.retry_backoff * (2 ** (row.attempts - 1))
            _keep_progress(row, outcome.progress, message.delivery)
            report.retry_later += 1
    if not isinstance(outcome, Delivered):
        log.warning("notify %s via %s: %s", message.key, notifier.name, outcome.error)


def _progress(live: list[tuple[Notification, Alert]], delivery: str) -> dict | None:
    """How far an earlier try of this very delivery got, when every row of it agrees."""
    found = [(row.payload or {}).get("_progress") for row, _ in live]
    first = found[0]
    if first and first.get("delivery") == delivery and all(p == first for p in found):
        return {"parts": first.get("parts", 0), "digest": first.get("digest")}
    return None


def _keep_progress(row: Notification, progress: dict | None, delivery: str | None) -> None:
    payload = dict(row.payload or {})
    if progress:
        payload["_progress"] = {**progress, "delivery": delivery}
    elif "_progress" in payload:
        del payload["_progress"]
    else:
        return
    row.payload = payload


def _load_window(session: Session, key: str) -> SendWindow:
    return SendWindow.from_state(session.scalar(select(DetectorState.state).where(DetectorState.key == key)))


def _keep_window(session: Session, key: str, state: dict, now: datetime) -> None:
    if not insert_ignore(session, DetectorState, dict(key=key, state=state, updated_at=now), ["key"]):
        row = session.scalar(select(DetectorState).where(DetectorState.key == key))
        assert row is not None   # the insert was ignored: the row is there
        row.state, row.updated_at = state, now


def delivery_id(channel: str, rows: list[Notification]) -> str:
    """Stable across tries of one sending (only a delivered send bumps `sends`), new for the next one."""
    ident = "\n".join(sorted(f"{row.key}#{row.sends}" for row in rows))
    return hashlib.sha256(f"{channel}\n{ident}".encode()).hexdigest()[:32]


def _remember_ref(session: Session, ticket_id: int, channel: str, ref: str) -> None:
    """The Jira issue or Zendesk ticket made for our ticket, so people can find it from ours."""
    ticket = session.get(Ticket, ticket_id)
    if ticket is not None and (ticket.external_refs or {}).get(channel) != ref:
        ticket.external_refs = {**(ticket.external_refs or {}), channel: ref}
