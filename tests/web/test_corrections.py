"""Corrections through the dashboard and the JSON API, over real HTTP against a real uvicorn server,
on data the real pipeline wrote: the ticket is re-routed or dismissed at once, the audit trail and the
correction rows say who and when, and only agents (with the CSRF token, or a token) may correct."""
from __future__ import annotations

from datetime import timedelta

from sqlalchemy import func, select

from storage.models import Correction, Incident, IncidentMention, Ticket, TicketEvent, User


def _ticket(db) -> tuple[int, list[int]]:
    with db.session() as s:
        t = s.scalar(select(Ticket))
        mentions = list(s.scalars(select(IncidentMention.mention_id)
                                  .where(IncidentMention.incident_id == t.incident_id)))
        return t.id, mentions


def test_agent_corrects_category_and_severity_on_the_ticket_page(as_role, hostile_data, clock):
    db = hostile_data
    ticket_id, mentions = _ticket(db)
    with db.session() as s:
        t = s.get(Ticket, ticket_id)
        opened, before = t.opened_at, (t.category, t.department)
    assert before[0] != "product"
    client, token = as_role("agent")
    page = client.get(f"/tickets/{ticket_id}").text
    assert 'id="correct-form"' in page and f'action="/tickets/{ticket_id}/mentions/{mentions[0]}/correct"' in page

    r = client.post(f"/tickets/{ticket_id}/correct", data={
        "verdict": "complaint", "categories": ["product", "after_sales"], "severity": "general",
        "reason": "是产品问题", "csrf_token": token})
    assert r.status_code == 303 and r.headers["location"] == f"/tickets/{ticket_id}"
    page = client.get(f"/tickets/{ticket_id}").text
    assert "已更正" in page and "是产品问题" in page
    with db.session() as s:
        t = s.get(Ticket, ticket_id)
        # demo routing: product → 品控部; severity general → 7 days from the opening
        assert (t.category, t.department, t.severity, t.priority) == ("product", "品控部", "general", 3)
        assert t.resolution_due - opened == timedelta(days=7)
        event = s.scalar(select(TicketEvent).where(TicketEvent.ticket_id == ticket_id,
                                                   TicketEvent.kind == "correction"))
        assert (event.actor, event.at, event.detail["from"]["department"]) == ("web:agent", clock.now(), before[1])
        rows = list(s.scalars(select(Correction)))
        assert sorted(c.mention_id for c in rows) == sorted(mentions)
        assert {(c.actor, c.complaint, tuple(c.categories), c.severity) for c in rows} == {
            ("web:agent", True, ("product", "after_sales"), "general")}


def test_agent_dismisses_a_ticket_as_not_a_complaint_and_labels_a_post(as_role, hostile_data):
    db = hostile_data
    ticket_id, mentions = _ticket(db)
    client, token = as_role("agent")
    r = client.post(f"/tickets/{ticket_id}/mentions/{mentions[0]}/correct",
                    data={"verdict": "not_complaint", "csrf_token": token})
    assert r.status_code == 303
    assert "已更正 corrected by web:agent" in client.get(f"/tickets/{ticket_id}").text
    with db.session() as s:
        assert s.get(Ticket, ticket_id).state == "new"            # a post's label leaves the routing alone
        assert s.scalar(select(Correction.complaint).where(Correction.mention_id == mentions[0])) is False
    r = client.post(f"/tickets/{ticket_id}/correct", data={"verdict": "not_complaint", "reason": "测试帖",
                                                           "csrf_token": token})
    assert r.status_code == 303
    page = client.get(f"/tickets/{ticket_id}").text
    assert "dismissed: not a complaint" in page
    with db.session() as s:
        t = s.get(Ticket, ticket_id)
        assert (t.state, t.open_incident_id) == ("closed", None)
        assert s.get(Incident, t.incident_id).status == "dismissed"
        assert [e.kind for e in t.events][-3:] == ["correction", "correction", "state"]
    # a category with "not a complaint" is refused with the reason, and writes nothing
    client.post(f"/tickets/{ticket_id}/correct", data={"verdict": "complaint", "csrf_token": token})
    r = client.post(f"/tickets/{ticket_id}/correct", data={"verdict": "not_complaint", "categories": "price",
                                                           "csrf_token": token})
    assert "no category or severity" in client.get(r.headers["location"]).text
    with db.session() as s:
        assert s.get(Ticket, ticket_id).state == "new"            # reopened by "is a complaint"


def test_a_post_of_another_ticket_cannot_be_corrected_through_this_one(as_role, hostile_data):
    ticket_id, mentions = _ticket(hostile_data)
    client, token = as_role("agent")
    r = client.post(f"/tickets/{ticket_id}/mentions/{max(mentions) + 1000}/correct",
                    data={"verdict": "complaint", "csrf_token": token})
    assert r.status_code == 404
    with hostile_data.session() as s:
        assert s.scalar(select(func.count(Correction.id))) == 0


def test_viewers_and_forged_requests_cannot_correct(as_role, hostile_data):
    db = hostile_data
    ticket_id, mentions = _ticket(db)
    viewer, vtoken = as_role("viewer")
    assert viewer.post(f"/tickets/{ticket_id}/correct", data={"verdict": "not_complaint", "csrf_token": vtoken}
                       ).status_code == 403
    assert viewer.post(f"/api/tickets/{ticket_id}/correction", json={"complaint": False},
                       headers={"X-CSRF-Token": vtoken}).status_code == 403
    assert 'id="correct-form"' not in viewer.get(f"/tickets/{ticket_id}").text
    agent, _ = as_role("agent")
    assert agent.post(f"/tickets/{ticket_id}/correct", data={"verdict": "not_complaint"}).status_code == 403
    assert agent.post(f"/api/mentions/{mentions[0]}/correction", json={"complaint": False}).status_code == 403
    with db.session() as s:
        assert s.scalar(select(func.count(Correction.id))) == 0
        assert s.get(Ticket, ticket_id).state == "new"


def test_api_corrections_with_a_token(server, hostile_data, users, db):
    import httpx

    from repwatch.web.users import create_token

    ticket_id, mentions = _ticket(db)
    with db.session() as s:
        _, token = create_token(s, s.scalar(select(User).where(User.name == "agent")), "crm")
        _, viewer_token = create_token(s, s.scalar(select(User).where(User.name == "viewer")), "ro")
    api = httpx.Client(base_url=server.url + "/api", headers={"Authorization": f"Bearer {token}"}, timeout=30)
    with api:
        r = api.post(f"/tickets/{ticket_id}/correction", json={"categories": ["delivery"], "severity": "urgent",
                                                               "reason": "物流延误"})
        assert r.status_code == 200, r.text
        body = r.json()
        assert body["corrections"] == len(mentions)
        assert (body["ticket"]["category"], body["ticket"]["department"], body["ticket"]["severity"]) == (
            "delivery", "物流部", "urgent")
        assert (body["event"]["kind"], body["event"]["actor"], body["event"]["note"]) == (
            "correction", "api:agent", "物流延误")
        r = api.post(f"/mentions/{mentions[0]}/correction", json={"complaint": False, "reason": "广告"})
        assert r.status_code == 200 and (r.json()["complaint"], r.json()["ticket_id"]) == (False, ticket_id)
        assert r.json()["predicted"]["complaint"] is True
        assert api.post(f"/tickets/{ticket_id}/correction", json={"complaint": False, "severity": "urgent"}
                        ).status_code == 409
        assert api.post(f"/tickets/{ticket_id}/correction", json={"categories": ["shipping"]}).status_code == 422
        assert api.post(f"/tickets/{ticket_id}/correction", json={}).status_code == 409
        assert api.post("/tickets/999999/correction", json={"complaint": False}).status_code == 404
        assert api.post("/mentions/999999/correction", json={"complaint": False}).status_code == 404
        listed = api.get("/corrections", params={"mention": mentions[0]}).json()
        assert [(c["complaint"], c["actor"]) for c in listed] == [(False, "api:agent"), (True, "api:agent")]
        detail = api.get(f"/tickets/{ticket_id}").json()
        assert [e["kind"] for e in detail["events"]].count("correction") == 2
    r = httpx.post(f"{server.url}/api/tickets/{ticket_id}/correction", json={"complaint": False},
                   headers={"Authorization": f"Bearer {viewer_token}"})
    assert r.status_code == 403
    assert httpx.get(f"{server.url}/api/corrections", headers={"Authorization": f"Bearer {viewer_token}"}
                     ).status_code == 200


def test_a_missed_complaint_is_raised_from_the_mentions_search(as_role, server, users, db, clock):
    from tests.alerts.conftest import Seeder

    missed = Seeder(db).mention("取暖器用了三天就起火了，我已经联系律师", at=clock.now(), severity="none",
                                targets=())
    viewer, vtoken = as_role("viewer")
    page = viewer.get("/mentions", params={"q": "取暖器"}).text
    assert "起火" in page and f'action="/mentions/{missed}/correct"' not in page
    assert viewer.post(f"/mentions/{missed}/correct", data={"verdict": "complaint", "csrf_token": vtoken}
                       ).status_code == 403
    client, token = as_role("agent")
    page = client.get("/mentions", params={"q": "取暖器"}).text
    assert f'action="/mentions/{missed}/correct"' in page
    r = client.post(f"/mentions/{missed}/correct", data={
        "verdict": "complaint", "categories": "product", "severity": "urgent", "csrf_token": token,
        "next": "/mentions?q=%E5%8F%96%E6%9A%96%E5%99%A8"})
    assert r.status_code == 303 and r.headers["location"] == "/mentions?q=%E5%8F%96%E6%9A%96%E5%99%A8"
    with db.session() as s:
        t = s.scalar(select(Ticket))
        assert (t.category, t.department, t.severity, t.state) == ("product", "品控部", "urgent", "new")
        ticket_id = t.id
    page = client.get(r.headers["location"]).text
    assert f"工单 #{ticket_id}" in page and f'href="/tickets/{ticket_id}"' in page
    # an open redirect is not possible through `next`
    r = client.post(f"/mentions/{missed}/correct", data={"verdict": "not_complaint", "csrf_token": token,
                                                         "next": "https://evil.example/"})
    assert r.headers["location"] == "/"


def test_ticket_page_and_api_show_what_the_models_said_about_each_post(as_role, hostile_data):
    """Where an agent judges a post: its complaint_score and each category's confidence, as stored (issue 15)."""
    from storage.models import Analysis

    db = hostile_data
    ticket_id, mentions = _ticket(db)
    with db.session() as s:
        a = s.scalar(select(Analysis).where(Analysis.mention_id == mentions[0]))
        score, confidence = a.complaint_score, dict(a.confidence)
    assert score is not None and score >= 0.5 and confidence and set(confidence) == set(a.categories)
    client, _ = as_role("viewer")
    evidence = client.get(f"/api/tickets/{ticket_id}").json()["evidence"][0]
    assert (evidence["complaint_score"], evidence["confidence"]) == (score, confidence)
    page = client.get(f"/tickets/{ticket_id}").text
    assert f"投诉 complaint {score:.2f}" in page
    for conf in confidence.values():
        assert f'<span class="conf">{conf:.2f}</span>' in page
