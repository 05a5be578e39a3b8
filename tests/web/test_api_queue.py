"""The JSON API's queue has the queue page's filters (views, assignee, target, category, severity, source,
state, from/to) and answers with the same tickets as the page; tickets merge over the API through the same
function as the CLI and the page; unknown assignees are refused. Real HTTP, each role as the web has it."""
from __future__ import annotations

import re
from datetime import datetime, timedelta, timezone

import httpx
import pytest
from sqlalchemy import select

from repwatch.web.users import create_token, create_user
from storage.models import Incident, IncidentMention, Mention, Source, Ticket, TicketEvent, User

NOW = datetime(2026, 11, 23, 2, 0, tzinfo=timezone.utc)   # the conftest clock: 10:00 in Beijing
H = timedelta(hours=1)
# name: (severity, state, category, target, assignee, source, opened, first response due, reopened at)
TICKETS = {
    "a-urgent-mine":     ("urgent", "assigned", "product", "快送外卖", "王芳", "weibo", NOW - 30 * H, NOW + 1 * H, None),
    "b-important-new":   ("important", "new", "delivery", "快送外卖", None, "forum", NOW - 3 * H, NOW + 5 * H, None),
    "c-general-late":    ("general", "investigating", "price", "优选商城", "李雷", "weibo", NOW - 80 * H, NOW - 2 * H,
                          None),
    "d-urgent-soon":     ("urgent", "new", "product", "优选商城", None, "forum", NOW - 2 * H, NOW + H / 2, None),
    "e-closed":          ("general", "closed", "delivery", "快送外卖", "王芳", "weibo", NOW - 50 * H, NOW - 40 * H,
                          None),
    "f-reopened":        ("general", "investigating", "service", "快送外卖", "李雷", "forum", NOW - 200 * H,
                          NOW + 20 * H, NOW - 5 * H),
}


@pytest.fixture
def queue_data(db, users):
    ids = {}
    with db.session() as s:
        for name, role in (("王芳", "agent"), ("李雷", "agent")):
            create_user(s, name, role, f"{name}-password-1")
        src = {n: Source(name=n, kind="feed", state={}, error_counts={}) for n in ("weibo", "forum")}
        s.add_all(src.values())
        s.flush()
        for name, (sev, state, cat, target, who, source, opened, due, reopened) in TICKETS.items():
            inc = Incident(key=name, target=target, category=cat, title=name, severity=sev, signals=[],
                           first_seen=opened, last_seen=NOW, mention_count=1, reach=1, status="open")
            s.add(inc)
            s.flush()
            m = Mention(source_id=src[source].id, external_id=name, content_hash=name, text=name, raw={},
                        published_at=opened, collected_at=opened)
            s.add(m)
            s.flush()
            s.add(IncidentMention(incident_id=inc.id, mention_id=m.id))
            t = Ticket(incident_id=inc.id, open_incident_id=None if state == "closed" else inc.id, state=state,
                       severity=sev, priority={"urgent": 1, "important": 2, "general": 3}[sev], category=cat,
                       title=name, department=None, assignee=who, opened_at=opened, updated_at=NOW,
                       first_response_due=due, resolution_due=due + 48 * H, reopen_count=1 if reopened else 0,
                       closed_at=NOW - 30 * H if state == "closed" else None, external_refs={})
            s.add(t)
            s.flush()
            if reopened:
                s.add(TicketEvent(ticket_id=t.id, at=reopened, actor="test", kind="reopened", from_state="closed",
                                  to_state="new", detail={}))
            ids[name] = t.id
        ids["source"] = {n: x.id for n, x in src.items()}
        tokens = {}
        for name in ("viewer", "agent", "王芳"):
            _, tokens[name] = create_token(s, s.scalar(select(User).where(User.name == name)), "crm")
        ids["tokens"] = tokens
    return ids


def api_client(server, token: str) -> httpx.Client:
    return httpx.Client(base_url=server.url + "/api", headers={"Authorization": f"Bearer {token}"}, timeout=30)


def api_names(client, **params) -> list[str]:
    r = client.get("/tickets", params=params)
    assert r.status_code == 200, r.text
    return [t["title"] for t in r.json()["items"]]


def page_names(client, **params) -> list[str]:
    r = client.get("/", params=params)
    assert r.status_code == 200
    ids = re.findall(r'data-ticket="(\d+)"', r.text)
    titles = dict(re.findall(r'<a href="/tickets/(\d+)">([^<]+)</a>', r.text))
    return [titles[i] for i in ids]


def test_the_api_queue_filters_like_the_page_with_the_same_tickets(server, queue_data, log_in):
    ids = queue_data
    wang = api_client(server, ids["tokens"]["王芳"])
    page, _ = log_in(server.url, "王芳", "王芳-password-1")
    weibo = ids["source"]["weibo"]
    cases = [
        ({}, {}, ["d-urgent-soon", "a-urgent-mine", "b-important-new", "c-general-late", "f-reopened"]),
        ({"view": "mine"}, {"view": "mine"}, ["a-urgent-mine"]),
        ({"view": "unassigned"}, {"view": "unassigned"}, ["d-urgent-soon", "b-important-new"]),
        ({"view": "breaching-soon"}, {"view": "soon"}, ["d-urgent-soon", "a-urgent-mine"]),
        ({"view": "soon"}, {"view": "soon"}, ["d-urgent-soon", "a-urgent-mine"]),
        ({"assignee": "李雷"}, {"assignee": "李雷"}, ["c-general-late", "f-reopened"]),
        ({"target": "优选商城"}, {"target": "优选商城"}, ["d-urgent-soon", "c-general-late"]),
        ({"category": ["product", "price"]}, {"category": ["product", "price"]},
         ["d-urgent-soon", "a-urgent-mine", "c-general-late"]),
        ({"severity": "urgent"}, {"severity": "urgent"}, ["d-urgent-soon", "a-urgent-mine"]),
        ({"source": weibo}, {"source": weibo}, ["a-urgent-mine", "c-general-late"]),
        ({"state": ["closed", "new"]}, {"state": ["closed", "new"]}, ["d-urgent-soon", "b-important-new", "e-closed"]),
        ({"breached": "true"}, {"breached": "1"}, ["c-general-late"]),
        # local days (Asia/Shanghai) the clock started: opened, or reopened (f: opened 200 h ago, reopened 5 h ago)
        ({"from": "2026-11-23", "to": "2026-11-23"}, {"from": "2026-11-23", "to": "2026-11-23"},
         ["d-urgent-soon", "b-important-new", "f-reopened"]),
        ({"from": "2026-11-21", "to": "2026-11-22", "state": ["closed", "assigned"]},
         {"from": "2026-11-21", "to": "2026-11-22", "state": ["closed", "assigned"]}, ["a-urgent-mine", "e-closed"]),
        ({"to": "2026-11-20"}, {"to": "2026-11-20"}, ["c-general-late"]),
        ({"view": "unassigned", "target": "快送外卖", "severity": "important"},
         {"view": "unassigned", "target": "快送外卖", "severity": "important"}, ["b-important-new"]),
    ]
    for api_params, page_params, expected in cases:
        assert api_names(wang, **api_params) == expected, api_params
        assert page_names(page, **page_params) == expected, page_params
    # "mine" is whoever asks: the agent token has no tickets of its own
    agent = api_client(server, ids["tokens"]["agent"])
    assert api_names(agent, view="mine") == []
    for bad in ({"view": "everything"}, {"from": "2026-11-24", "to": "2026-11-23"}, {"category": "weather"},
                {"severity": "huge"}, {"from": "yesterday"}, {"state": "open"}):
        r = wang.get("/tickets", params=bad)
        assert r.status_code == 422 and r.json()["detail"], bad
    # days at the ends of the calendar are no bound, not a server error
    assert len(api_names(wang, **{"from": "0001-01-01", "to": "9999-12-31"})) == 5
    wang.close()
    agent.close()


def test_merge_over_the_api_by_role_with_the_audit_trail(server, queue_data, db, log_in, users):
    ids = queue_data
    dup, keep = ids["b-important-new"], ids["a-urgent-mine"]
    r = httpx.post(f"{server.url}/api/tickets/{dup}/merge", json={"into": keep}, timeout=30)
    assert r.status_code == 401                                          # no credentials
    viewer = api_client(server, ids["tokens"]["viewer"])
    assert viewer.post(f"/tickets/{dup}/merge", json={"into": keep}).status_code == 403
    browser, csrf = log_in(server.url, "agent", users["agent"])
    assert browser.post(f"/api/tickets/{dup}/merge", json={"into": keep}).status_code == 403   # no CSRF header
    with db.session() as s:
        assert s.get(Ticket, dup).state == "new"                         # nothing happened so far

    agent = api_client(server, ids["tokens"]["agent"])
    assert agent.post(f"/tickets/{dup}/merge", json={"into": dup}).status_code == 409
    missing = agent.post(f"/tickets/{dup}/merge", json={"into": 999999})
    assert missing.status_code == 404 and "999999" in missing.json()["detail"]
    assert agent.post(f"/tickets/999999/merge", json={"into": keep}).status_code == 404
    assert agent.post(f"/tickets/{dup}/merge", json={"into": 0}).status_code == 422
    r = agent.post(f"/tickets/{dup}/merge", json={"into": keep, "reason": "同一位顾客 same customer"})
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["ticket"]["id"] == keep and body["merged"]["id"] == dup and body["merged"]["state"] == "closed"
    assert body["event"]["kind"] == "merged" and "同一位顾客" in body["event"]["note"]
    assert body["event"]["actor"] == "api:agent" and body["event"]["at"].endswith("+08:00")
    with db.session() as s:
        kinds = {t: [(e.kind, e.actor) for e in s.scalars(select(TicketEvent).where(TicketEvent.ticket_id == t))]
                 for t in (dup, keep)}
        assert ("merged", "api:agent") in kinds[dup] and ("merged", "api:agent") in kinds[keep]
        assert s.get(Ticket, dup).state == "closed"
    again = agent.post(f"/tickets/{dup}/merge", json={"into": keep})
    assert again.status_code == 409 and "closed" in again.json()["detail"]
    # a logged-in browser with the CSRF header may merge too
    other = ids["f-reopened"]     # about the same target (incidents about different targets never merge)
    r = browser.post(f"/api/tickets/{other}/merge", json={"into": keep}, headers={"X-CSRF-Token": csrf})
    assert r.status_code == 200 and r.json()["event"]["actor"] == "web:agent"
    viewer.close()
    agent.close()


def test_assign_over_the_api_refuses_unknown_people_and_viewers(server, queue_data, db):
    ids = queue_data
    ticket = ids["b-important-new"]
    agent = api_client(server, ids["tokens"]["agent"])
    r = agent.post(f"/tickets/{ticket}/assign", json={"assignee": "王方"})
    assert r.status_code == 409 and "no user named '王方'" in r.json()["detail"] and "王芳" in r.json()["detail"]
    assert api_client(server, ids["tokens"]["viewer"]).post(f"/tickets/{ticket}/assign",
                                                            json={"assignee": "王芳"}).status_code == 403
    with db.session() as s:
        assert s.get(Ticket, ticket).assignee is None
    r = agent.post(f"/tickets/{ticket}/assign", json={"assignee": "王芳"})
    assert r.status_code == 200 and r.json()["ticket"]["assignee"] == "王芳"
    wang = api_client(server, ids["tokens"]["王芳"])
    assert ticket in [t["id"] for t in wang.get("/tickets", params={"view": "mine"}).json()["items"]]
    agent.close()
    wang.close()
