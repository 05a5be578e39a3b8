"""Bookkeeping around one collection run: what is stored is cleaned first, a store failure becomes
that source's failure (with a message a person can act on), and a run left `running` by a killed
process is closed as abandoned by the next run of its source."""
from __future__ import annotations

from datetime import datetime, timedelta
from typing import Callable

from sqlalchemy import update
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session

from collectors import CollectError
from collectors.base import CollectResult, Problem
from storage.clean import ETAG_LIMIT, LAST_MODIFIED_LIMIT, cap, clean_mention
from storage.models import CollectionRun
from storage.writes import execute_dml

# A run still `running` after this long was left by a process that died (kill -9, OOM, a reboot):
# every fetch has a deadline and a crawl a time cap, so no live run of one source lasts this long.
ABANDONED_AFTER = timedelta(hours=1)
MESSAGE_LIMIT = 2_000
PROBLEMS_KEPT = 100


def abandon_stale_runs(session: Session, source_id: int | list[int], now: datetime) -> int:
    """Close these sources' runs that a dead process left `running`, so health and the dashboard do
    not show a run that will never finish. Younger ones may belong to a live run elsewhere."""
    ids = source_id if isinstance(source_id, list) else [source_id]
    return execute_dml(session,
        update(CollectionRun)
        .where(CollectionRun.source_id.in_(ids), CollectionRun.status == "running",
               CollectionRun.started_at < now - ABANDONED_AFTER)
        .values(status="failed", error_kind="abandoned", finished_at=now,
                error="abandoned: the process collecting this source stopped before the run finished "
                      "(killed or crashed); the next run collected again")
        .execution_options(synchronize_session=False)
    ).rowcount


def clean_message(message: str | None) -> str | None:
    return cap(message, MESSAGE_LIMIT)[0]


def problem_rows(problems: list[Problem], redact: Callable[[str], str] = lambda text: text) -> list[dict]:
    rows = [{"kind": cap(p.kind, 60)[0], "message": clean_message(redact(str(p)))} for p in problems[:PROBLEMS_KEPT]]
    if len(problems) > PROBLEMS_KEPT:
        rows.append({"kind": "more", "message": f"{len(problems) - PROBLEMS_KEPT} more problems not listed"})
    return rows


def _validator(value: str | None, limit: int, header: str, problems: list[Problem]) -> str | None:
    """An ETag or Last-Modified is sent back verbatim next run: keep it only if it fits its column and
    is a valid header value; otherwise drop it (the next run fetches in full) and say so."""
    if value is None:
        return None
    if len(value) > limit or not value.isprintable() or not value.isascii():
        problems.append(Problem("validator", f"the server's {header} ({len(value):,} characters) is over "
                                f"{limit} characters or not plain text; not kept, so the next run fetches "
                                "the feed in full instead of asking if it changed", warning=True))
        return None
    return value


def prepare_result(result: CollectResult) -> None:
    """Clean every field before it reaches the database, in place. A cut is reported, never silent."""
    cleaned = []
    for item in result.items:
        item, notes = clean_mention(item)
        where = f"item {item.external_id[:80]}"
        result.problems.extend(Problem("cut", note, where, warning=True) for note in notes)
        if not item.text:
            result.problems.append(Problem("empty", "no text left once control characters were removed", where))
            continue
        cleaned.append(item)
    result.items = cleaned
    result.etag = _validator(result.etag, ETAG_LIMIT, "ETag", result.problems)
    result.last_modified = _validator(result.last_modified, LAST_MODIFIED_LIMIT, "Last-Modified",
                                      result.problems)


class StoreError(CollectError):
    """The database refused what a source returned; `detail` is the database's own words."""

    def __init__(self, detail: str):
        self.detail = f"the database refused it ({detail[:300]})"
        super().__init__("store", f"the database refused what this source returned ({detail[:300]}); the run "
                         "is marked failed and the next run tries again (what was stored is never stored twice). "
                         "Other sources were not affected; if it repeats, report it with this message")


def store_error(exc: Exception) -> StoreError:
    if isinstance(exc, StoreError):
        return exc
    if isinstance(exc, SQLAlchemyError):
        detail = str(getattr(exc, "orig", None) or exc).splitlines()[0]
    else:
        detail = f"{type(exc).__name__}: {exc}"
    return StoreError(detail)
