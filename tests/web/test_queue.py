"""The queue's order, filters and counters, and the ticket page's volume-vs-baseline figures."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone
from zoneinfo import ZoneInfo

import pytest

from repwatch.web.queries.evidence import incident_volume
from repwatch.web.queries.queue import QueueFilters, counters, queue
from storage.models import Analysis, Incident, IncidentMention, Mention, Source, Ticket

NOW = datetime(2026, 11, 23, 2, 0, tzinfo=timezone.utc)
H = timedelta(hours=1)
# name: (severity, state, category, department, assignee, first response due, resolution due, responded)
TICKETS = {
    "important-soon":   ("important", "new", "delivery", "物流部", None, NOW + 1 * H, NOW + 70 * H, False),
    "urgent-later":     ("urgent", "assigned", "product", "品控部", "王芳", NOW + 3 * H, NOW + 20 * H, False),
    "urgent-breached":  ("urgent", "investigating", "service", "客服中心", "李雷", NOW - 2 * H, NOW + 20 * H, False),
    "urgent-soon":      ("urgent", "new", "product", "品控部", None, NOW + 1 * H, NOW + 24 * H, False),
    "general-late-fix": ("general", "investigating", "price", "客服中心", "李雷", NOW - 30 * H, NOW - 1 * H, True),
    "closed":           ("urgent", "closed", "product", "品控部", "王芳", NOW - 9 * H, NOW - 5 * H, True),
}


@pytest.fixture
def tickets(db):
    ids = {}
    with db.session() as s:
        src = {n: Source(name=n, kind="feed", state={}, error_counts={}) for n in ("weibo", "forum")}
        s.add_all(src.values())
        s.flush()
        for key, (name, (sev, state, cat, dept, who, fr_due, res_due, responded)) in enumerate(TICKETS.items()):
            inc = Incident(key=name, target="快送外卖", category=cat, title=name, severity=sev, signals=[],
                           first_seen=NOW - 5 * H, last_seen=NOW, mention_count=1, reach=10, status="open")
            s.add(inc)
            s.flush()
            m = Mention(source_id=src["weibo" if key % 2 else "forum"].id, external_id=name, content_hash=name,
                        text=name, raw={}, published_at=NOW - H, collected_at=NOW - H)
            s.add(m)
            s.flush()
            s.add(IncidentMention(incident_id=inc.id, mention_id=m.id))
            t = Ticket(incident_id=inc.id, open_incident_id=None if state == "closed" else inc.id, state=state,
                       severity=sev, priority={"urgent": 1, "important": 2, "general": 3}[sev], category=cat,
                       title=name, department=dept, assignee=who, opened_at=NOW - 10 * H, updated_at=NOW,
                       first_response_due=fr_due, resolution_due=res_due,
                       first_response_at=NOW - 20 * H if responded else None, external_refs={})
            s.add(t)
            s.flush()
            ids[name] = t.id
        ids["sources"] = {n: s_.id for n, s_ in src.items()}
    return ids


def names(db, **filters) -> list[str]:
    with db.session() as s:
        return [r.ticket.title for r in queue(s, QueueFilters(**filters), NOW)]


def test_most_burning_first(db, tickets):
    # severity first; within it, past due before due soon before due later
    assert names(db) == ["urgent-breached", "urgent-soon", "urgent-later", "important-soon", "general-late-fix"]


def test_filters(db, tickets):
    assert names(db, state=["new"]) == ["urgent-soon", "important-soon"]
    assert names(db, state=["closed"]) == ["closed"]
    assert names(db, severity=["important", "general"]) == ["important-soon", "general-late-fix"]
    assert names(db, category=["product"]) == ["urgent-soon", "urgent-later"]
    assert names(db, department="客服中心") == ["urgent-breached", "general-late-fix"]
    assert names(db, breached=True) == ["urgent-breached", "general-late-fix"]
    weibo = names(db, source=tickets["sources"]["weibo"])
    forum = names(db, source=tickets["sources"]["forum"])
    assert sorted(weibo + forum) == sorted(names(db)) and not set(weibo) & set(forum)


def test_views_and_new_filters(db, tickets):
    assert names(db, view="mine", me="王芳") == ["urgent-later"]
    assert names(db, view="mine", me="nobody") == []
    assert names(db, view="unassigned") == ["urgent-soon", "important-soon"]
    # breaching soon: not breached yet, next due (first response until answered) within 2 hours
    assert names(db, view="soon") == ["urgent-soon", "important-soon"]
    assert names(db, assignee="李雷") == ["urgent-breached", "general-late-fix"]
    assert names(db, target="快送外卖") == names(db) and names(db, target="别家") == []
    f = QueueFilters(view="soon", severity=["urgent"], assignee="李雷", breached=True)
    assert f.query_string() == "view=soon&severity=urgent&assignee=%E6%9D%8E%E9%9B%B7&breached=1"


def test_counters(db, tickets):
    with db.session() as s:
        assert counters(s, NOW, ZoneInfo("Asia/Shanghai")) == {"open": 5, "urgent": 3, "important": 1, "general": 1, "breached": 2,
                                    "unassigned": 2, "new": 2, "opened_today": 5}


def test_volume_against_history_baseline(db):
    """14 days of history: 28 negative posts about the same target and category, i.e. 2 a day; the
    chart's hourly bins then expect 2/24 per hour. Posts about another target or category, or not
    negative, do not count."""
    tz = ZoneInfo("Asia/Shanghai")
    with db.session() as s:
        src = Source(name="s", kind="feed", state={}, error_counts={})
        s.add(src)
        s.flush()
        start = NOW - timedelta(days=14, hours=8)   # the chart starts at NOW-9h; history is the 14 days before

        def post(n, when, target="快送外卖", category="delivery", negative=True):
            m = Mention(source_id=src.id, external_id=f"m{n}", content_hash=f"h{n}", text="x", raw={},
                        published_at=when, collected_at=when)
            s.add(m)
            s.flush()
            s.add(Analysis(mention_id=m.id, sentiment=0.1, negative=negative, complaint=negative,
                           categories=[category], severity="important", signals=[], targets=[target],
                           model_version="t"))
            return m

        for n in range(28):
            post(n, start + timedelta(hours=12 * n))
        post(100, start, target="优选商城")
        post(101, start, category="price")
        post(102, start, negative=False)
        times = [NOW - 3 * H, NOW - 2 * H, NOW - 2 * H + timedelta(minutes=5), NOW - H]
        inc = Incident(key="k", target="快送外卖", category="delivery", title="t", severity="urgent", signals=[],
                       first_seen=times[0], last_seen=times[-1], mention_count=4, reach=0, status="open")
        s.add(inc)
        s.flush()
        series = incident_volume(s, inc, times, tz)
    assert series.bin_size == H
    assert sum(series.counts) == 4 and max(series.counts) == 2
    assert series.history_posts == 28
    assert series.expected[0] == pytest.approx(2 / 24)
    assert series.counts[:6] == [0] * 6          # quiet lead-in before the first post
