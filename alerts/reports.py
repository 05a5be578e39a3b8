"""The manager's figures over a period: how fast the desk responds and resolves, how much of it is
within the SLA, how satisfied customers are after the follow-up, what people complain about over time,
who complains again and again, and the watch targets side by side.

One module for every surface: `repwatch report` (table, CSV, JSON), the dashboard's /reports page
and GET /api/reports all call `build_report`, so they cannot disagree.

Rules, stated once:
- A ticket belongs to the period when its clock started in it: `opened_at`, or the latest reopening
  for a reopened ticket (alerts.tickets resets the SLA, first response and resolution then, so the
  figures count from the reopen too).
- Time to first response = first_response_at - start; time to resolution = resolved_at - start, for a
  ticket in a resolved state. Median and 90th percentile by linear interpolation between the closest
  ranks (numpy's default): with sorted values v[0..n-1], the q-quantile is at position (n-1)*q.
- Within SLA uses alerts.tickets.sla.breaches_at, the one breach rule: a ticket met the first-response SLA if
  it was not in breach when it was first answered (or closed unanswered); it missed it if it was in
  breach then, or is in breach now while still unanswered. Tickets still inside their due time are
  pending and left out of the share. Resolution likewise, at the moment it was resolved.
- Satisfaction = follow_up_satisfied True / follow-ups with an answer (True or False).
- Complaints by category over time count the period's tickets by category, per local day (or week
  for periods over 62 days), so each bar clicks through to the tickets behind it.
- Repeat complainants and top sources count complaint posts (Analysis.complaint) that happened in the
  period; an author is the same person across sources when the author name is the same.
- Watch targets count every analysed post that names the target (Analysis.targets)."""
from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from datetime import date, datetime, time, timedelta
from urllib.parse import urlencode
from zoneinfo import ZoneInfo

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from alerts.tickets import sla
from storage.models import Analysis, IncidentMention, Mention, Source, Ticket, TicketEvent
from storage.vocabulary import CATEGORIES, OTHER, RESOLVED_STATES, SEVERITIES, TICKET_STATES, label

GROUPINGS = ("severity", "category", "department")
NO_DEPARTMENT = "-"
ROW_LIMIT = 200_000      # posts read for the post-based figures (a month for one brand is far below it)
TOP = 10


# -- small helpers ---------------------------------------------------------------------------------
def quantile(values: list[float], q: float) -> float | None:
    """Linear interpolation between closest ranks (numpy's default); None for no values."""
    if not values:
        return None
    v = sorted(values)
    pos = (len(v) - 1) * q
    lo = int(pos)
    hi = min(lo + 1, len(v) - 1)
    return v[lo] + (v[hi] - v[lo]) * (pos - lo)


def local_day_start(day: date, tz: ZoneInfo) -> datetime:
    return datetime.combine(day, time(0), tzinfo=tz)


def period(since: date | None, until: date | None, tz: ZoneInfo, now: datetime,
           default_days: int = 30) -> tuple[datetime, datetime]:
    """Local dates to an instant range [start, end): `until` is inclusive (the whole local day).
    Without dates: the `default_days` local days up to and including today."""
    today = now.astimezone(tz).date()
    until = until or today
    since = since or until - timedelta(days=default_days - 1)
    if since > until:
        raise ValueError(f"since {since} is after until {until}")
    return local_day_start(since, tz), local_day_start(until + timedelta(days=1), tz)


def bin_start(t: datetime, tz: ZoneInfo, week: bool) -> date:
    d = t.astimezone(tz).date()
    return d - timedelta(days=d.weekday()) if week else d


def labels(kind: str, key: str) -> tuple[str, str]:
    if kind == "department":
        return (key, key) if key != NO_DEPARTMENT else ("未分派", "no department")
    return label(kind, key, "zh"), label(kind, key, "en")


def queue_link(*, day_from: date | None = None, day_to: date | None = None, **filters) -> str:
    """A link to the queue (/) showing the tickets behind a figure: every state, closed ones too,
    narrowed by the queue's own filters (severity, category, department, source) and by the local days
    [day_from, day_to] their clocks started in (the queue's `from`/`to`: the same rule as the report's)."""
    params: list[tuple[str, str]] = [("state", s) for s in TICKET_STATES]
    for key in ("severity", "category", "department", "source"):
        value = filters.get(key)
        if value is not None and value != OTHER and value != NO_DEPARTMENT:
            params.append((key, str(value)))
    if day_from is not None:
        params.append(("from", day_from.isoformat()))
    if day_to is not None:
        params.append(("to", day_to.isoformat()))
    return "/?" + urlencode(params)


def period_days(since: datetime, until: datetime, tz: ZoneInfo) -> tuple[date, date]:
    """The instant range [since, until) as the first and last local day it covers."""
    return since.astimezone(tz).date(), (until - timedelta(microseconds=1)).astimezone(tz).date()


# -- the figures -----------------------------------------------------------------------------------
@dataclass
class Timing:
    count: int = 0
    median_hours: float | None = None
    p90_hours: float | None = None

    @classmethod
    def of(cls, hours: list[float]) -> "Timing":
        return cls(len(hours), _round(quantile(hours, 0.5)), _round(quantile(hours, 0.9)))


@dataclass
class Within:
    met: int = 0
    missed: int = 0
    pending: int = 0

    @property
    def share(self) -> float | None:
        decided = self.met + self.missed
        return round(self.met / decided, 4) if decided else None


@dataclass
class Group:
    by: str                  # severity | category | department | all
    key: str
    label_zh: str
    label_en: str
    tickets: int
    first_response: Timing
    resolution: Timing
    first_response_sla: Within
    resolution_sla: Within
    satisfied: int
    asked: int
    link: str

    @property
    def satisfaction(self) -> float | None:
        return round(self.satisfied / self.asked, 4) if self.asked else None

    def row(self) -> dict:
        """The flat row for tables, CSV and JSON."""
        return {
            "by": self.by, "key": self.key, "label_zh": self.label_zh, "label_en": self.label_en,
            "tickets": self.tickets,
            "first_response_count": self.first_response.count,
            "first_response_median_h": self.first_response.median_hours,
            "first_response_p90_h": self.first_response.p90_hours,
            "resolution_count": self.resolution.count,
            "resolution_median_h": self.resolution.median_hours,
            "resolution_p90_h": self.resolution.p90_hours,
            "first_response_sla_met": self.first_response_sla.met,
            "first_response_sla_missed": self.first_response_sla.missed,
            "first_response_sla_pending": self.first_response_sla.pending,
            "first_response_sla_share": self.first_response_sla.share,
            "resolution_sla_met": self.resolution_sla.met,
            "resolution_sla_missed": self.resolution_sla.missed,
            "resolution_sla_pending": self.resolution_sla.pending,
            "resolution_sla_share": self.resolution_sla.share,
            "satisfied": self.satisfied, "asked": self.asked, "satisfaction": self.satisfaction,
            "link": self.link,
        }


@dataclass
class Complainant:
    author: str
    posts: int
    sources: list[str]
    tickets: list[int]


@dataclass
class SourceRow:
    id: int
    name: str
    complaints: int
    link: str


@dataclass
class TargetRow:
    name: str
    kind: str
    mentions: int
    negative: int
    complaints: int
    categories: dict[str, int]

    @property
    def negative_share(self) -> float | None:
        return round(self.negative / self.mentions, 4) if self.mentions else None


@dataclass
class Report:
    since: datetime
    until: datetime          # exclusive
    timezone: str
    generated_at: datetime
    total: Group
    groups: dict[str, list[Group]]
    bin: str                 # day | week
    bins: list[date]
    by_category_over_time: dict[str, list[int]]    # category -> count per bin
    repeat_complainants: list[Complainant]
    top_sources: list[SourceRow]
    targets: list[TargetRow]
    truncated: bool = False
    categories: list[str] = field(default_factory=list)

    def link(self, **filters) -> str:
        """queue_link for the whole period."""
        first, last = period_days(self.since, self.until, ZoneInfo(self.timezone))
        return queue_link(day_from=first, day_to=last, **filters)

    def bin_links(self, **filters) -> list[str]:
        """One queue link per trend bin: the tickets whose clocks started on that day (or in that week,
        clipped to the period)."""
        first, last = period_days(self.since, self.until, ZoneInfo(self.timezone))
        span = timedelta(days=6 if self.bin == "week" else 0)
        return [queue_link(day_from=max(b, first), day_to=min(b + span, last), **filters) for b in self.bins]

    def rows(self, by: tuple[str, ...] = GROUPINGS) -> list[dict]:
        out = [self.total.row()]
        for kind in by:
            out.extend(g.row() for g in self.groups[kind])
        return out

    def as_json(self) -> dict:
        tz = ZoneInfo(self.timezone)
        return {
            "since": self.since.astimezone(tz).isoformat(), "until": self.until.astimezone(tz).isoformat(),
            "timezone": self.timezone, "generated_at": self.generated_at.astimezone(tz).isoformat(),
            "total": self.total.row(),
            "groups": {kind: [g.row() for g in groups] for kind, groups in self.groups.items()},
            "over_time": {"bin": self.bin, "bins": [d.isoformat() for d in self.bins],
                          "categories": {c: {"label_zh": label("category", c, "zh"),
                                             "label_en": label("category", c, "en"),
                                             "counts": self.by_category_over_time[c],
                                             "link": self.link(category=c),
                                             "links": self.bin_links(category=c)}
                                         for c in self.categories}},
            "repeat_complainants": [asdict(c) for c in self.repeat_complainants],
            "top_sources": [asdict(s) for s in self.top_sources],
            "targets": [{**asdict(t), "negative_share": t.negative_share} for t in self.targets],
            "truncated": self.truncated,
        }


def _round(v: float | None) -> float | None:
    return None if v is None else round(v, 2)


def _hours(a: datetime, b: datetime) -> float:
    return (b - a).total_seconds() / 3600


def clock_start(session: Session, tickets: list[Ticket]) -> dict[int, datetime]:
    """Each ticket's start: the latest reopening, else opened_at."""
    start = {t.id: t.opened_at for t in tickets}
    ids = list(start)
    for i in range(0, len(ids), 500):
        rows = session.execute(select(TicketEvent.ticket_id, TicketEvent.at).where(
            TicketEvent.ticket_id.in_(ids[i:i + 500]), TicketEvent.kind == "reopened"))
        for tid, at in rows:
            if at > start[tid]:
                start[tid] = at
    return start


def sla_outcome(t: Ticket, kind: str, now: datetime) -> str:
    """met | missed | pending for one SLA kind, asked of alerts.sla's breach rule at the moment that
    decided it (answered / resolved / closed), or now while it is still running."""
    if kind == "first_response":
        done = t.first_response_at
    else:
        done = t.resolved_at if t.resolved_at is not None and t.state in RESOLVED_STATES else None
    moment = done or t.closed_at or now
    moment = min(moment, now)
    breached = any(b.kind == kind for b in sla.breaches_at(t, moment))
    if breached:
        return "missed"
    return "met" if done is not None or t.closed_at is not None else "pending"


@dataclass
class _Acc:
    tickets: int = 0
    first: list[float] = field(default_factory=list)
    resolve: list[float] = field(default_factory=list)
    fr_sla: Counter = field(default_factory=Counter)
    res_sla: Counter = field(default_factory=Counter)
    satisfied: int = 0
    asked: int = 0

    def add(self, t: Ticket, start: datetime, now: datetime) -> None:
        self.tickets += 1
        if t.first_response_at is not None:
            self.first.append(_hours(start, t.first_response_at))
        if t.resolved_at is not None and t.state in RESOLVED_STATES:
            self.resolve.append(_hours(start, t.resolved_at))
        self.fr_sla[sla_outcome(t, "first_response", now)] += 1
        self.res_sla[sla_outcome(t, "resolution", now)] += 1
        if t.follow_up_satisfied is not None:
            self.asked += 1
            self.satisfied += bool(t.follow_up_satisfied)

    def group(self, by: str, key: str, zh: str, en: str, link: str) -> Group:
        w = lambda c: Within(c["met"], c["missed"], c["pending"])  # noqa: E731
        return Group(by, key, zh, en, self.tickets, Timing.of(self.first), Timing.of(self.resolve),
                     w(self.fr_sla), w(self.res_sla), self.satisfied, self.asked, link)


def _order(kind: str, keys) -> list[str]:
    fixed = {"severity": list(reversed(SEVERITIES)), "category": list(CATEGORIES) + [OTHER]}.get(kind)
    if fixed is None:
        return sorted(keys, key=lambda k: (k == NO_DEPARTMENT, k))
    return [k for k in fixed if k in keys] + sorted(k for k in keys if k not in fixed)


def build_report(session: Session, since: datetime, until: datetime, *, now: datetime, tz: ZoneInfo,
                 targets: Sequence[tuple[str, str]] = (), per: str | None = None) -> Report:
    """The figures for tickets whose clock started in [since, until) and posts that happened then.
    `targets` is the config's watch list as (name, kind) pairs, the brand first. `per` is the trend's
    bin, day or week; by default day up to 62 days, week beyond."""
    # a ticket opened before the period can only belong to it through a reopening
    tickets = list(session.scalars(select(Ticket).where(
        Ticket.opened_at < until, or_(Ticket.opened_at >= since, Ticket.reopen_count > 0)).order_by(Ticket.id)))
    start = clock_start(session, tickets)
    tickets = [t for t in tickets if since <= start[t.id] < until]

    total = _Acc()
    accs: dict[str, dict[str, _Acc]] = {k: defaultdict(_Acc) for k in GROUPINGS}
    week = per == "week" if per in ("day", "week") else (until - since) > timedelta(days=62)
    bins: list[date] = []
    d = bin_start(since, tz, week)
    last = bin_start(until - timedelta(microseconds=1), tz, week)
    while d <= last and len(bins) < 400:
        bins.append(d)
        d += timedelta(days=7 if week else 1)
    index = {b: i for i, b in enumerate(bins)}
    over_time: dict[str, list[int]] = defaultdict(lambda: [0] * len(bins))
    for t in tickets:
        s = start[t.id]
        total.add(t, s, now)
        cat = t.category or OTHER
        accs["severity"][t.severity].add(t, s, now)
        accs["category"][cat].add(t, s, now)
        accs["department"][t.department or NO_DEPARTMENT].add(t, s, now)
        i = index.get(bin_start(s, tz, week))
        if i is not None:
            over_time[cat][i] += 1

    first_day, last_day = period_days(since, until, tz)
    link = lambda **f: queue_link(day_from=first_day, day_to=last_day, **f)  # noqa: E731
    groups = {}
    for kind in GROUPINGS:
        groups[kind] = [accs[kind][k].group(kind, k, *labels(kind, k), link(**{kind: k}))
                        for k in _order(kind, accs[kind].keys())]
    categories = [c for c in list(CATEGORIES) + [OTHER] if c in over_time] + sorted(
        c for c in over_time if c not in CATEGORIES and c != OTHER)

    # -- posts: repeat complainants, sources, watch targets --
    when = Mention.happened_at
    rows = session.execute(
        select(Mention.id, Mention.author, Mention.source_id, Analysis.complaint, Analysis.negative,
               Analysis.categories, Analysis.targets)
        .join(Analysis, Analysis.mention_id == Mention.id)
        .where(when >= since, when < until, Mention.duplicate_of_id.is_(None))
        .order_by(Mention.id).limit(ROW_LIMIT + 1)).all()
    truncated = len(rows) > ROW_LIMIT
    rows = rows[:ROW_LIMIT]
    source_names = dict(session.execute(select(Source.id, Source.name)).all())
    by_author: dict[str, list] = defaultdict(list)
    by_source: Counter = Counter()
    target_acc = {name: TargetRow(name, kind, 0, 0, 0, {}) for name, kind in targets}
    for mid, author, source_id, complaint, negative, cats, named in rows:
        if complaint:
            by_source[source_id] += 1
            if author and author.strip():
                by_author[author.strip()].append((mid, source_id))
        for name in named or []:
            row = target_acc.get(name)
            if row is None:
                continue
            row.mentions += 1
            row.negative += bool(negative)
            if complaint:
                row.complaints += 1
                for c in (cats or [OTHER]):
                    row.categories[c] = row.categories.get(c, 0) + 1

    repeaters = sorted(((a, posts) for a, posts in by_author.items() if len(posts) >= 2),
                       key=lambda ap: (-len(ap[1]), ap[0]))[:TOP]
    complainants = []
    for author, posts in repeaters:
        mids = [m for m, _ in posts]
        tids = sorted(set(session.scalars(select(Ticket.id).join(
            IncidentMention, IncidentMention.incident_id == Ticket.incident_id).where(
            IncidentMention.mention_id.in_(mids)))))
        complainants.append(Complainant(author, len(posts), sorted({source_names.get(s, str(s)) for _, s in posts}),
                                        tids))
    top_sources = [SourceRow(sid, source_names.get(sid, str(sid)), n, link(source=sid))
                   for sid, n in sorted(by_source.items(), key=lambda kv: (-kv[1], kv[0]))[:TOP]]

    return Report(since, until, str(tz.key), now, total.group("all", "all", "全部", "all", link()), groups,
                  "week" if week else "day", bins, {c: over_time[c] for c in categories}, complainants,
                  top_sources, list(target_acc.values()), truncated, categories)
