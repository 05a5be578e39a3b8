"""`repwatch ticket draft/reply` and waiting for the customer, through the real CLI (CliRunner)."""
from __future__ import annotations

import json

from sqlalchemy import select

from storage import Database
from storage.models import Ticket, TicketEvent
from tests.alerts.test_cli import invoke, ticket_id  # noqa: F401  (the fixture)


def _db(database_url):
    return ["--database", database_url]


def test_draft_and_reply_record_the_first_response(database_url, ticket_id):  # noqa: F811
    db = _db(database_url)
    draft = invoke(*db, "ticket", "draft", str(ticket_id))
    assert draft.exit_code == 0
    assert draft.stdout.startswith(f"# ticket #{ticket_id}, template delivery.zh")
    assert f"工单 #{ticket_id}" in draft.stdout and "24小时内" in draft.stdout and "(Asia/Shanghai)" in draft.stdout
    assert "by " in invoke(*db, "ticket", "draft", str(ticket_id), "--template", "delivery.en").stdout
    assert "delivery.en" in invoke(*db, "ticket", "draft", str(ticket_id), "--list").stdout.split()
    bad = invoke(*db, "ticket", "draft", str(ticket_id), "--template", "shipping")
    assert bad.exit_code == 1 and "no reply template 'shipping'" in bad.stderr

    first = invoke(*db, "ticket", "reply", str(ticket_id), "--template", "delivery.en")
    assert first.exit_code == 0 and first.stdout.strip() == f"reply recorded on ticket #{ticket_id} (first response)"
    again = invoke(*db, "ticket", "reply", str(ticket_id), "--text", "已补发，请查收")
    assert again.stdout.strip() == f"reply recorded on ticket #{ticket_id}"
    assert invoke(*db, "ticket", "reply", str(ticket_id), "--text", " ").exit_code == 1
    d = Database(database_url)
    with d.session() as s:
        assert s.get(Ticket, ticket_id).first_response_at is not None
        events = s.scalars(select(TicketEvent).where(TicketEvent.kind == "reply").order_by(TicketEvent.id)).all()
        assert [e.detail["template"] for e in events] == ["delivery.en", None]
        assert events[0].note.startswith("Hello there") and events[1].note == "已补发，请查收"
    d.dispose()


def test_waiting_for_the_customer_is_not_breached_in_the_cli(database_url, ticket_id):  # noqa: F811
    db = _db(database_url)
    assert "SLA breached" in invoke(*db, "tickets", "--breached").stdout          # opened in 2020
    invoke(*db, "ticket", "move", str(ticket_id), "assigned")
    assert invoke(*db, "ticket", "move", str(ticket_id), "waiting_customer").exit_code == 0
    assert invoke(*db, "tickets", "--breached").stdout.strip() == "no tickets match"
    row = json.loads(invoke(*db, "tickets", "--json").stdout)
    assert (row["state"], row["sla"]) == ("waiting_customer", "paused: waiting for customer")
    assert "SLA clock paused" in invoke(*db, "ticket", "show", str(ticket_id)).stdout
    assert invoke(*db, "ticket", "move", str(ticket_id), "investigating").exit_code == 0
    row = json.loads(invoke(*db, "tickets", "--json").stdout)   # a pause does not forgive a breach before it
    assert (row["state"], row["sla"]) == ("investigating", "SLA breached: resolution")


def test_ticket_merge_and_the_customers_earlier_tickets(database_url):
    from datetime import timedelta

    from alerts.settings import AlertSettings
    from alerts.tickets.process import open_ticket
    from storage.models import Incident, IncidentMention, Mention
    from storage.writes import get_or_create_source
    from tests.alerts.test_cli import OPENED

    d = Database(database_url)
    ids = []
    with d.session() as s:
        src = get_or_create_source(s, "weibo-a", "feed")
        for n in range(3):
            at = OPENED + timedelta(days=n)
            m = Mention(source_id=src.id, external_id=f"w{n}", url=f"https://weibo.com/{n}", content_hash=f"h{n}",
                        author="@李雷" if n else "李雷", text=f"快送外卖 第{n}次投诉", published_at=at, collected_at=at,
                        raw={})
            inc = Incident(key=f"k{n}", target="快送外卖", category="delivery", title=f"第{n}次", severity="important",
                           signals=[], first_seen=at, last_seen=at, mention_count=1, reach=0, status="open")
            s.add_all([m, inc])
            s.flush()
            s.add(IncidentMention(incident_id=inc.id, mention_id=m.id))
            ids.append(open_ticket(s, inc, AlertSettings(), at)[0].id)
    d.dispose()
    db = _db(database_url)
    shown = invoke(*db, "ticket", "show", str(ids[2])).stdout
    assert f"this customer complained before: #{ids[0]}, #{ids[1]}" in shown
    assert f"and again later: #{ids[2]}" in invoke(*db, "ticket", "show", str(ids[1])).stdout
    merged = invoke(*db, "ticket", "merge", str(ids[2]), str(ids[1]), "--reason", "同一订单")
    assert merged.exit_code == 0, merged.output
    assert merged.stdout.strip() == f"ticket #{ids[2]} merged into #{ids[1]} (important, new); #{ids[2]} is closed"
    again = invoke(*db, "ticket", "merge", str(ids[2]), str(ids[1]))
    assert again.exit_code == 1 and "is closed" in again.stderr
    for tid in ids[1:]:
        assert "merged" in invoke(*db, "ticket", "show", str(tid)).stdout
