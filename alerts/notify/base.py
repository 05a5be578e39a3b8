"""The notifier contract: send(alert) -> Delivered | Retryable(error) | Failed(error).
Like Alertmanager's Notifier.Notify, the result says whether trying again could help."""
from __future__ import annotations

import time
from abc import ABC, abstractmethod
from dataclasses import asdict, dataclass, field, fields
from typing import Callable, ClassVar, Generic, Self, TypeVar, Union

from storage.types import Strict

O = TypeVar("O", bound=Strict)


@dataclass
class Alert:
    key: str                 # what this is about, stable across reruns (e.g. "ticket:12:opened")
    kind: str                # ticket | escalation | health | spike | digest
    title: str
    severity: str
    summary: str
    category: str | None = None
    url: str | None = None
    ticket_id: int | None = None
    incident_id: int | None = None
    evidence: list[dict] = field(default_factory=list)   # [{"text", "url", "author", "reach"}]
    figures: dict = field(default_factory=dict)          # {"count": 7, "expected": 1.2}
    target: str | None = None        # the watch target, for silences and grouping
    repeatable: bool = False         # still firing: may be sent again after repeat_interval
    # Which sending this is, set by the dispatcher: the same when a send is tried again (a crash after the
    # receiver took it, a lost response), new when a still-firing alert is announced again. Receivers
    # dedupe on it (email Message-ID, webhook Idempotency-Key); None when sent outside the dispatcher.
    delivery: str | None = None
    # Who gets it, when the alert names its own recipients (a digest goes to each of its addresses with its
    # own filters): email sends to these instead of the notifier's `to`; other channels ignore it.
    to: list[str] | None = None
    # A full rendering for channels that can show one (email: the digest's text and HTML parts with their
    # inline images, base64). Chat robots and webhooks send the short form above (title, summary, url).
    # {"subject": str, "text": str, "html": str, "images": [{"cid", "filename", "subtype", "data"}]}
    document: dict | None = None

    def to_dict(self) -> dict:
        """Kept on the notification row, so a delivery that failed can be rebuilt and retried later."""
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict) -> "Alert":
        known = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in data.items() if k in known})

    @property
    def group(self) -> str:
        """Alerts about one incident (else one target) arriving together go out as one message."""
        if self.incident_id is not None:
            return f"incident:{self.incident_id}"
        if self.ticket_id is not None:
            return f"ticket:{self.ticket_id}"
        if self.target:
            return f"target:{self.target}:{self.kind}"
        return f"alert:{self.key}"


@dataclass
class Delivered:
    detail: str = ""
    ref: str | None = None   # the record made elsewhere (a Jira key, a Zendesk id), kept on the ticket
    ok: ClassVar[bool] = True


@dataclass
class Retryable:
    error: str
    ok: ClassVar[bool] = False


@dataclass
class Failed:
    error: str
    ok: ClassVar[bool] = False


Outcome = Union[Delivered, Retryable, Failed]


class Notifier(ABC, Generic[O]):
    """A channel. Generic over its options model, so `self.options` has the subclass's own type."""

    kind: ClassVar[str]
    Options: ClassVar[type[Strict]]

    def __init__(self, name: str, options: O, *, min_severity: str = "general"):
        self.name = name
        self.options: O = options
        self.min_severity = min_severity   # alerts milder than this are not sent here
        # The edges of time, replaceable in tests: the wall clock for request signatures (a robot
        # rejects a stale timestamp, so this is real time, not the pipeline's `now`) and sleep for backoff.
        self.wall: Callable[[], float] = time.time
        self.sleep: Callable[[float], None] = time.sleep

    @classmethod
    def from_config(cls, name: str, options: O, *, min_severity: str = "general") -> Self:
        """Build from a validated config entry: the one way the pipeline makes notifiers."""
        return cls(name, options, min_severity=min_severity)

    @abstractmethod
    def send(self, alert: Alert) -> Outcome:
        """Deliver one alert. Never raises for delivery problems: returns Retryable or Failed."""
