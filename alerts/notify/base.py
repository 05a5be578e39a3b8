"""The notifier contract: send(alert) -> Delivered | Retryable(error) | Failed(error).
Like Alertmanager's Notifier.Notify, the result says whether trying again could help. Deferred, a kind
of Retryable, says "not now": the channel's rate is used up or the service said "too fast"; it is no
failure and is not counted as an attempt."""
from __future__ import annotations

import time
from abc import ABC, abstractmethod
from dataclasses import asdict, dataclass, field, fields
from typing import Callable, ClassVar, Generic, Self, TypeVar, Union

from alerts.notify.limits import SendWindow
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
    # The ticket's next SLA deadline, {"kind": "first_response" | "resolution", "due": ISO-8601 in UTC},
    # shown as "respond by …" in the team's timezone `tz` (an IANA name; the dispatcher sets it).
    deadline: dict | None = None
    tz: str | None = None
    # Parts of this delivery an earlier try already delivered ({"parts": n, "digest": …}), set by the
    # dispatcher from the log, so a split message goes on where it stopped instead of repeating itself.
    resume: dict | None = None
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
    # how far a message sent in parts got ({"parts": n, "digest": …}): the dispatcher keeps it on the log
    # rows and hands it back as Alert.resume on the next try of the same delivery
    progress: dict | None = None
    ok: ClassVar[bool] = False


@dataclass
class Deferred(Retryable):
    """Not sent now, and no failure: the channel's rate is used up (alerts/notify/limits.py) or the service
    answered "too fast" (DingTalk 130101, WeCom 45009, HTTP 429). The dispatcher keeps the notification
    pending for `retry_after` seconds without counting an attempt; nothing is dropped."""
    retry_after: float = 60.0


@dataclass
class Failed:
    error: str
    ok: ClassVar[bool] = False


Outcome = Union[Delivered, Retryable, Deferred, Failed]


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

    def window_key(self) -> str | None:
        """The name of the send window this channel shares with others that post to the same place (a
        robot's URL), kept by the dispatcher across runs; None for channels without a rate limit."""
        return None

    def use_window(self, window: SendWindow) -> None:
        """Take the send window the dispatcher loaded (channels with a rate limit only)."""

    def window_state(self) -> dict | None:
        """The send window to keep, or None."""
        return None

    @classmethod
    def from_config(cls, name: str, options: O, *, min_severity: str = "general") -> Self:
        """Build from a validated config entry: the one way the pipeline makes notifiers."""
        return cls(name, options, min_severity=min_severity)

    @abstractmethod
    def send(self, alert: Alert) -> Outcome:
        """Deliver one alert. Never raises for delivery problems: returns Retryable or Failed."""
