"""Idempotent writes keyed on natural unique keys. Reruns and redelivered tasks change nothing."""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
import importlib
from functools import lru_cache
from typing import TYPE_CHECKING, Any, Callable, Iterable, cast

from sqlalchemy import func, or_, select
from sqlalchemy.engine import CursorResult
from sqlalchemy.sql.base import Executable
from sqlalchemy.orm import Session

from storage.models import EngagementSnapshot, Mention, Source
from storage.records import MentionIn
from storage.vocabulary import event_time

if TYPE_CHECKING:
    from sqlalchemy.dialects import postgresql, sqlite


# Rows per INSERT: well under SQLite's bound-variable limit (32,766) at 17 columns a row.
INSERT_CHUNK = 500


def _insert_builder(session: Session) -> Callable[[Any], postgresql.Insert | sqlite.Insert]:
    """INSERT with ON CONFLICT for the session's dialect."""
    return _dialect_insert(session.get_bind().dialect.name)


def _dialect_insert(name: str) -> Callable[[Any], postgresql.Insert | sqlite.Insert]:
    """INSERT with ON CONFLICT for a dialect by name. Only that dialect's module is imported: the
    other's is ~3 MiB a collection process never needs."""
    if name not in ("postgresql", "sqlite"):
        raise KeyError(name)
    return importlib.import_module(f"sqlalchemy.dialects.{name}").insert


def _chunks(seq: list, size: int):
    for start in range(0, len(seq), size):
        yield seq[start:start + size]


def execute_dml(session: Session, stmt: Executable, params: dict | None = None) -> CursorResult[Any]:
    """Run an INSERT/UPDATE/DELETE; its result has `rowcount`. (Session.execute is typed as returning the
    base Result, though a DML statement's result is always a CursorResult.)"""
    return cast(CursorResult[Any], session.execute(stmt, params))


def insert_ignore(session: Session, model, values: dict, conflict: list[str]) -> bool:
    """INSERT ... ON CONFLICT DO NOTHING. Returns True when a row was inserted.

    Safe against a concurrent writer inserting the same key (two workers, one redelivered task),
    where a SELECT-then-INSERT would race."""
    if session.autoflush:   # as the ORM-enabled INSERT this was: pending changes go first
        session.flush()
    # One Core statement per table and key, built once, the row its parameters: building, keying and
    # running an ORM-enabled INSERT for each row cost several times the statement itself (issue 18).
    stmt = _ignoring_insert(session.get_bind().dialect.name, model, tuple(conflict))
    return execute_dml(session, stmt, values).rowcount == 1


@lru_cache(maxsize=64)
def _ignoring_insert(dialect: str, model, conflict: tuple[str, ...]):
    # psycopg 3 forgets rowcount once SQLAlchemy closes the cursor (it reads -1); preserve_rowcount keeps it.
    return (_dialect_insert(dialect)(model.__table__).on_conflict_do_nothing(index_elements=list(conflict))
            .execution_options(preserve_rowcount=True))


def insert_or_get(session: Session, model, values: dict, conflict: list[str]) -> tuple[Any, bool]:
    """The row with these key values (`conflict`) as the ORM object, and whether it was inserted now. A new row
    takes one statement, INSERT ... ON CONFLICT DO NOTHING RETURNING the whole row, loaded into the session's
    identity map (it replaced insert_ignore, reading the id back and loading the row: three statements); a
    key already there (ours, or a concurrent writer's) is read instead."""
    stmt = _returning_insert(session.get_bind().dialect.name, model, tuple(conflict))
    # the values as parameters of one statement built once, not in the statement: building and keying a new
    # statement for every row was half of this call's CPU
    row = session.scalars(stmt, values).one_or_none()
    if row is not None:
        return row, True
    return session.scalars(select(model).filter_by(**{c: values[c] for c in conflict})).one(), False


@lru_cache(maxsize=64)
def _returning_insert(dialect: str, model, conflict: tuple[str, ...]):
    table = model.__table__
    return select(model).from_statement(
        _dialect_insert(dialect)(table).on_conflict_do_nothing(index_elements=list(conflict)).returning(*table.c))


def insert_many_ignore(session: Session, model, rows: list[dict], conflict: list[str]) -> None:
    """INSERT ... ON CONFLICT DO NOTHING for many rows: one compiled (cached) statement, executed
    for all rows at once; SQLAlchemy sends it as multi-row VALUES pages ("insertmanyvalues") on
    PostgreSQL, and as one executemany on SQLite."""
    if rows:
        stmt = _insert_builder(session)(model.__table__).on_conflict_do_nothing(index_elements=conflict)
        session.connection().execute(stmt, rows)


def insert_many_returning(session: Session, model, rows: list[dict], conflict: list[str], column) -> list:
    """INSERT ... ON CONFLICT DO NOTHING RETURNING `column` for many rows in one compiled statement:
    the values of the rows that were inserted (a row already there is not returned)."""
    if not rows:
        return []
    stmt = (_insert_builder(session)(model.__table__).on_conflict_do_nothing(index_elements=conflict)
            .returning(column))
    return list(session.connection().execute(stmt, rows).scalars())


def upsert_many(session: Session, model, rows: list[dict], conflict: list[str], update: list[str]) -> None:
    """INSERT ... ON CONFLICT (conflict) DO UPDATE SET each column of `update` to the new row's value, for many
    rows in one compiled statement: state written back once per pass instead of a statement or two per row."""
    if rows:
        stmt = _insert_builder(session)(model.__table__)
        stmt = stmt.on_conflict_do_update(index_elements=conflict,
                                          set_={c: getattr(stmt.excluded, c) for c in update})
        session.connection().execute(stmt, rows)


def get_or_create_source(session: Session, name: str, kind: str) -> Source:
    source = session.scalar(select(Source).where(Source.name == name))
    if source is None:
        insert_ignore(session, Source, {"name": name, "kind": kind, "state": {}, "error_counts": {}}, ["name"])
        source = session.scalar(select(Source).where(Source.name == name))
        assert source is not None   # inserted just now, or by a concurrent writer
    elif source.kind != kind:
        source.kind = kind
    return source


@dataclass
class StoreResult:
    new: int = 0
    duplicates: int = 0
    cross_source: int = 0   # new here, but the same text was already stored from another source
    refreshed: int = 0      # already stored; a fresh engagement snapshot was kept
    new_ids: list[int] = field(default_factory=list)


def store_mentions(session: Session, source: Source, items: Iterable[MentionIn], now: datetime) -> StoreResult:
    """Store a source's items in a few statements, whatever their number: one query finds those
    already stored (same external id, or same text from this source), one finds the originals of
    texts stored from other sources, one INSERT ... ON CONFLICT DO NOTHING RETURNING stores the rest
    (per 500 rows), and one stores their engagement snapshots. The rules are the one-at-a-time ones:
    an item is a duplicate when this source already has its id or its text (earlier in the same
    batch included); a new item whose text another source stored first points at that original."""
    result = StoreResult(new_ids=[])
    items = list(items)
    if not items:
        return result
    eids = [item.external_id[:500] for item in items]
    digests = [item.hash for item in items]
    ids = list(dict.fromkeys(eids))
    hashes = list(dict.fromkeys(digests))

    # 1. already stored from this source, by id or by text (one query per 500 ids)
    by_id: dict[str, Mention] = {}
    by_hash: dict[str, Mention] = {}
    for k in range(0, max(len(ids), len(hashes)), INSERT_CHUNK):
        id_chunk, hash_chunk = ids[k:k + INSERT_CHUNK], hashes[k:k + INSERT_CHUNK]
        cond = []
        if id_chunk:
            cond.append(Mention.external_id.in_(id_chunk))
        if hash_chunk:
            cond.append(Mention.content_hash.in_(hash_chunk))
        for m in session.scalars(select(Mention).where(Mention.source_id == source.id, or_(*cond))
                                 .order_by(Mention.id)):
            by_id.setdefault(m.external_id, m)
            by_hash.setdefault(m.content_hash, m)

    # 2. which items are new; an earlier item of this batch counts as stored
    fresh: list[tuple[MentionIn, str, str]] = []
    batch_ids: set[str] = set()
    batch_hashes: set[str] = set()
    for item, eid, digest in zip(items, eids, digests):
        existing = by_id.get(eid) or by_hash.get(digest)
        if existing is not None:
            result.duplicates += 1
            if item.has_engagement and _engagement_changed(existing, item):
                _refresh_engagement(session, existing, item, now)
                result.refreshed += 1
            continue
        if eid in batch_ids or digest in batch_hashes:
            result.duplicates += 1
            continue
        batch_ids.add(eid)
        batch_hashes.add(digest)
        fresh.append((item, eid, digest))
    if not fresh:
        return result

    # 3. the original of each new text, if another source stored it first (the oldest copy)
    originals: dict[str, int] = {}
    new_hashes = list(dict.fromkeys(d for _, _, d in fresh))
    for chunk in _chunks(new_hashes, INSERT_CHUNK):
        originals.update(session.execute(
            select(Mention.content_hash, func.min(Mention.id))
            .where(Mention.content_hash.in_(chunk), Mention.duplicate_of_id.is_(None))
            .group_by(Mention.content_hash)).all())

    # 4. one INSERT ... ON CONFLICT DO NOTHING RETURNING for the batch (SQLAlchemy's "insertmanyvalues":
    # one compiled, cached statement sent as multi-row VALUES pages of up to 1,000 rows); a row a
    # concurrent writer stored first is simply not returned, and counts as a duplicate
    rows = [dict(source_id=source.id, external_id=eid, url=item.url, content_hash=digest,
                 duplicate_of_id=originals.get(digest), author=item.author, author_followers=item.author_followers,
                 title=item.title, text=item.text, published_at=item.published_at, collected_at=now,
                 happened_at=event_time(item.published_at, now),
                 rating=item.rating, likes=item.likes, reposts=item.reposts, comments=item.comments,
                 raw=item.raw or {}, lang=None)
            for item, eid, digest in fresh]
    stmt = (_insert_builder(session)(Mention.__table__)
            .on_conflict_do_nothing(index_elements=["source_id", "external_id"])
            .returning(Mention.id, Mention.external_id))   # the mapped attributes: typed rows
    stored = {external_id: mention_id for mention_id, external_id in session.connection().execute(stmt, rows)}

    snapshots = []
    for item, eid, digest in fresh:
        mention_id = stored.get(eid)
        if mention_id is None:
            result.duplicates += 1   # a concurrent writer stored it first
            continue
        result.new += 1
        result.new_ids.append(mention_id)
        if digest in originals:
            result.cross_source += 1
        if item.has_engagement:
            snapshots.append(_snapshot(mention_id, item, now))
    if snapshots:
        insert_many_ignore(session, EngagementSnapshot, snapshots, ["mention_id", "taken_at"])
    return result


def _engagement_changed(m: Mention, item: MentionIn) -> bool:
    pairs = ((m.likes, item.likes), (m.reposts, item.reposts), (m.comments, item.comments),
             (m.author_followers, item.author_followers))
    return any(new is not None and new != old for old, new in pairs)


def _snapshot(mention_id: int, item: MentionIn, now: datetime) -> dict:
    return dict(mention_id=mention_id, taken_at=now, likes=item.likes, reposts=item.reposts,
                comments=item.comments, author_followers=item.author_followers)


def _refresh_engagement(session: Session, m: Mention, item: MentionIn, now: datetime) -> None:
    """The mention keeps the latest counts; every observation stays in engagement_snapshot."""
    for attr in ("likes", "reposts", "comments", "author_followers"):
        value = getattr(item, attr)
        if value is not None:
            setattr(m, attr, value)
    insert_ignore(session, EngagementSnapshot, _snapshot(m.id, item, now), ["mention_id", "taken_at"])
