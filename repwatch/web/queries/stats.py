"""Overview figures: volume and negative share over time, complaint categories, top sources.

Time bins follow the team's timezone, so "a day" is a local day. Bucketing is done in Python over
(time, negative) pairs, which is portable across SQLite and PostgreSQL; OVERVIEW_ROWS bounds it
(a month for one brand is far below it)."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import String, cast, func, select
from sqlalchemy.orm import Session

from repwatch.web.labels import CATEGORIES
from repwatch.web.queries.evidence import floor_to
from storage.models import Analysis, Mention, Source

OVERVIEW_ROWS = 200_000


@dataclass
class Overview:
    since: datetime
    until: datetime
    bin_size: timedelta
    bins: list[datetime]
    volume: list[int]
    negative: list[int]
    categories: list[tuple[str, int]]
    sources: list[tuple[str, int, int]]   # name, mentions, negative
    total: int
    truncated: bool

    @property
    def negative_share(self) -> list[float | None]:
        return [n / v if v else None for v, n in zip(self.volume, self.negative)]


def default_window(session: Session, now: datetime, days: int) -> tuple[datetime, datetime]:
    """The `days` up to now, or up to the newest mention when that is older (a quiet or demo database)."""
    newest = session.scalar(select(func.max(Mention.happened_at)))
    end = now if newest is None or newest > now - timedelta(days=days) else newest
    return end - timedelta(days=days), end


def overview(session: Session, since: datetime, until: datetime, tz: ZoneInfo) -> Overview:
    span = until - since
    size = timedelta(hours=1) if span <= timedelta(days=3) else timedelta(days=1)
    start = floor_to(since, size, tz)
    bins: list[datetime] = []
    t = start
    while t <= until and len(bins) < 400:
        bins.append(t)
        t += size
    volume, negative = [0] * len(bins), [0] * len(bins)
    when = Mention.happened_at
    window = (when >= start, when <= until)
    rows = session.execute(select(when, Analysis.negative).outerjoin(Analysis, Analysis.mention_id == Mention.id)
                           .where(*window).limit(OVERVIEW_ROWS)).all()
    for at, neg in rows:
        i = int((at - start) / size)
        if 0 <= i < len(bins):
            volume[i] += 1
            negative[i] += 1 if neg else 0
    categories = []
    for key in CATEGORIES:
        n = session.scalar(select(func.count(Analysis.id)).join(Mention, Mention.id == Analysis.mention_id)
                           .where(*window, Analysis.complaint.is_(True),
                                  cast(Analysis.categories, String).like(f'%"{key}"%')))
        categories.append((key, n or 0))
    categories.sort(key=lambda kv: -kv[1])
    neg_count = func.count(Analysis.id).filter(Analysis.negative.is_(True))
    sources = session.execute(
        select(Source.name, func.count(Mention.id), neg_count)
        .join(Mention, Mention.source_id == Source.id)
        .outerjoin(Analysis, Analysis.mention_id == Mention.id)
        .where(*window).group_by(Source.name).order_by(func.count(Mention.id).desc()).limit(10)).all()
    return Overview(since, until, size, bins, volume, negative, categories,
                    [(n, c, neg or 0) for n, c, neg in sources], len(rows), len(rows) >= OVERVIEW_ROWS)
