"""The heartbeat row: proof of life for the daemon and the cron runs, shown by `repwatch status`."""
from __future__ import annotations

import os
from dataclasses import dataclass
from datetime import datetime
from typing import Optional

from sqlalchemy import select

from storage import Database
from storage.models import Heartbeat
from storage.writes import insert_ignore

SCHEDULER = "scheduler"
CRON = "cron"


def beat(db: Database, component: str, now: datetime, detail: dict, pid: Optional[int] = None) -> None:
    """Upsert one row per component: a heartbeat is the latest state, not a history."""
    pid = os.getpid() if pid is None else pid
    with db.session() as s:
        if not insert_ignore(s, Heartbeat, dict(component=component, at=now, detail=detail, pid=pid), ["component"]):
            row = s.get(Heartbeat, component)
            assert row is not None   # the insert was ignored: the row is there
            row.at, row.detail, row.pid = now, detail, pid


@dataclass
class Beat:
    component: str
    at: datetime
    detail: dict
    pid: Optional[int]


def read_beats(db: Database) -> dict[str, Beat]:
    with db.session() as s:
        return {h.component: Beat(h.component, h.at, dict(h.detail or {}), h.pid)
                for h in s.scalars(select(Heartbeat))}
