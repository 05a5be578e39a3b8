"""Replying to the customer from the ticket page and the API: a draft from the six-step templates,
edited, recorded on the ticket as the first response; agents only, CSRF-checked, markup escaped."""
from __future__ import annotations

import html

import httpx
from sqlalchemy import select

from storage.models import Ticket, TicketEvent, User


def _ticket(db) -> int:
    with db.session() as s:
        return s.scalar(select(Ticket.id))


def _replies(db, ticket_id):
    with db.session() as s:
        return [(e.actor, e.note, e.detail) for e in s.scalars(select(TicketEvent).where(
            TicketEvent.ticket_id == ticket_id, TicketEvent.kind == "reply").order_by(TicketEvent.id))]


def test_agent_drafts_edits_and_records_a_reply_as_the_first_response(as_role, hostile_data, clock, parse_tags):
    db = hostile_data
    ticket_id = _ticket(db)
    client, token = as_role("agent")
    page = client.get(f"/tickets/{ticket_id}").text
    box = [a for t, a in parse_tags(page) if t == "textarea" and a.get("id") == "reply-text"]
    assert box, "the ticket page has a reply box"
    draft = html.unescape(page.split('id="reply-text"', 1)[1].split(">", 1)[1].split("</textarea>", 1)[0])
    assert "<img src=x onerror=window.pwned=3>您好" in draft          # the hostile author, as text
    assert "<img src=x" not in page                                  # ...escaped in the page
    assert f"#{ticket_id}" in draft and "24小时内" in draft and "(Asia/Shanghai)" in draft
    assert 'id="reply-copy"' in page
    en = client.get(f"/tickets/{ticket_id}", params={"template": "delivery.en"}).text
    assert "Hello &lt;img" in en and "within 24 hours" in en
    assert 'value="delivery.en" selected' in en

    edited = draft.replace("您好", "您好（已核实）")
    r = client.post(f"/tickets/{ticket_id}/reply", data={"text": edited, "template": "delivery.zh",
                                                         "csrf_token": token})
    assert r.status_code == 303 and r.headers["location"] == f"/tickets/{ticket_id}"
    assert "答复已记录 Reply recorded." in client.get(f"/tickets/{ticket_id}").text
    assert _replies(db, ticket_id) == [("web:agent", edited, {"template": "delivery.zh", "first_response": True})]
    with db.session() as s:
        assert s.get(Ticket, ticket_id).first_response_at == clock.now()
    page = client.get(f"/tickets/{ticket_id}").text
    assert "首次响应 first response" in page and "（已核实）" in page     # in the audit trail

    client.post(f"/tickets/{ticket_id}/reply", data={"text": "   ", "csrf_token": token})
    assert "the reply is empty" in client.get(f"/tickets/{ticket_id}").text
    assert len(_replies(db, ticket_id)) == 1


def test_viewers_and_forged_posts_cannot_reply(as_role, hostile_data):
    db = hostile_data
    ticket_id = _ticket(db)
    viewer, vtoken = as_role("viewer")
    assert 'id="reply-form"' not in viewer.get(f"/tickets/{ticket_id}").text
    assert viewer.post(f"/tickets/{ticket_id}/reply", data={"text": "hi", "csrf_token": vtoken}).status_code == 403
    assert viewer.post(f"/api/tickets/{ticket_id}/reply", json={"text": "hi"},
                       headers={"X-CSRF-Token": vtoken}).status_code == 403
    assert viewer.get(f"/api/tickets/{ticket_id}/reply-draft").status_code == 403
    agent, _ = as_role("agent")
    assert agent.post(f"/tickets/{ticket_id}/reply", data={"text": "hi"}).status_code == 403       # no CSRF token
    assert agent.post(f"/api/tickets/{ticket_id}/reply", json={"text": "hi"}).status_code == 403
    assert _replies(db, ticket_id) == []


def test_api_drafts_and_records_replies_with_a_token(server, hostile_data, users, db):
    from repwatch.web.users import create_token

    ticket_id = _ticket(db)
    with db.session() as s:
        _, token = create_token(s, s.scalar(select(User).where(User.name == "agent")), "crm")
    with httpx.Client(base_url=server.url + "/api", headers={"Authorization": f"Bearer {token}"}, timeout=30) as api:
        r = api.get(f"/tickets/{ticket_id}/reply-draft", params={"template": "general.en"})
        assert r.status_code == 200, r.text
        body = r.json()
        assert body["template"] == "general.en" and body["text"].startswith("Hello <img src=x")
        assert len(body["templates"]) == 16
        assert api.get(f"/tickets/{ticket_id}/reply-draft").json()["template"].endswith(".zh")
        assert api.get(f"/tickets/{ticket_id}/reply-draft", params={"template": "nope"}).status_code == 422
        assert api.get("/tickets/999999/reply-draft").status_code == 404
        r = api.post(f"/tickets/{ticket_id}/reply", json={"text": body["text"], "template": "general.en"})
        assert r.status_code == 200, r.text
        out = r.json()
        assert (out["event"]["kind"], out["event"]["actor"], out["event"]["note"]) == ("reply", "api:agent",
                                                                                       body["text"])
        assert out["ticket"]["first_response_at"] is not None
        assert api.post(f"/tickets/{ticket_id}/reply", json={"text": ""}).status_code == 422
        assert api.post(f"/tickets/{ticket_id}/reply", json={"text": "x", "template": "nope"}).status_code == 409
        assert api.post("/tickets/999999/reply", json={"text": "x"}).status_code == 404
    assert [d["first_response"] for _, _, d in _replies(db, ticket_id)] == [True]
