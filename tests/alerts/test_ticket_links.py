"""Merging duplicate tickets, and the same customer's other tickets (repeat complainants)."""
from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select

from alerts.tickets.customers import normalise_author, other_tickets, platform_of
from alerts.incidents.merge import IncidentError, merge_tickets
from alerts.tickets.process import open_ticket
from storage.models import Incident, IncidentMention, Mention, Ticket, TicketEvent

HOUR = timedelta(hours=1)


def _ticket(db, seed, settings, at, *, author, url, key, severity="important", target="快送外卖") -> int:
    mid = seed.mention(f"{key} 快送外卖送餐太慢了，投诉", at=at, url=url, targets=(target,))
    with db.session() as s:
        s.get(Mention, mid).author = author
        inc = Incident(key=key, target=target, category="delivery", title=f"{key} 送餐太慢", severity=severity,
                       signals=[], first_seen=at, last_seen=at, mention_count=1, reach=0, status="open")
        s.add(inc)
        s.flush()
        s.add(IncidentMention(incident_id=inc.id, mention_id=mid))
        return open_ticket(s, inc, settings, at)[0].id


def test_author_names_and_platforms_are_normalised():
    assert normalise_author("  @Ｌｉ　Lei ") == "li lei" == normalise_author("li   LEI")
    assert platform_of("https://m.weibo.cn/status/1") == "weibo.cn" == platform_of("https://www.weibo.cn/x")
    assert platform_of(None) is None and platform_of("not a url") is None


def test_the_same_customer_is_found_across_sources_but_not_across_platforms(db, seed, settings, clock):
    t0 = clock.now()
    first = _ticket(db, seed, settings, t0, author="李雷", url="https://weibo.com/1", key="a")
    other_platform = _ticket(db, seed, settings, t0 + HOUR, author="李雷", url="https://zhihu.com/q/2", key="b")
    someone_else = _ticket(db, seed, settings, t0 + HOUR, author="韩梅梅", url="https://weibo.com/3", key="c")
    anonymous = _ticket(db, seed, settings, t0 + HOUR, author="匿名", url="https://weibo.com/4", key="d")
    again = _ticket(db, seed, settings, t0 + 2 * HOUR, author="@李雷 ", url="https://www.weibo.com/5", key="e")
    no_link = _ticket(db, seed, settings, t0 + 3 * HOUR, author="李雷", url="", key="f")
    with db.session() as s:
        s.scalar(select(Mention).where(Mention.text.startswith("f "))).url = None
    with db.session() as s:
        found = other_tickets(s, s.get(Ticket, again))
        assert [(o.ticket.id, o.earlier) for o in found] == [(first, True), (no_link, False)]
        assert found[0].author == "李雷"
        assert [o.ticket.id for o in other_tickets(s, s.get(Ticket, first))] == [again, no_link]
        assert [o.ticket.id for o in other_tickets(s, s.get(Ticket, other_platform))] == [no_link]
        assert other_tickets(s, s.get(Ticket, someone_else)) == []
        assert other_tickets(s, s.get(Ticket, anonymous)) == []


def test_merging_a_duplicate_ticket_keeps_one_with_the_evidence_and_an_audit_trail_on_both(db, seed, settings,
                                                                                          clock):
    t0 = clock.now()
    keep = _ticket(db, seed, settings, t0, author="李雷", url="https://weibo.com/1", key="a", severity="important")
    dup = _ticket(db, seed, settings, t0 + HOUR, author="李雷", url="https://weibo.com/2", key="b", severity="urgent")
    with db.session() as s:
        merge_tickets(s, dup, keep, actor="cli:wang", now=clock.advance(2 * HOUR), settings=settings,
                      reason="同一订单")
    with db.session() as s:
        k, d = s.get(Ticket, keep), s.get(Ticket, dup)
        assert (d.state, d.closed_at, d.open_incident_id) == ("closed", clock.now(), None)
        assert k.state == "new" and (k.severity, k.priority) == ("urgent", 1)
        assert k.first_response_due == t0 + HOUR + settings.sla["urgent"].first_response   # the duplicate's, sooner
        assert s.get(Incident, d.incident_id).merged_into == k.incident_id
        assert len(s.scalars(select(IncidentMention).where(IncidentMention.incident_id == k.incident_id)).all()) == 2
        merged = s.scalars(select(TicketEvent).where(TicketEvent.kind == "merged").order_by(TicketEvent.id)).all()
        assert [(e.ticket_id, e.actor) for e in merged] == [(dup, "cli:wang"), (keep, "cli:wang")]
        assert merged[0].detail["into_ticket"] == keep and merged[1].detail["from_ticket"] == dup
        assert f"ticket #{dup} merged into #{keep}: 同一订单" in merged[0].note
    with db.session() as s:
        for a, b, message in ((keep, keep, "into itself"), (dup, keep, f"ticket #{dup} is closed"),
                              (keep, 9999, "no ticket #9999")):
            with pytest.raises(IncidentError, match=message):
                merge_tickets(s, a, b, actor="cli:wang", now=clock.now())


def test_tickets_about_different_targets_are_not_merged(db, seed, settings, clock):
    a = _ticket(db, seed, settings, clock.now(), author="李雷", url="https://weibo.com/1", key="a")
    b = _ticket(db, seed, settings, clock.now(), author="李雷", url="https://weibo.com/2", key="b", target="优选商城")
    with db.session() as s:
        with pytest.raises(IncidentError, match="only incidents about one target are merged"):
            merge_tickets(s, a, b, actor="cli:wang", now=clock.now())
        assert s.get(Ticket, a).state == "new"
