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
    assert invoke(*db, "ticket", "move", str(ticket_id), "investigating").exit_code == 0
    row = json.loads(invoke(*db, "tickets", "--json").stdout)   # a pause does not forgive a breach before it
    assert (row["state"], row["sla"]) == ("investigating", "SLA breached: resolution")
