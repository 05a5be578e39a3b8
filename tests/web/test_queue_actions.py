"""The queue as a team works it, through the real server: views, saved views per user, bulk assign /
move / close (agent role and CSRF token), and the assignee picker from real users and departments."""
from __future__ import annotations

from sqlalchemy import select

from storage.models import SavedView, Ticket, TicketEvent, User


def _open(db) -> list[int]:
    with db.session() as s:
        return list(s.scalars(select(Ticket.id).where(Ticket.state != "closed").order_by(Ticket.id)))


def test_bulk_assign_move_and_close_selected_tickets(as_role, demo_data):
    db = demo_data
    ids = _open(db)
    assert len(ids) >= 3
    first, second, third = ids[:3]
    client, token = as_role("agent")
    page = client.get("/").text
    # the picker offers the team's users and the routing config's departments, not free text
    assert '<option value="agent">agent</option>' in page and '<option value="客服中心">客服中心</option>' in page
    r = client.post("/queue/bulk", data={"ticket": [first, second], "action": "assign", "assignee": "agent",
                                         "department": "", "back": "/?view=mine", "csrf_token": token})
    assert r.status_code == 303 and r.headers["location"] == "/?view=mine"
    mine = client.get("/?view=mine").text
    assert f"已处理 Done (assign): #{first}, #{second}" in mine
    assert f'data-ticket="{first}"' in mine and f'data-ticket="{second}"' in mine and f'data-ticket="{third}"' not in mine
    # a move the state machine refuses is named; the others go ahead
    client.post("/queue/bulk", data={"ticket": [first, third], "action": "move", "state": "investigating",
                                     "csrf_token": token})
    page = client.get("/").text
    assert f"#{third}: ticket {third} is &#39;new&#39;; it cannot move to &#39;investigating&#39;" in page and f"Done (move): #{first}" in page
    client.post("/queue/bulk", data={"ticket": [second], "action": "close", "csrf_token": token})
    with db.session() as s:
        got = {t.id: (t.state, t.assignee) for t in s.scalars(select(Ticket).where(Ticket.id.in_(ids[:3])))}
        events = list(s.scalars(select(TicketEvent).where(TicketEvent.ticket_id == second).order_by(TicketEvent.id)))
    assert got[first] == ("investigating", "agent") and got[second] == ("closed", "agent")
    assert got[third][1] is None
    assert events[-1].actor == "web:agent" and events[-1].to_state == "closed"
    # an unknown assignee is refused for each ticket, with who exists
    client.post("/queue/bulk", data={"ticket": [third], "action": "assign", "assignee": "李雷", "csrf_token": token})
    assert "no user named &#39;李雷&#39;; assign to one of: admin, agent, viewer" in client.get("/").text


def test_bulk_needs_the_agent_role_and_the_csrf_token(as_role, demo_data):
    ids = _open(demo_data)
    viewer, token = as_role("viewer")
    assert 'id="bulk-form"' not in viewer.get("/").text
    r = viewer.post("/queue/bulk", data={"ticket": ids[:1], "action": "close", "csrf_token": token})
    assert r.status_code == 403
    agent, _ = as_role("agent")
    r = agent.post("/queue/bulk", data={"ticket": ids[:1], "action": "close"})
    assert r.status_code == 403
    with demo_data.session() as s:
        assert s.get(Ticket, ids[0]).state != "closed"


def test_saved_views_are_per_user(as_role, demo_data):
    agent, token = as_role("agent")
    r = agent.post("/queue/views", data={"name": "我的紧急", "query": "view=mine&severity=urgent",
                                         "csrf_token": token})
    assert r.status_code == 303 and r.headers["location"] == "/?view=mine&severity=urgent"
    page = agent.get("/").text
    assert '<a href="/?view=mine&amp;severity=urgent" >★ 我的紧急</a>' in page
    admin, admin_token = as_role("admin")
    assert "我的紧急" not in admin.get("/").text
    with demo_data.session() as s:
        view = s.scalar(select(SavedView))
        assert view.user_id == s.scalar(select(User.id).where(User.name == "agent"))
    admin.post(f"/queue/views/{view.id}/delete", data={"csrf_token": admin_token})   # not theirs: kept
    assert "我的紧急" in agent.get("/").text
    agent.post(f"/queue/views/{view.id}/delete", data={"csrf_token": token})
    page = agent.get("/").text
    assert "Deleted view “我的紧急”" in page and "★ 我的紧急" not in page
