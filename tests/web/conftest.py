"""Dashboard fixtures: a real uvicorn server on 127.0.0.1 (free port) serving the app over the test's
database, data put there by the real pipeline from loopback feeds, logged-in HTTP clients, and
Debian's Chromium driven by Playwright (installed with apt-get when missing and we are root)."""
from __future__ import annotations

import fcntl
import os
import re
import shutil
import socket
import subprocess
import tempfile
import threading
import time
from datetime import datetime

import httpx
import pytest

from repwatch.config import parse_config
from repwatch.demo import demo_config, demo_routes
from repwatch.loopback import LoopbackHTTPServer, Response, SMTPSink

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
                 "--disable-sync", "--no-first-run"]
PASSWORD = {"viewer": "viewer-password-1", "agent": "agent-password-1", "admin": "admin-password-1"}
CSRF_INPUT = re.compile(r'name="csrf_token" value="([^"]+)"')

# A post as a stranger might write it: markup and script in the title, body and author, a javascript:
# link as the post's URL. Double-escaped so that, after XML and HTML decoding, the collector stores
# the literal characters "<script>" - the worst case for every page that shows it.
HOSTILE_RSS = """<?xml version="1.0" encoding="utf-8"?><rss version="2.0"><channel><title>evil</title>
<link>http://evil.example/</link><description>evil</description>
<item><title>&amp;lt;script&amp;gt;window.pwned=1&amp;lt;/script&amp;gt;快送外卖 曝光</title>
<link>javascript:window.pwned=2</link><guid isPermaLink="false">evil-1</guid>
<author>&amp;lt;img src=x onerror=window.pwned=3&amp;gt;</author>
<description>&amp;lt;script&amp;gt;window.pwned=4&amp;lt;/script&amp;gt;快送外卖送餐太慢，等了两个小时，客服态度恶劣，我要投诉到12315，还要找记者曝光！&amp;lt;a href="javascript:window.pwned=5"&amp;gt;点我&amp;lt;/a&amp;gt;</description>
<pubDate>Fri, 20 Nov 2026 08:00:00 +0000</pubDate></item>
</channel></rss>""".encode("utf-8")


def web_config(sources: list[dict], **web) -> object:
    base = demo_config("http://127.0.0.1:9", 9)
    base.update(sources=sources, notify=[], web={"refresh_seconds": 0, **web})
    return parse_config(base, "<test config>")


class LiveServer:
    """uvicorn in a thread, on a socket the test bound itself (so the port is known and free)."""

    def __init__(self, app):
        import uvicorn

        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.sock.bind(("127.0.0.1", 0))
        self.port = self.sock.getsockname()[1]
        self.server = uvicorn.Server(uvicorn.Config(app, log_level="warning", lifespan="off"))
        self.thread = threading.Thread(target=self.server.run, kwargs={"sockets": [self.sock]}, daemon=True)
        self.app = app

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def __enter__(self) -> "LiveServer":
        self.thread.start()
        for _ in range(200):  # bounded: up to ~10 s for the server to accept connections
            if self.server.started:
                return self
            time.sleep(0.05)
        raise RuntimeError("uvicorn did not start")

    def __exit__(self, *exc) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=10)
        self.sock.close()


@pytest.fixture(scope="session")
def analyzer():
    from sentiment import Analyzer

    config = web_config([])
    return Analyzer(config.analysis, config.targets())


def run_pipeline(db, analyzer, now: datetime, routes: dict, sources: list[dict]):
    """The real pipeline (collect → analyze → alerts) against feeds served on loopback."""
    from repwatch.pipeline import run_once

    with LoopbackHTTPServer() as http:
        http.routes.update(routes(http.url("")) if callable(routes) else routes)
        config = web_config([{**s, "url": http.url(s["url"])} for s in sources])
        return run_once(db, config, analyzer, now)


@pytest.fixture
def demo_data(db, analyzer, clock):
    """The demo's three feeds of real posts, collected, scored and ticketed."""
    with SMTPSink() as smtp:
        from repwatch.pipeline import run_once

        with LoopbackHTTPServer() as http:
            http.routes.update(demo_routes(http.url("")))
            config = parse_config(demo_config(http.url(""), smtp.port), "<demo config>")
            report = run_once(db, config, analyzer, clock.now())
    assert report.evaluation.tickets_opened > 0
    return db


@pytest.fixture
def hostile_data(db, analyzer, clock):
    report = run_pipeline(db, analyzer, clock.now(), {"/evil.xml": Response(HOSTILE_RSS, headers={
        "Content-Type": "application/rss+xml; charset=utf-8"})},
        [{"name": "evil-feed", "kind": "feed", "url": "/evil.xml", "targets": ["快送外卖"]}])
    assert report.evaluation.tickets_opened == 1, "the hostile post must open a ticket to be shown in the queue"
    return db


@pytest.fixture
def users(db):
    """One user per role; name = role."""
    from repwatch.web.users import create_user

    with db.session() as s:
        for role, password in PASSWORD.items():
            create_user(s, role, role, password)
    return PASSWORD


@pytest.fixture
def make_server(db, clock):
    """make_server(**web_settings) -> a started LiveServer over the test database; stopped after the test."""
    from repwatch.web.app import create_app

    started = []

    def make(**web):
        server = LiveServer(create_app(db, web_config([], **web), clock)).__enter__()
        started.append(server)
        return server

    yield make
    for server in started:
        server.__exit__(None, None, None)


@pytest.fixture
def server(make_server):
    return make_server()


def csrf_of(html: str) -> str:
    match = CSRF_INPUT.search(html)
    assert match, "page has no CSRF field"
    return match.group(1)


def login(base_url: str, name: str, password: str) -> tuple[httpx.Client, str]:
    """A client with a logged-in session, and that session's CSRF token."""
    client = httpx.Client(base_url=base_url, follow_redirects=False, timeout=30)
    token = csrf_of(client.get("/login").text)
    r = client.post("/login", data={"username": name, "password": password, "csrf_token": token, "next": "/"})
    assert r.status_code == 303, r.text
    return client, csrf_of(client.get("/account").text)


@pytest.fixture
def log_in():
    """log_in(base_url, name, password) -> (client, csrf token); clients are closed after the test."""
    clients = []

    def make(base_url: str, name: str, password: str):
        client, token = login(base_url, name, password)
        clients.append(client)
        return client, token

    yield make
    for c in clients:
        c.close()


def tags(html: str) -> list[tuple[str, dict]]:
    """Every start tag with its attributes, as a browser's tokenizer sees them."""
    from html.parser import HTMLParser

    found = []

    class Collect(HTMLParser):
        def handle_starttag(self, tag, attrs):
            found.append((tag, {k: v or "" for k, v in attrs}))

    Collect().feed(html)
    return found


@pytest.fixture
def parse_tags():
    return tags


@pytest.fixture
def as_role(server, users):
    clients = []

    def make(role: str):
        client, token = login(server.url, role, users[role])
        clients.append(client)
        return client, token

    yield make
    for c in clients:
        c.close()


@pytest.fixture(scope="session")
def chromium() -> str:
    """Debian's Chromium: installed with apt-get when missing and we are root, else a clear skip."""
    if not os.path.exists(CHROMIUM):
        if hasattr(os, "geteuid") and os.geteuid() == 0 and shutil.which("apt-get"):
            # One installer at a time: `make test` runs two xdist workers, and the second apt-get found dpkg's
            # lock taken and failed, so that worker skipped its browser tests on a fresh machine.
            with open(os.path.join(tempfile.gettempdir(), "repwatch-tests-chromium.lock"), "a+") as lock:
                fcntl.flock(lock, fcntl.LOCK_EX)
                if not os.path.exists(CHROMIUM):
                    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
                    subprocess.run(["apt-get", "update"], env=env, check=False, capture_output=True, timeout=900)
                    subprocess.run(["apt-get", "install", "-y", "chromium", "fonts-noto-cjk"], env=env, check=False,
                                   capture_output=True, timeout=1800)
        if not os.path.exists(CHROMIUM):
            pytest.skip("Debian's chromium is missing and could not be installed here; "
                        "run `sudo apt-get install -y chromium fonts-noto-cjk` (never `playwright install`)")
    return CHROMIUM


@pytest.fixture(scope="session")
def browser(chromium):
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=chromium, args=CHROMIUM_ARGS)
        yield b
        b.close()
