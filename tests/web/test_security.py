"""The dashboard's defences, over real HTTP against a real uvicorn server: nothing answers without
login, hostile posts render inert, viewers cannot act, CSRF is enforced."""
from __future__ import annotations

import re

import httpx
import pytest
from sqlalchemy import func, select
from starlette.routing import Mount

from storage.models import Ticket, TicketEvent

# Sessions, CSRF, CSP, escaping and throttling are the subject, not SQL: once, on PostgreSQL when configured.
pytestmark = pytest.mark.one_backend

OPEN_PATHS = {"/login"}


def _concrete(path: str) -> str:
    return re.sub(r"\{[^}]+\}", "1", path)


def endpoints(routes, prefix: str = ""):
    """(path, method) of every route. Newer FastAPI keeps included routers nested (objects with
    `original_router`); older versions flatten them. Static mounts are skipped: they are public."""
    for route in routes:
        if isinstance(route, Mount):
            continue
        if hasattr(route, "original_router"):
            yield from endpoints(route.original_router.routes, prefix + route.include_context.prefix)
        else:
            for method in sorted(route.methods - {"HEAD"}):
                yield prefix + route.path, method


def test_no_page_or_api_answers_without_login(server, hostile_data):
    checked = 0
    with httpx.Client(base_url=server.url, follow_redirects=False) as anon:
        for template, method in endpoints(server.app.routes):
            path = _concrete(template)
            if path in OPEN_PATHS:
                continue
            r = anon.request(method, path)
            checked += 1
            if path.startswith("/api/"):
                assert r.status_code == 401, (method, path, r.status_code)
                assert "login required" in r.json()["detail"]
            else:
                assert r.status_code == 303, (method, path, r.status_code)
                assert r.headers["location"].startswith("/login?next=")
        # a bad token is no better than none
        bad = anon.get("/api/tickets", headers={"Authorization": "Bearer rw_not-a-real-token"})
        assert bad.status_code == 401
    assert checked >= 25   # every page, action and API route was tried


def test_login_page_and_static_assets_answer_without_login(server):
    with httpx.Client(base_url=server.url) as anon:
        assert anon.get("/login").status_code == 200
        for asset in ("/static/app.css", "/static/app.js", "/static/favicon.svg"):
            assert anon.get(asset).status_code == 200


OWN_SCRIPTS = ("app.js", "reply.js")   # every script a page may load: files we serve, never inline


def test_pages_carry_a_strict_csp_and_no_inline_script(as_role, hostile_data):
    client, _ = as_role("viewer")
    for path in ("/", "/tickets/1", "/mentions", "/overview", "/sources", "/silences", "/account"):
        r = client.get(path)
        assert r.status_code == 200, path
        csp = r.headers["content-security-policy"]
        assert "script-src 'self'" in csp and "default-src 'none'" in csp and "unsafe-inline" not in csp
        assert r.headers["x-frame-options"] == "DENY"
        assert r.headers["x-content-type-options"] == "nosniff"
        scripts = re.findall(r"<script\b[^>]*>", r.text, re.IGNORECASE)
        # only our own files, deferred; the ticket page adds the reply box's script
        assert scripts and set(scripts) <= {f'<script src="/static/{js}" defer>' for js in OWN_SCRIPTS}, (path, scripts)
        # style-src 'self' would block inline styles, so the pages must not rely on any
        assert " style=" not in r.text and "<style" not in r.text, path


def test_hostile_post_renders_inert_in_queue_ticket_and_search(as_role, hostile_data, parse_tags):
    with hostile_data.session() as s:
        ticket = s.scalar(select(Ticket))
    client, _ = as_role("viewer")
    pages = {"queue": client.get("/").text, "fragment": client.get("/?fragment=1").text,
             "ticket": client.get(f"/tickets/{ticket.id}").text, "search": client.get("/mentions?q=12315").text}
    for name, html in pages.items():
        assert "pwned" in html, f"{name}: the hostile post should be on this page"
        assert "<script>window.pwned" not in html, name
        assert "&lt;script&gt;window.pwned" in html, f"{name}: the markup must show as text"
        for tag, attrs in parse_tags(html):
            assert tag not in ("img", "iframe", "object", "embed"), (name, tag, attrs)
            assert tag != "script" or attrs in [{"src": f"/static/{js}", "defer": ""} for js in OWN_SCRIPTS], (name, attrs)
            assert not [a for a in attrs if a.startswith("on")], (name, tag, attrs)
            for a in ("href", "src", "action", "formaction"):
                assert not attrs.get(a, "").strip().lower().startswith(("javascript:", "data:")), (name, tag, attrs)
    # the javascript: post URL is shown as inert text, not a link
    assert 'class="badurl"' in pages["ticket"]
    api = client.get(f"/api/tickets/{ticket.id}").json()
    assert api["evidence"][0]["url"] is None
    assert "<script>" in api["evidence"][0]["text"]   # JSON carries the text as data; clients must escape


def test_viewer_cannot_act(as_role, hostile_data):
    client, token = as_role("viewer")
    with hostile_data.session() as s:
        ticket_id = s.scalar(select(Ticket.id))
        before = s.scalar(select(func.count(TicketEvent.id)))
    forms = {"assign": {"assignee": "x"}, "move": {"state": "triaged"}, "note": {"note": "x"},
             "follow-up": {"satisfied": "yes"}, "silence": {"duration": "1h"}}
    for action, data in forms.items():
        r = client.post(f"/tickets/{ticket_id}/{action}", data={**data, "csrf_token": token})
        assert r.status_code == 403, action
    r = client.post(f"/api/tickets/{ticket_id}/move", json={"state": "triaged"}, headers={"X-CSRF-Token": token})
    assert r.status_code == 403
    assert client.post("/silences", data={"target": "快送外卖", "csrf_token": token}).status_code == 403
    assert client.get("/admin/users").status_code == 403
    page = client.get(f"/tickets/{ticket_id}").text
    assert 'action="/tickets/' not in page     # no action forms are offered to a viewer
    with hostile_data.session() as s:
        assert s.scalar(select(func.count(TicketEvent.id))) == before
        assert s.get(Ticket, ticket_id).state == "new"


def test_csrf_is_enforced_on_forms_and_cookie_api_writes(as_role, hostile_data):
    client, token = as_role("agent")
    with hostile_data.session() as s:
        ticket_id = s.scalar(select(Ticket.id))
        before = s.scalar(select(func.count(TicketEvent.id)))
    assert client.post(f"/tickets/{ticket_id}/note", data={"note": "no token"}).status_code == 403
    assert client.post(f"/tickets/{ticket_id}/note", data={"note": "bad", "csrf_token": "forged"}).status_code == 403
    assert client.post(f"/api/tickets/{ticket_id}/notes", json={"note": "no header"}).status_code == 403
    assert client.post("/logout", data={}).status_code == 403
    with hostile_data.session() as s:
        assert s.scalar(select(func.count(TicketEvent.id))) == before
    # with the session's token the same requests go through, and each is one audit event
    assert client.post(f"/tickets/{ticket_id}/note", data={"note": "ok", "csrf_token": token}).status_code == 303
    r = client.post(f"/api/tickets/{ticket_id}/notes", json={"note": "ok api"}, headers={"X-CSRF-Token": token})
    assert r.status_code == 200 and r.json()["event"]["kind"] == "note"
    with hostile_data.session() as s:
        assert s.scalar(select(func.count(TicketEvent.id))) == before + 2


def test_login_form_needs_its_csrf_token(server, users):
    with httpx.Client(base_url=server.url, follow_redirects=False) as c:
        c.get("/login")
        r = c.post("/login", data={"username": "agent", "password": users["agent"], "csrf_token": "forged"})
        assert r.status_code == 403
        assert "repwatch_session" not in r.headers.get("set-cookie", "") or "uid" not in r.text


def test_session_cookie_is_httponly_and_samesite(server, users, make_server):
    with httpx.Client(base_url=server.url, follow_redirects=False) as c:
        token = re.search(r'name="csrf_token" value="([^"]+)"', c.get("/login").text).group(1)
        r = c.post("/login", data={"username": "agent", "password": users["agent"], "csrf_token": token})
        cookie = r.headers["set-cookie"].lower()
    assert "httponly" in cookie and "samesite=lax" in cookie and "secure" not in cookie
    secure = make_server(cookie_secure=True)
    with httpx.Client(base_url=secure.url) as c:
        assert "; secure" in c.get("/login").headers["set-cookie"].lower()


def test_failed_logins_are_throttled(server, users, clock):
    from datetime import timedelta

    def attempt(password: str) -> int:
        with httpx.Client(base_url=server.url, follow_redirects=False) as c:
            token = re.search(r'name="csrf_token" value="([^"]+)"', c.get("/login").text).group(1)
            return c.post("/login", data={"username": "agent", "password": password, "csrf_token": token}).status_code

    assert [attempt("wrong") for _ in range(5)] == [401] * 5
    assert attempt(users["agent"]) == 429          # even the right password waits out the pause
    clock.advance(timedelta(minutes=15))
    assert attempt(users["agent"]) == 303


def test_session_ends_after_its_lifetime_and_when_the_user_is_disabled(server, users, clock, db, log_in):
    from datetime import timedelta

    from storage.models import User

    client, _ = log_in(server.url, "agent", users["agent"])
    assert client.get("/").status_code == 200
    clock.advance(timedelta(hours=12, minutes=1))
    assert client.get("/").status_code == 303
    client, _ = log_in(server.url, "viewer", users["viewer"])
    with db.session() as s:
        s.scalar(select(User).where(User.name == "viewer")).disabled = True
    assert client.get("/").status_code == 303


def test_login_redirects_only_to_this_site(server, users):
    with httpx.Client(base_url=server.url, follow_redirects=False) as c:
        token = re.search(r'name="csrf_token" value="([^"]+)"', c.get("/login").text).group(1)
        r = c.post("/login", data={"username": "agent", "password": users["agent"], "csrf_token": token,
                                   "next": "//evil.example/steal"})
        assert r.headers["location"] == "/"


def test_api_tokens_authenticate_and_are_stored_hashed(server, users, db):
    import hashlib

    from repwatch.web.users import create_token
    from storage.models import ApiToken, User

    with db.session() as s:
        agent = s.scalar(select(User).where(User.name == "agent"))
        assert agent.password_hash.startswith("$argon2id$")
        _, token = create_token(s, agent, "integration")
    with db.session() as s:
        stored = s.scalar(select(ApiToken))
        assert stored.token_hash == hashlib.sha256(token.encode()).hexdigest() and token not in stored.token_hash
    with httpx.Client(base_url=server.url) as c:
        r = c.get("/api/me", headers={"Authorization": f"Bearer {token}"})
        assert r.json() == {"name": "agent", "role": "agent", "via_token": True}
        # bearer tokens are for the API only: pages still want a login
        assert c.get("/", headers={"Authorization": f"Bearer {token}"}, follow_redirects=False).status_code == 303


def _fresh_client_with(server, cookies) -> httpx.Client:
    """A second browser holding a copy of the cookie (saved to disk, stolen, on another device)."""
    return httpx.Client(base_url=server.url, follow_redirects=False, cookies=dict(cookies))


def test_logout_ends_the_session_for_every_copy_of_the_cookie(server, users, log_in):
    client, token = log_in(server.url, "agent", users["agent"])
    saved = dict(client.cookies)
    assert client.post("/logout", data={"csrf_token": token}).status_code == 303
    with _fresh_client_with(server, saved) as copy:
        assert copy.get("/").status_code == 303                # back to the login page
        assert copy.get("/api/tickets").status_code == 401
    again, _ = log_in(server.url, "agent", users["agent"])     # a new login works as before
    assert again.get("/").status_code == 200


def test_password_change_ends_other_sessions_and_keeps_this_one(server, users, log_in):
    mine, token = log_in(server.url, "agent", users["agent"])
    other, _ = log_in(server.url, "agent", users["agent"])
    stolen = dict(other.cookies)
    r = mine.post("/account/password", data={"current": users["agent"], "new": "a-new-password-2",
                                             "repeat": "a-new-password-2", "csrf_token": token})
    assert r.status_code == 303
    assert mine.get("/").status_code == 200                    # the browser that changed it stays in
    assert other.get("/").status_code == 303
    with _fresh_client_with(server, stolen) as copy:
        assert copy.get("/").status_code == 303


def test_disabling_ends_sessions_and_enabling_does_not_revive_them(server, users, log_in, db):
    viewer, _ = log_in(server.url, "viewer", users["viewer"])
    saved = dict(viewer.cookies)
    admin, token = log_in(server.url, "admin", users["admin"])
    with db.session() as s:
        from storage.models import User
        uid = s.scalar(select(User.id).where(User.name == "viewer"))
    assert admin.post(f"/admin/users/{uid}", data={"disabled": "yes", "csrf_token": token}).status_code == 303
    assert admin.post(f"/admin/users/{uid}", data={"disabled": "no", "csrf_token": token}).status_code == 303
    with _fresh_client_with(server, saved) as copy:
        assert copy.get("/").status_code == 303


def test_failed_logins_for_one_name_do_not_lock_out_others_behind_the_same_address(server, users):
    def attempt(name: str, password: str) -> int:
        with httpx.Client(base_url=server.url, follow_redirects=False) as c:
            token = re.search(r'name="csrf_token" value="([^"]+)"', c.get("/login").text).group(1)
            return c.post("/login", data={"username": name, "password": password, "csrf_token": token}).status_code

    assert [attempt("agent", "wrong") for _ in range(5)] == [401] * 5
    assert attempt("agent", users["agent"]) == 429
    # everyone here comes from 127.0.0.1, like an office behind one NAT: the others still get in
    assert attempt("viewer", users["viewer"]) == 303
    assert attempt("admin", users["admin"]) == 303


def test_api_ticket_events_carry_only_http_urls(as_role, hostile_data, clock):
    # the evidence event keeps the post's URL as collected (alerts/tickets/lifecycle.py); the API must not hand
    # a data: or java<TAB>script: URL to an integration that renders it as a link
    with hostile_data.session() as s:
        ticket = s.scalar(select(Ticket))
        for n, url in enumerate(["data:text/html,<script>alert(1)</script>", "java\tscript:alert(1)",
                                 " JavaScript:alert(1)", "https://weibo.example/p/1"]):
            s.add(TicketEvent(ticket_id=ticket.id, at=clock.now(), actor="pipeline", kind="evidence",
                              detail={"mention_id": n, "url": url, "nested": [{"source_url": url}]}))
    client, _ = as_role("viewer")
    events = [e for e in client.get(f"/api/tickets/{ticket.id}").json()["events"] if e["kind"] == "evidence"]
    urls = [e["detail"]["url"] for e in events]
    assert urls[-4:] == [None, None, None, "https://weibo.example/p/1"]
    assert [e["detail"]["nested"][0]["source_url"] for e in events][-4:] == urls[-4:]
    assert [e["detail"]["mention_id"] for e in events][-4:] == [0, 1, 2, 3]   # the rest of the detail is kept
