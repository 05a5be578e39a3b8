"""Ticket actions, silences and user administration through the pages, over real HTTP; each action
leaves exactly the rows it should."""
from __future__ import annotations

import re
from datetime import timedelta

import httpx
from sqlalchemy import func, select

from repwatch.web.users import create_user
from storage.models import ApiToken, Silence, Ticket, TicketEvent, User


def _events(db, ticket_id: int) -> list[TicketEvent]:
    with db.session() as s:
        return list(s.scalars(select(TicketEvent).where(TicketEvent.ticket_id == ticket_id).order_by(TicketEvent.id)))


def test_agent_works_a_ticket_to_a_satisfied_follow_up(as_role, hostile_data, clock):
    db = hostile_data
    with db.session() as s:
        t = s.scalar(select(Ticket))
        create_user(s, "王芳", "agent", "wangfang-password-1")   # assignees must be real users
        ticket_id, incident_id = t.id, t.incident_id
    before = len(_events(db, ticket_id))
    client, token = as_role("agent")

    def post(action: str, **data):
        r = client.post(f"/tickets/{ticket_id}/{action}", data={**data, "csrf_token": token})
        assert r.status_code == 303 and r.headers["location"] == f"/tickets/{ticket_id}"
        return client.get(f"/tickets/{ticket_id}").text

    page = post("follow-up", satisfied="yes")                    # too early: refused, nothing written
    assert "recorded once it is resolved" in page
    page = post("move", state="resolved")                       # not allowed from new
    assert "cannot move to &#39;resolved&#39;" in page
    post("assign", assignee="王芳", department="物流部")
    post("move", state="investigating")
    post("note", note="已致电顾客，补发餐品")
    post("move", state="resolved")
    post("follow-up", satisfied="yes", note="顾客表示满意")
    post("silence", duration="24h", comment="已解决，暂停提醒")

    new = _events(db, ticket_id)[before:]
    assert [(e.kind, e.from_state, e.to_state) for e in new] == [
        ("assign", None, None), ("state", "new", "assigned"), ("state", "assigned", "investigating"),
        ("note", None, None), ("state", "investigating", "resolved"), ("follow_up", None, None),
        ("state", "resolved", "followed_up"), ("silence", None, None)]
    assert {e.actor for e in new} == {"web:agent"}
    with db.session() as s:
        t = s.get(Ticket, ticket_id)
        assert (t.state, t.follow_up_satisfied, t.assignee, t.department) == ("followed_up", True, "王芳", "物流部")
        silence = s.scalar(select(Silence))
        assert (silence.incident_id, silence.target, silence.created_by) == (incident_id, None, "agent")
        assert silence.ends_at - silence.starts_at == timedelta(hours=24)
    assert new[-1].detail["silence_id"] == silence.id


def test_admin_manages_silences(as_role, hostile_data):
    db = hostile_data
    client, token = as_role("admin")
    r = client.post("/silences", data={"target": "快送外卖", "duration": "3d", "comment": "大促期间",
                                       "csrf_token": token})
    assert r.status_code == 303
    for bad in ({"incident_id": "999999"}, {"duration": "soon"}, {}, {"target": "快送外卖", "duration": "365d"}):
        r = client.post("/silences", data={"duration": "1h", **bad, "csrf_token": token})
        assert r.status_code == 303 and "flash-error" in client.get("/silences").text, bad
    with db.session() as s:
        assert s.scalar(select(func.count(Silence.id))) == 1
        silence_id = s.scalar(select(Silence.id))
    assert "大促期间" in client.get("/silences").text
    assert client.post(f"/silences/{silence_id}/expire", data={"csrf_token": token}).status_code == 303
    assert client.post("/silences/424242/expire", data={"csrf_token": token}).status_code == 303
    with db.session() as s:
        silence = s.get(Silence, silence_id)
        assert silence.ends_at == silence.starts_at   # ended at once: the frozen clock has not moved


def test_admin_adds_users_and_tokens_shown_once(as_role, server, db):
    client, token = as_role("admin")
    r = client.post("/admin/users", data={"name": "王芳", "role": "agent", "csrf_token": token})
    assert r.status_code == 200
    password = re.search(r'<code class="secret-value">([^<]+)</code>', r.text).group(1)
    assert password not in client.get("/admin/users").text          # shown once
    with db.session() as s:
        wang = s.scalar(select(User).where(User.name == "王芳"))
        assert wang.role == "agent" and password not in wang.password_hash
        me = s.scalar(select(User).where(User.name == "admin"))
    r = client.post("/admin/tokens", data={"user_id": str(wang.id), "name": "crm", "csrf_token": token})
    api_token = re.search(r'<code class="secret-value">([^<]+)</code>', r.text).group(1)
    assert httpx.get(f"{server.url}/api/me", headers={"Authorization": f"Bearer {api_token}"}).json()["name"] == "王芳"
    # an admin cannot lock themselves out
    r = client.post(f"/admin/users/{me.id}", data={"role": "viewer", "csrf_token": token})
    assert "flash-error" in client.get("/admin/users").text
    r = client.post(f"/admin/users/{wang.id}", data={"disabled": "yes", "csrf_token": token})
    with db.session() as s:
        assert s.get(User, wang.id).disabled and s.get(User, me.id).role == "admin"
        token_id = s.scalar(select(ApiToken.id))
    assert httpx.get(f"{server.url}/api/me", headers={"Authorization": f"Bearer {api_token}"}).status_code == 401
    client.post(f"/admin/tokens/{token_id}/revoke", data={"csrf_token": token})
    with db.session() as s:
        assert s.scalar(select(func.count(ApiToken.id))) == 0
