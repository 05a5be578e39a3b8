"""Everything one digest shows, gathered in one read-only pass over the database."""
from __future__ import annotations

from collections import Counter, defaultdict
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta, tzinfo
from typing import Optional

from sqlalchemy.orm import Session

from alerts.digest import queries as q
from alerts.tickets.sla import breach_at, open_at
from alerts.digest.queries import (DayFigures, IncidentItem, Post, Scope, SourceItem, SpikeItem, TicketItem,
                                   day_bounds)

EVIDENCE_ROWS = 3      # posts shown under each incident
SPIKE_EVIDENCE_ROWS = 2


@dataclass
class TicketFigures:
    new: int = 0
    open: int = 0
    overdue: int = 0


@dataclass
class DigestData:
    day: date
    tz: tzinfo
    scope: Scope
    start: datetime                      # the day's bounds in UTC
    end: datetime
    today: DayFigures
    yesterday: DayFigures
    hourly: list[tuple[int, int, int, int]]            # (local hour, mentions, analyzed, negative)
    trend: list[DayFigures]                            # TREND_DAYS days ending with the day
    categories: list[tuple[str, int, int]]             # (category, complaints that day, the day before)
    incidents: list[IncidentItem] = field(default_factory=list)
    spikes: list[SpikeItem] = field(default_factory=list)
    tickets: TicketFigures = field(default_factory=TicketFigures)
    tickets_before: TicketFigures = field(default_factory=TicketFigures)
    new_tickets: list[TicketItem] = field(default_factory=list)
    overdue_tickets: list[TicketItem] = field(default_factory=list)
    top_negative: list[Post] = field(default_factory=list)
    sources: list[SourceItem] = field(default_factory=list)   # failing or silent only
    incidents_total: int = 0                 # the lists above show the `top` most serious; these count all
    spikes_total: int = 0
    # The moment the SLA figures describe: the end of the day, or now for a digest of a day still running
    # (a breach that has not happened yet is not listed).
    as_of: Optional[datetime] = None

    @property
    def quiet(self) -> bool:
        return not (self.today.mentions or self.incidents or self.spikes or self.tickets.open or self.sources)


def _volumes(session: Session, data: DigestData, top: int, per_source: Counter) -> list[int]:
    """Fill the day figures, hourly series, trend and categories from one scan; returns the top negative ids.

    `per_source` counts every source's posts (day, before the day), whatever the target filter: source
    health is about the source, not about one recipient's targets."""
    first_day = data.day - timedelta(days=q.TREND_DAYS - 1)
    days = {first_day + timedelta(days=i): DayFigures(first_day + timedelta(days=i)) for i in range(q.TREND_DAYS)}
    hourly: dict[int, list[int]] = defaultdict(lambda: [0, 0, 0])
    cats: dict[date, Counter] = defaultdict(Counter)
    negatives: list[tuple[int, int]] = []
    scan_start = day_bounds(first_day, data.tz)[0]
    for mid, when, reach, source, negative, complaint, categories, targets in q.mention_rows(session, scan_start,
                                                                                             data.end):
        local = q.as_utc(when).astimezone(data.tz)
        fig = days.get(local.date())
        if fig is None:
            continue
        per_source[(source, local.date() == data.day)] += 1
        if not data.scope.mention(source, targets):
            continue
        fig.mentions += 1
        fig.analyzed += negative is not None
        fig.negative += bool(negative)
        fig.complaints += bool(complaint)
        if complaint:
            cats[local.date()].update(categories or ["other"])
        if local.date() == data.day:
            bucket = hourly[local.hour]
            bucket[0] += 1
            bucket[1] += negative is not None
            bucket[2] += bool(negative)
            if negative:
                negatives.append((reach, mid))
    data.trend = [days[d] for d in sorted(days)]
    data.today = days[data.day]
    data.yesterday = days[data.day - timedelta(days=1)]
    data.hourly = [(h, hourly[h][0], hourly[h][1], hourly[h][2]) for h in range(24)]
    today, before = cats[data.day], cats[data.day - timedelta(days=1)]
    data.categories = sorted(((c, today[c], before[c]) for c in set(today) | set(before)),
                             key=lambda row: (-row[1], -row[2], row[0]))
    negatives.sort(key=lambda rm: (-rm[0], rm[1]))
    return [mid for _, mid in negatives[:top]]


def _tickets(session: Session, data: DigestData) -> None:
    prev_start, prev_end = day_bounds(data.day - timedelta(days=1), data.tz)
    moment = data.as_of or data.end
    for ticket in q.scoped_tickets(session, data.scope, moment):
        for figures, start, end in ((data.tickets, data.start, moment), (data.tickets_before, prev_start, prev_end)):
            figures.new += start <= ticket.opened_at < end
            figures.open += open_at(ticket, end)
            figures.overdue += breach_at(ticket, end) is not None
        item = TicketItem(ticket.id, ticket.title, ticket.severity, ticket.state, ticket.department, None, None)
        if data.start <= ticket.opened_at < data.end:
            data.new_tickets.append(item)
        late = breach_at(ticket, moment)
        if late:
            data.overdue_tickets.append(TicketItem(ticket.id, ticket.title, ticket.severity, late.kind,
                                                   ticket.department, late.due, moment - late.due))
    data.overdue_tickets.sort(key=lambda t: -(t.overdue_by or timedelta(0)))   # every overdue one has it


def _sources(session: Session, data: DigestData, per_source: Counter) -> None:
    """Failing sources, and silent ones: not run during the day, or no posts where the week had some."""
    for src, runs in q.source_rows(session, data.scope, data.start, data.end):
        today, earlier = per_source[(src.name, True)], per_source[(src.name, False)]
        if src.health in ("failing", "degraded") or src.consecutive_failures:
            health = src.health if src.health in ("failing", "degraded") else "degraded"
        elif runs == 0:
            health = "not_run"
        elif src.health == "silent" or (today == 0 and earlier > 0):
            health = "silent"
        else:
            continue
        data.sources.append(SourceItem(src.name, health, src.last_success_at, src.last_error, today))


def gather(session: Session, day: date, tz: tzinfo, scope: Optional[Scope] = None, *, top: int = 5,
           now: Optional[datetime] = None) -> DigestData:
    """Everything the digest of `day` shows. With `now` inside the day (today's digest), SLA figures are
    measured as of now, not as of the day's end."""
    start, end = day_bounds(day, tz)
    scope = scope or Scope()
    data = DigestData(day, tz, scope, start, end, DayFigures(day), DayFigures(day), [], [], [])
    data.as_of = now if now is not None and now < end else None
    per_source: Counter = Counter()
    top_ids = _volumes(session, data, top, per_source)
    data.top_negative = q.posts(session, top_ids)
    incidents = q.most_serious(q.new_incidents(session, start, end, scope, EVIDENCE_ROWS))
    data.incidents_total, data.incidents = len(incidents), incidents[:top]
    spikes = q.spikes(session, start, end, scope, SPIKE_EVIDENCE_ROWS)
    data.spikes_total, data.spikes = len(spikes), spikes[:top]
    _tickets(session, data)
    _sources(session, data, per_source)
    return data
