"""What a digest contains and who gets it (each email address with its own view, and chat channels). When it is sent is the scheduler's business (repwatch/schedule.py)."""
from __future__ import annotations

from typing import Literal, Optional

from pydantic import Field, field_validator, model_validator

from alerts.notify.email import SmtpSettings
from storage.types import Strict

Locale = Literal["zh", "en"]


class Recipient(Strict):
    """One address, with an optional narrower view: a store manager gets only their stores."""

    to: str
    locale: Optional[Locale] = None                       # None: the digest's locale
    targets: list[str] = Field(default_factory=list)      # watch targets; empty = all
    sources: list[str] = Field(default_factory=list)      # source names; empty = all

    @model_validator(mode="before")
    @classmethod
    def _from_string(cls, value):
        # `- team@example.com` is shorthand for `- {to: team@example.com}`
        return {"to": value} if isinstance(value, str) else value

    @field_validator("to")
    @classmethod
    def _address(cls, value: str) -> str:
        if value.count("@") != 1 or any(c.isspace() or c in ",;<>" for c in value):
            raise ValueError(f"{value!r} is not one email address (name@example.com)")
        return value


RETIRED = {
    "send_attempts": "is no longer used: a digest is delivered through the notification log like every alert, "
                     "and a temporary failure is retried on later runs after alerts.delivery.retry_backoff "
                     "(doubling), up to alerts.delivery.max_attempts. Remove this key",
}


class DigestSettings(Strict):
    name: str = Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")
    sender: Optional[str] = Field(default=None, alias="from", description="the sender of the email digest")
    smtp: Optional[SmtpSettings] = None
    recipients: list[Recipient] = Field(default_factory=list, description="addresses that get the full email")
    notify: list[str] = Field(default_factory=list, description="notifier names (`notify:`) that get the short "
                              "summary with a link; an email notifier gets the full digest")
    locale: Locale = "zh"
    subject_prefix: str = "[repwatch]"
    top: int = Field(default=5, ge=1, le=50, description="rows in each top list")
    # keys of the second delivery protocol that the notification log replaced: said so plainly, not "unknown key"
    send_attempts: Optional[int] = Field(default=None, exclude=True)

    @field_validator("send_attempts", mode="before")
    @classmethod
    def _retired(cls, value):
        if value is not None:
            raise ValueError(RETIRED["send_attempts"])
        return value

    @model_validator(mode="after")
    def _somewhere_to_go(self):
        if not self.recipients and not self.notify:
            raise ValueError("a digest needs `recipients` (email addresses) or `notify` (notifier names), or both")
        if self.recipients:
            missing = [key for key, value in (("from", self.sender), ("smtp", self.smtp)) if value is None]
            if missing:
                raise ValueError(f"email recipients need {' and '.join(f'`{k}`' for k in missing)} "
                                 "(the sender address and the SMTP server)")
        return self

    @model_validator(mode="after")
    def _unique_recipients(self):
        seen: set[str] = set()
        for r in self.recipients:
            if r.to.lower() in seen:
                raise ValueError(f"recipient {r.to!r} is listed twice; one digest per address")
            seen.add(r.to.lower())
        return self

    def recipient(self, address: str) -> Optional[Recipient]:
        return next((r for r in self.recipients if r.to.lower() == address.lower()), None)
