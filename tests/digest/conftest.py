"""A week of reputation data with known figures, written straight into the database.

Expect (day 2026-11-22, Asia/Shanghai; the local day is 2026-11-21 16:00 to 2026-11-22 16:00 UTC):
- the day: 40 mentions, 38 analysed, 14 negative, 9 complaints (delivery 6, service 3); one mention at
  local 00:10 (hour 0), one at 23:50 (hour 23), one with no published_at (collected at local 10:00);
- the day before: 20 mentions, all analysed, 4 negative, 3 complaints (delivery 1, product 2); one at
  local 23:50, which must not count for the day;
- earlier days of the week: 10 mentions each, 2 negative;
- target 优选商城 on the day: 12 mentions, 5 negative; the rest are 快送外卖;
- the hostile post (<script>, javascript: link) is the negative post with the largest reach;
- one new incident (快送外卖/delivery) with ticket #1 opened that day, one spike on it; one older
  incident (优选商城/product) whose ticket is past its resolution SLA; one ticket closed the day before;
- sources: weibo-keyword ok, shop-reviews ok, forum-broken failing, blog-quiet silent (ran, no posts).
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta, timezone
from zoneinfo import ZoneInfo

import pytest

from storage.models import (Analysis, CollectionRun, Incident, IncidentMention, Mention, Source, SpreadAlarm,
                            Ticket)

TZ = ZoneInfo("Asia/Shanghai")
DAY = date(2026, 11, 22)
HOSTILE = '快送外卖 <script>alert("x")</script> 三天没到，我要投诉到12315 <img src=x onerror=alert(1)>'


def local(day: date, hour: int, minute: int = 0) -> datetime:
    return datetime(day.year, day.month, day.day, hour, minute, tzinfo=TZ).astimezone(timezone.utc)


@dataclass
class World:
    day: date = DAY
    tz: ZoneInfo = TZ
    mentions_day: int = 40
    negative_day: int = 14
    analyzed_day: int = 38
    complaints_day: int = 9
    mentions_before: int = 20
    negative_before: int = 4
    target_b_day: int = 12
    target_b_negative: int = 5
    hostile_id: int | None = None


class Builder:
    def __init__(self, session):
        self.s = session
        self.sources: dict[str, Source] = {}
        self.n = 0

    def source(self, name: str, **health) -> Source:
        src = Source(name=name, kind="feed", state={}, error_counts={}, health=health.pop("health", "ok"), **health)
        self.s.add(src)
        self.s.flush()
        self.sources[name] = src
        return src

    def mention(self, source: str, at: datetime | None, *, negative: bool | None, target: str,
                categories: list[str] = (), followers: int = 10, text: str | None = None, url: str | None = None,
                collected_at: datetime | None = None) -> Mention:
        self.n += 1
        m = Mention(source_id=self.sources[source].id, external_id=f"m{self.n}", content_hash=f"{self.n:064d}",
                    url=url if url is not None else f"https://weibo.example.com/p/{self.n}", author=f"user{self.n}",
                    author_followers=followers, text=text or f"{target} 第{self.n}条 " + ("太差了" if negative else "还不错"),
                    published_at=at, collected_at=collected_at or at or local(DAY, 12), raw={})
        self.s.add(m)
        self.s.flush()
        if negative is not None:
            complaint = bool(categories)
            self.s.add(Analysis(mention_id=m.id, lang="zh", sentiment=0.1 if negative else 0.8, negative=negative,
                                complaint=complaint, categories=list(categories), severity="important" if complaint
                                else "none", signals=[], targets=[target], model_version="test"))
        return m


def build_world(db) -> World:
    w = World()
    A, B = "快送外卖", "优选商城"
    before = DAY - timedelta(days=1)
    with db.session() as s:
        b = Builder(s)
        b.source("weibo-keyword", last_success_at=local(DAY, 15))
        b.source("shop-reviews", last_success_at=local(DAY, 15))
        b.source("forum-broken", health="failing", consecutive_failures=3, last_error="HTTP 503 from forum.example.com",
                 last_success_at=local(DAY - timedelta(days=2), 9))
        b.source("blog-quiet", last_success_at=local(DAY, 15))
        # The day: 40 mentions. 28 about A (27 on weibo-keyword and the hostile post), 12 about B.
        neg_a = 8    # 14 negative in all: 8 + the hostile post about A, 5 about B
        for i in range(27):
            cats = ["delivery"] if i < 6 else (["service"] if i < 8 else [])
            analyzed = i not in (20, 21)             # two mentions not analysed yet
            m = b.mention("weibo-keyword", local(DAY, 8 + i % 12, i), negative=(i < neg_a) if analyzed else None,
                          target=A, categories=cats, followers=100 + i)
            if i == 0:
                first_a = m
        hostile = b.mention("weibo-keyword", local(DAY, 0, 10), negative=True, target=A, categories=["service"],
                            followers=900_000, text=HOSTILE, url="javascript:alert(document.cookie)")
        w.hostile_id = hostile.id
        for i in range(10):
            b.mention("shop-reviews", local(DAY, 9 + i), negative=i < 4, target=B, followers=50 + i)
        b.mention("shop-reviews", None, negative=True, target=B, collected_at=local(DAY, 10), followers=5)
        b.mention("shop-reviews", local(DAY, 23, 50), negative=False, target=B)
        # The day before: 20 mentions, 4 negative; complaints delivery 1, product 2; one at 23:50 local.
        for i in range(19):
            cats = ["delivery"] if i == 0 else (["product"] if i in (1, 2) else [])
            m = b.mention("weibo-keyword", local(before, 9 + i % 10), negative=i < 4, target=A if i % 2 else B,
                          categories=cats)
            if i == 1:
                product_m = m
        b.mention("weibo-keyword", local(before, 23, 50), negative=False, target=A)
        # Earlier days: 10 mentions each, 2 negative; blog-quiet spoke on those days only.
        for back in range(2, 7):
            d = DAY - timedelta(days=back)
            for i in range(10):
                m = b.mention("blog-quiet" if i == 0 else "weibo-keyword", local(d, 10 + i), negative=i < 2, target=A)
                if back == 4 and i == 0:
                    price_m = m
        # Runs: every source ran on the day, forum-broken failed.
        for name in b.sources:
            src = b.sources[name]
            s.add(CollectionRun(source_id=src.id, started_at=local(DAY, 15), finished_at=local(DAY, 15),
                                status="failed" if name == "forum-broken" else "ok", problems=[]))
        # Incidents and tickets.
        new = Incident(key=f"{A}/delivery", target=A, category="delivery", title="快送外卖 配送延迟 三天没到",
                       severity="important", signals=["repeat"], first_seen=local(DAY, 8), last_seen=local(DAY, 19),
                       mention_count=2, reach=200_000, status="open")
        old = Incident(key=f"{B}/product", target=B, category="product", title="优选商城 商品质量问题",
                       severity="important", signals=[], first_seen=local(DAY - timedelta(days=5), 9),
                       last_seen=local(DAY, 9), mention_count=1, reach=50, status="open")
        done = Incident(key=f"{A}/price", target=A, category="price", title="快送外卖 乱收费", severity="important",
                        signals=[], first_seen=local(DAY - timedelta(days=4), 9),
                        last_seen=local(DAY - timedelta(days=4), 9), mention_count=1, reach=10, status="open")
        s.add_all([new, old, done])
        s.flush()
        s.add_all([IncidentMention(incident_id=new.id, mention_id=first_a.id, added_at=local(DAY, 8, 5)),
                   IncidentMention(incident_id=new.id, mention_id=hostile.id, added_at=local(DAY, 9)),
                   IncidentMention(incident_id=old.id, mention_id=product_m.id,
                                   added_at=local(DAY - timedelta(days=5), 9, 5)),
                   IncidentMention(incident_id=done.id, mention_id=price_m.id,
                                   added_at=local(DAY - timedelta(days=4), 9, 5))])
        s.add_all([
            Ticket(incident_id=new.id, open_incident_id=new.id, state="new", severity="important", title=new.title,
                   department="物流部", opened_at=local(DAY, 8, 5), updated_at=local(DAY, 8, 5),
                   first_response_due=local(DAY, 12, 5), first_response_at=local(DAY, 9),
                   resolution_due=local(DAY + timedelta(days=3), 8)),
            Ticket(incident_id=old.id, open_incident_id=old.id, state="investigating", severity="important",
                   title=old.title, department="品控部", opened_at=local(DAY - timedelta(days=5), 9, 5),
                   updated_at=local(DAY - timedelta(days=4), 9), first_response_at=local(DAY - timedelta(days=5), 10),
                   first_response_due=local(DAY - timedelta(days=5), 13), resolution_due=local(DAY - timedelta(days=2), 9)),
            Ticket(incident_id=done.id, open_incident_id=None, state="closed", severity="important", title=done.title,
                   opened_at=local(DAY - timedelta(days=4), 9, 5), updated_at=local(before, 10),
                   first_response_at=local(DAY - timedelta(days=4), 10), resolved_at=local(before, 9),
                   closed_at=local(before, 10)),
        ])
        s.add(SpreadAlarm(series=f"target:{A}", bin_start=local(DAY, 9), value=12, expected=1.5, score=8.2,
                          incident_id=new.id, detail={"target": A}))
    return w


@pytest.fixture
def world(db) -> World:
    return build_world(db)
