"""Idempotent writes keyed on natural unique keys. Reruns and redelivered tasks change nothing."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Iterable

from sqlalchemy import select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from storage.models import EngagementSnapshot, Mention, Source
from storage.records import MentionIn


def insert_ignore(session: Session, model, values: dict, conflict: list[str]) -> bool:
    """INSERT ... ON CONFLICT DO NOTHING. Returns True when a row was inserted.

    Safe against a concurrent writer inserting the same key (two workers, one redelivered task),
    where a SELECT-then-INSERT would race."""
    dialect = session.get_bind().dialect.name
    builder = {"postgresql": postgresql.insert, "sqlite": sqlite.insert}[dialect]
    # psycopg 3 forgets rowcount once SQLAlchemy closes the cursor (it reads -1); preserve_rowcount keeps it.
    stmt = (builder(model).values(**values).on_conflict_do_nothing(index_elements=conflict)
            .execution_options(preserve_rowcount=True))
    return session.execute(stmt).rowcount == 1


def get_or_create_source(session: Session, name: str, kind: str) -> Source:
    source = session.scalar(select(Source).where(Source.name == name))
    if source is None:
        insert_ignore(session, Source, {"name": name, "kind": kind, "state": {}, "error_counts": {}}, ["name"])
        source = session.scalar(select(Source).where(Source.name == name))
    elif source.kind != kind:
        source.kind = kind
    return source


@dataclass
class StoreResult:
    new: int = 0
    duplicates: int = 0
    cross_source: int = 0   # new here, but the same text was already stored from another source
    refreshed: int = 0      # already stored; a fresh engagement snapshot was kept
    new_ids: list[int] | None = None


def store_mentions(session: Session, source: Source, items: Iterable[MentionIn], now: datetime) -> StoreResult:
    result = StoreResult(new_ids=[])
    for item in items:
        digest = item.hash
        existing = session.scalar(
            select(Mention).where(Mention.source_id == source.id, Mention.external_id == item.external_id)
        )
        if existing is None:
            # Same text under a new id from the same source (a feed that regenerates guids) is a duplicate.
            existing = session.scalar(
                select(Mention).where(Mention.source_id == source.id, Mention.content_hash == digest).limit(1)
            )
        if existing is not None:
            result.duplicates += 1
            if item.has_engagement and _engagement_changed(existing, item):
                _refresh_engagement(session, existing, item, now)
                result.refreshed += 1
            continue
        original = session.scalar(
            select(Mention.id).where(Mention.content_hash == digest, Mention.duplicate_of_id.is_(None)).limit(1)
        )
        values = dict(
            source_id=source.id, external_id=item.external_id[:500], url=item.url, content_hash=digest,
            duplicate_of_id=original, author=item.author, author_followers=item.author_followers,
            title=item.title, text=item.text, published_at=item.published_at,
            collected_at=now, rating=item.rating, likes=item.likes, reposts=item.reposts,
            comments=item.comments, raw=item.raw or {},
        )
        if not insert_ignore(session, Mention, values, ["source_id", "external_id"]):
            result.duplicates += 1   # a concurrent writer stored it first
            continue
        mention_id = session.scalar(
            select(Mention.id).where(Mention.source_id == source.id, Mention.external_id == values["external_id"])
        )
        result.new += 1
        result.new_ids.append(mention_id)
        if original is not None:
            result.cross_source += 1
        if item.has_engagement:
            insert_ignore(session, EngagementSnapshot, _snapshot(mention_id, item, now), ["mention_id", "taken_at"])
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
