from __future__ import annotations

from datetime import timedelta
from typing import Literal, Optional

from pydantic import Field, model_validator

from storage.types import Duration, Strict

Severity = Literal["general", "important", "urgent"]
Category = Literal["product", "service", "price", "delivery", "after_sales", "communication", "promise"]


class Sla(Strict):
    first_response: Duration
    resolution: Duration

    @model_validator(mode="after")
    def _order(self):
        if self.resolution < self.first_response:
            raise ValueError("resolution must not be shorter than first_response")
        return self


def _default_sla() -> dict[str, Sla]:
    # DOMAIN.md: urgent means hours, not days.
    return {
        "urgent": Sla(first_response=timedelta(hours=1), resolution=timedelta(hours=24)),
        "important": Sla(first_response=timedelta(hours=4), resolution=timedelta(hours=72)),
        "general": Sla(first_response=timedelta(hours=24), resolution=timedelta(days=7)),
    }


class Route(Strict):
    department: Optional[str] = None
    assignee: Optional[str] = None


class AlertSettings(Strict):
    open_ticket_at: Severity = Field(default="important", description="lowest severity that opens a ticket")
    sla: dict[Severity, Sla] = Field(default_factory=_default_sla)
    routing: dict[Category, Route] = Field(default_factory=dict)
    default_route: Route = Route(department="客服中心")
    notify: Optional[list[str]] = Field(default=None, description="notifier names to use; default all")

    @model_validator(mode="after")
    def _complete_sla(self):
        merged = {**_default_sla(), **self.sla}
        object.__setattr__(self, "sla", merged)
        return self
