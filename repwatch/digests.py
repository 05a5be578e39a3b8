"""Wires a `digests:` job to alerts/digest: which digest, which timezone, which channels, and the database.

Delivery is the alerts' own protocol (alerts/digest/deliver.py over alerts/notify/dispatch.py's notification
log): at least once, with a delivery id, retried with the alert delivery policy's backoff."""
from __future__ import annotations

from datetime import date, datetime
from email.message import EmailMessage
from typing import Optional
from zoneinfo import ZoneInfo

from alerts import DigestOutcome, Notifier, Recipient, compose_digest, deliver_digest, digest_email_channel
from repwatch.config import Config
from repwatch.exceptions import RepwatchError
from repwatch.schedule import DigestJob, zone
from storage import Database

__all__ = ["DigestOutcome", "build", "channels", "digest_zone", "find_job", "send_digest", "write_eml"]


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


def channels(config: Config, job: DigestJob) -> list[Notifier]:
    """The notifiers a digest's `notify:` names, built from `notify:` as the alert stage builds them."""
    from repwatch.pipeline import build_notifier

    return [build_notifier(n) for n in config.notify if n.name in job.notify]


def build(db: Database, config: Config, job: DigestJob, recipient: Recipient, day: date, now: datetime) -> EmailMessage:
    """The email a recipient gets, built exactly as the email channel sends it, without logging or sending
    (`repwatch digest`'s preview, --out and --html)."""
    with db.session() as s:
        alert = compose_digest(s, job, recipient, day, digest_zone(config, job), now, base_url=config.base_url)
    notifier = digest_email_channel(job.model_copy(update={"recipients": [recipient]})) if job.smtp else None
    if notifier is None:
        raise RepwatchError(f"digest {job.name!r} has no email recipients (`from` and `smtp`) to preview")
    return notifier.build(alert)


def send_digest(db: Database, config: Config, name: str, day: date, now: datetime, *,
                only: Optional[list[str]] = None, with_channels: bool = True) -> list[DigestOutcome]:
    """Log and send the digest of `day` to its recipients (those in `only`) and, with `with_channels`, its
    chat channels; whatever was sent before is skipped. One outcome per recipient and channel."""
    job = find_job(config, name)
    with db.session() as s:
        return deliver_digest(s, job, day, digest_zone(config, job), now, channels=channels(config, job) if with_channels else (),
                    policy=config.alerts.delivery, base_url=config.base_url, only=only, commit=s.commit)


def write_eml(message: EmailMessage, path: str) -> None:
    with open(path, "wb") as fh:
        fh.write(bytes(message))
