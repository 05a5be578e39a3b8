"""The notifier contract: send(alert) -> Delivered | Retryable(error) | Failed(error).
Like Alertmanager's Notifier.Notify, the result says whether trying again could help."""
from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from typing import ClassVar, Union

from storage.types import Strict


@dataclass
class Alert:
    key: str                 # what this is about, stable across reruns (e.g. "ticket:12:opened")
    kind: str                # ticket | escalation | health | spike
    title: str
    severity: str
    summary: str
    category: str | None = None
    url: str | None = None
    ticket_id: int | None = None
    incident_id: int | None = None
    evidence: list[dict] = field(default_factory=list)   # [{"text", "url", "author", "reach"}]
    figures: dict = field(default_factory=dict)          # {"count": 7, "expected": 1.2}


@dataclass
class Delivered:
    detail: str = ""
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


class Notifier(ABC):
    kind: ClassVar[str]
    Options: ClassVar[type[Strict]]

    def __init__(self, name: str, options: Strict):
        self.name = name
        self.options = options

    @abstractmethod
    def send(self, alert: Alert) -> Outcome:
        """Deliver one alert. Never raises for delivery problems: returns Retryable or Failed."""
