"""The sources page: every configured source (never-run ones too) with health, last run and its
problems in full, a legend; admins run one now and pause / resume it, which `repwatch run` respects."""
from __future__ import annotations

import json

import pytest
from click.testing import CliRunner
from sqlalchemy import select

from repwatch.loopback import LoopbackHTTPServer, Response
from storage.models import CollectionRun, Source

from tests.web.conftest import LiveServer, login, web_config

FEED = """<?xml version="1.0" encoding="utf-8"?><rss version="2.0"><channel><title>t</title>
<link>http://x/</link><description>d</description>
<item><title>快送外卖送餐太慢</title><link>http://x/1</link><guid>a-1</guid><description>快送外卖送餐太慢，等了两个小时</description>
<pubDate>Fri, 20 Nov 2026 08:00:00 +0000</pubDate></item>
<item><title></title><link>http://x/2</link><guid>a-2</guid><description></description></item>
</channel></rss>""".encode("utf-8")


@pytest.fixture
def site():
    with LoopbackHTTPServer() as http:
        http.routes["/a.xml"] = Response(FEED, headers={"Content-Type": "application/rss+xml; charset=utf-8"})
        yield http


@pytest.fixture
def config(site):
    return web_config([{"name": "news", "kind": "feed", "url": site.url("/a.xml")},
                       {"name": "later", "kind": "feed", "url": site.url("/b.xml")}])


@pytest.fixture
def app_server(db, clock, config, users):
    from repwatch.web.app import create_app

    with LiveServer(create_app(db, config, clock)) as server:
        yield server


def test_admin_runs_pauses_and_resumes_a_source(app_server, db, users, config, analyzer, clock):
    admin, token = login(app_server.url, "admin", users["admin"])
    page = admin.get("/sources").text
    # both configured sources are listed before any run, with the legend
    assert 'data-source="news"' in page and 'data-source="later"' in page and "从未运行 never run" in page
    assert "Legend: health states" in page and "3 or more failed runs in a row" in page
    r = admin.post("/sources/news/run", data={"csrf_token": token})
    assert r.status_code == 303
    page = admin.get("/sources").text
    assert "已运行 Ran news: partial, 1 new" in page
    assert 'data-problems="news"' in page and "entry 1 has no text" in page   # the problem in full
    with db.session() as s:
        assert s.scalar(select(CollectionRun.status)) == "partial"

    admin.post("/sources/later/pause", data={"csrf_token": token})
    page = admin.get("/sources").text
    assert "已暂停 paused · admin" in page
    from repwatch.pipeline import run_once

    report = run_once(db, config, analyzer, clock.now())
    assert [r.name for r in report.sources] == ["news"]          # the paused source is skipped
    admin.post("/sources/later/resume", data={"csrf_token": token})
    with db.session() as s:
        assert s.scalar(select(Source.paused).where(Source.name == "later")) is False
    assert admin.post("/sources/nope/run", data={"csrf_token": token}).status_code == 404
    admin.close()


def test_only_admins_run_or_pause(app_server, db, users):
    agent, token = login(app_server.url, "agent", users["agent"])
    page = agent.get("/sources").text
    assert "Run now" not in page and 'data-source="news"' in page
    assert agent.post("/sources/news/run", data={"csrf_token": token}).status_code == 403
    assert agent.post("/sources/news/pause", data={"csrf_token": token}).status_code == 403
    admin, _ = login(app_server.url, "admin", users["admin"])
    assert admin.post("/sources/news/pause").status_code == 403          # no CSRF token
    with db.session() as s:
        assert s.scalar(select(Source).where(Source.name == "news")) is None
    agent.close()
    admin.close()


def test_sources_command_shows_the_last_runs_problems(db, database_url, config, tmp_path, clock):
    import yaml

    from repwatch.cli import cli
    from repwatch.pipeline import collect_source

    collect_source(db, config, config.source("news"), clock.now())
    path = tmp_path / "s.yaml"
    path.write_text(yaml.safe_dump({"sources": [{"name": s.name, "kind": "feed", "url": str(s.options.url)}
                                                for s in config.sources]}), encoding="utf-8")
    out = CliRunner().invoke(cli, ["-c", str(path), "--database", database_url, "sources"])
    assert out.exit_code == 0, out.output
    where = str(config.source("news").options.url)
    assert f"news: last run partial, 1 problem:\n  - [empty] {where}: entry 1 has no text" in out.output
    data = {r["name"]: r for r in map(json.loads, CliRunner().invoke(
        cli, ["-c", str(path), "--database", database_url, "sources", "--json"]).output.splitlines())}
    assert data["news"]["last_run"]["problems"] == [{"kind": "empty", "message": f"{where}: entry 1 has no text"}]
    assert data["later"]["last_run"] is None and data["later"]["health"] == "unknown"
