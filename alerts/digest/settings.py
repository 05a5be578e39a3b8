"""What a digest contains and who gets it. When it is sent is the scheduler's business (repwatch/schedule.py)."""
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


class DigestSettings(Strict):
    name: str = Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")
    sender: str = Field(alias="from")
    smtp: SmtpSettings
    recipients: list[Recipient] = Field(min_length=1)
    locale: Locale = "zh"
    subject_prefix: str = "[repwatch]"
    top: int = Field(default=5, ge=1, le=50, description="rows in each top list")
    send_attempts: int = Field(default=3, ge=1, le=10, description="SMTP tries per run before leaving it to the next")

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
