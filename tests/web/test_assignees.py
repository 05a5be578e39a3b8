"""Assignees must exist: the ticket page and the JSON API refuse a name that is not a user (or a person
the routing config names), and say who exists."""
from __future__ import annotations

import httpx
from sqlalchemy import select

from repwatch.web.users import create_token
from storage.models import Ticket, TicketEvent, User


def test_api_refuses_an_unknown_assignee_and_lists_who_exists(server, hostile_data, users, db):
    with db.session() as s:
        _, token = create_token(s, s.scalar(select(User).where(User.name == "agent")), "crm")
        ticket_id = s.scalar(select(Ticket.id))
        events = s.query(TicketEvent).count()
    api = httpx.Client(base_url=server.url + "/api", headers={"Authorization": f"Bearer {token}"}, timeout=30)
    r = api.post(f"/tickets/{ticket_id}/assign", json={"assignee": "李雷"})
    assert r.status_code == 409
    assert r.json()["detail"] == ("no user named '李雷'; assign to one of: admin, agent, viewer "
                                  "(add a user with `repwatch user add`)")
    with db.session() as s:
        assert s.get(Ticket, ticket_id).assignee is None and s.query(TicketEvent).count() == events
    r = api.post(f"/tickets/{ticket_id}/assign", json={"assignee": "agent"})
    assert r.status_code == 200 and r.json()["ticket"]["assignee"] == "agent"
    # a department alone needs no user
    assert api.post(f"/tickets/{ticket_id}/assign", json={"department": "物流部"}).status_code == 200
    api.close()


def test_ticket_page_refuses_an_unknown_assignee(as_role, hostile_data, db):
    with db.session() as s:
        ticket_id = s.scalar(select(Ticket.id))
    client, token = as_role("agent")
    r = client.post(f"/tickets/{ticket_id}/assign", data={"assignee": "李雷", "csrf_token": token})
    assert r.status_code == 303
    page = client.get(f"/tickets/{ticket_id}").text
    assert "no user named &#39;李雷&#39;" in page
    with db.session() as s:
        assert s.get(Ticket, ticket_id).assignee is None
