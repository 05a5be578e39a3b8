"""The digest as an alert of kind "digest", delivered like every alert: through the notification log
(alerts/notify/dispatch.py) and the notifier registry. There is no second protocol.

One digest for one local day makes
- per email recipient, an alert with its own recipient (`Alert.to`), view (targets, sources) and
  language, and the full rendering (`Alert.document`: text, HTML, charts), sent by an EmailNotifier
  built from the digest's `smtp` and `from` on the channel `digest:<name>`;
- per channel named in the digest's `notify:`, one alert in the digest's language for everything: a chat
  robot or webhook sends its short form (title, a few lines of figures, a link to the dashboard), an
  email notifier the full digest.

Keys: `digest:<name>:<day>:<address>` per recipient and `digest:<name>:<day>` for the channels, each
logged as `<key>@<channel>`. So, as for alerts: a row marked sent is never sent again (a rerun for the
same day builds nothing and sends nothing); a temporary failure stays pending and is retried on a later
run of the digest after `alerts.delivery.retry_backoff`, doubling, up to `max_attempts`; a process that
dies between the server's accept and the log write sends once more, under the same delivery id (the
email's Message-ID), which mail systems collapse: at least once, at most one duplicate per crash."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, tzinfo
from typing import Optional, Sequence
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.orm import Session

from alerts.digest.data import gather
from alerts.digest.labels import LABELS
from alerts.digest.queries import Scope
from alerts.digest.render import figures, headline, render, scoped_prefix
from alerts.digest.settings import DigestSettings, Recipient
from alerts.notify.dispatch import DIGEST, deliver_due, digest_rows, enqueue
from alerts.notify.base import Alert, Notifier
from alerts.notify.email import EmailNotifier, EmailOptions
from alerts.settings import DeliverySettings
from storage.context import RunContext
from storage.models import Notification
from storage.timefmt import local_time

DONE = ("sent", "failed", "silenced")   # a row in one of these is never sent again


def day_prefix(name: str, day: date) -> str:
    return f"digest:{name}:{day.isoformat()}"


def recipient_key(name: str, day: date, address: str) -> str:
    return f"{day_prefix(name, day)}:{address.lower()}"


def channel_name(name: str) -> str:
    """The channel of a digest's own email recipients in the notification log."""
    return f"digest:{name}"


def log_key(alert_key: str, channel: str) -> str:
    """As alerts.notify.dispatch.enqueue writes it."""
    return f"{alert_key}@{channel}"


def recipient_log_key(name: str, day: date, address: str) -> str:
    return log_key(recipient_key(name, day, address), channel_name(name))


def channel_log_key(name: str, day: date, channel: str) -> str:
    return log_key(day_prefix(name, day), channel)


def email_channel(settings: DigestSettings) -> Optional[EmailNotifier]:
    """The notifier for the digest's email recipients (None when it has none): the registry's email
    notifier, with the digest's SMTP server and sender; each alert names its own recipient."""
    if not settings.recipients:
        return None
    options = EmailOptions.model_validate({"smtp": settings.smtp, "from": settings.sender,
                                           "to": [r.to for r in settings.recipients],
                                           "subject_prefix": settings.subject_prefix})
    return EmailNotifier.from_config(channel_name(settings.name), options)


def compose(session: Session, settings: DigestSettings, recipient: Optional[Recipient], day: date, tz: tzinfo,
            now: datetime, *, base_url: Optional[str] = None, full: bool = True) -> Alert:
    """The digest of `day` as an alert: for one recipient (their view and language), or for the digest's
    channels (recipient None: everything, in the digest's language). `full`: with the email rendering
    (charts drawn, ~0.5 s); without it, only the short form chat channels show."""
    scope = Scope(frozenset(recipient.targets), frozenset(recipient.sources)) if recipient else Scope()
    locale = (recipient.locale if recipient else None) or settings.locale
    data = gather(session, day, tz, scope, top=settings.top, now=now)
    link = base_url.rstrip("/") + "/" if base_url else None
    if full:
        rendered = render(data, locale=locale, prefix=settings.subject_prefix, base_url=base_url)
        subject, document = rendered.subject, rendered.document()
    else:
        subject = LABELS[locale]["subject"].format(
            prefix=scoped_prefix(data, settings.subject_prefix), day=day.isoformat(), mentions=data.today.mentions,
            negative_share="–" if data.today.negative_share is None else f"{100 * data.today.negative_share:.0f}%")
        document = None
    key = recipient_key(settings.name, day, recipient.to) if recipient else day_prefix(settings.name, day)
    return Alert(key=key,
                 kind=DIGEST, title=subject.strip(), severity="general", summary="\n".join(headline(data, locale)),
                 url=link, figures=figures(data), to=[recipient.to] if recipient else None, document=document)


@dataclass
class DigestOutcome:
    digest: str
    day: date
    to: str            # an address, or a channel name
    status: str        # sent | skipped | retry_later | failed
    detail: str = ""
    attempts: int = 0

    def line(self) -> str:
        return f"digest {self.digest} {self.day} → {self.to}: {self.status}" + (f" ({self.detail})" if self.detail else "")


def send(session: Session, settings: DigestSettings, day: date, tz: tzinfo, now: datetime, *,
         channels: Sequence[Notifier] = (), policy: DeliverySettings, base_url: Optional[str] = None,
         only: Optional[list[str]] = None, commit=None) -> list[DigestOutcome]:
    """Log the digest of `day` for each recipient (or those in `only`) and each channel that has not had it
    yet, then send what is due of this digest and day. Returns one outcome per recipient and channel.
    `commit` commits the session: the new rows are committed before any send, and each send's outcome
    right after it (as in the alert stage), so a crash never loses a row or sends a logged one twice."""
    email = email_channel(settings)
    wanted = {a.lower() for a in only} if only is not None else None
    recipients = [r for r in settings.recipients if wanted is None or r.to.lower() in wanted]
    targets: list[tuple[str, str, Optional[Recipient], Optional[Notifier]]] = [
        (recipient_log_key(settings.name, day, r.to), r.to, r, email) for r in recipients]
    targets += [(channel_log_key(settings.name, day, n.name), n.name, None, n) for n in channels]
    before = dict(session.execute(select(Notification.key, Notification.status)
                                  .where(Notification.key.in_([t[0] for t in targets]))).all()) if targets else {}
    ctx = RunContext(now, tz if isinstance(tz, ZoneInfo) else ZoneInfo(str(tz)))
    summary: dict[bool, Alert] = {}
    for key, _, recipient, notifier in targets:
        if key in before:      # logged already (cheap check first: building draws the charts)
            continue
        if recipient is not None:
            alert = compose(session, settings, recipient, day, tz, now, base_url=base_url)
        else:                  # one composition for all channels; the full one only for an email channel
            full = isinstance(notifier, EmailNotifier)
            if full not in summary:
                summary[full] = compose(session, settings, None, day, tz, now, base_url=base_url, full=full)
            alert = summary[full]
        assert notifier is not None   # an email recipient is only listed when there is an email channel
        enqueue(session, [alert], [notifier], ctx, policy)
    if commit:
        commit()
    senders = ([email] if email and recipients else []) + list(channels)
    deliver_due(session, senders, now, policy, commit, only=digest_rows(day_prefix(settings.name, day)), tz=tz)
    session.flush()
    rows = {r.key: r for r in session.scalars(select(Notification).where(
        Notification.key.in_([t[0] for t in targets])))} if targets else {}
    return [_outcome(settings.name, day, who, before.get(key), rows.get(key), tz) for key, who, _, _ in targets]


def _outcome(name: str, day: date, who: str, before: Optional[str], row: Optional[Notification],
             tz: tzinfo) -> DigestOutcome:
    if row is None:
        return DigestOutcome(name, day, who, "failed", "not logged")
    if before in DONE:
        detail = "already sent" if before == "sent" else f"{before} earlier: {row.last_error or ''}".rstrip(": ")
        return DigestOutcome(name, day, who, "skipped", detail, row.attempts)
    if row.status == "sent":
        return DigestOutcome(name, day, who, "sent", "", row.attempts)
    if row.status == "pending":
        detail = row.last_error or "waiting"
        if row.due_at is not None:
            detail += f"; next try after {local_time(row.due_at, tz)}"
        return DigestOutcome(name, day, who, "retry_later", detail, row.attempts)
    return DigestOutcome(name, day, who, "failed", row.last_error or row.status, row.attempts)
