"""Source health: failures counted by kind, broken sources alerted once per episode by email (the same
path as tickets), silence beyond the expected period, and the `repwatch sources` table."""
from __future__ import annotations

import json
from datetime import timedelta

import pytest
import yaml
from click.testing import CliRunner
from sqlalchemy import select

from repwatch.cli import cli
from repwatch.loopback import Response
from repwatch.pipeline import run_once
from storage.models import Notification, Source


@pytest.fixture(scope="module")
def analyzer():
    # The real analyzer; these sources bring nothing to score, so its models are never loaded.
    from sentiment import Analyzer

    return Analyzer()


def down_source(site) -> dict:
    return {"name": "shop", "kind": "json", "url": site.url("/api/reviews"), "items": "data.items",
            "fields": {"id": "post_id", "text": "content"}, "delay": 0, "retries": 0}


def test_broken_source_is_emailed_once_per_episode(db, site, clock, smtp, make_config, http_server, count, collect,
                                                   analyzer):
    config = make_config([down_source(site)], smtp_port=smtp.port)
    http_server.routes["/api/reviews"] = Response(b"oops", 500)
    healths = []
    for _ in range(4):
        report = run_once(db, config, analyzer, clock.advance(timedelta(minutes=15)))
        healths.append(report.sources[0].health)
    assert healths == ["degraded", "degraded", "failing", "failing"]
    assert len(smtp.messages) == 1, "one email for the episode, not one per failing run"
    msg = smtp.messages[0]
    assert "shop" in msg["Subject"] and "failing" in msg["Subject"]
    body = msg.get_body(("plain",)).get_content()
    assert "HTTP 500" in body and "2026-11-23 10:15 CST" in body   # the episode began with the first failure (02:15 UTC, in the team's timezone)
    with db.session() as s:
        assert s.scalar(select(Notification.key)).startswith("health:shop:failures:2026-11-23T02:15")
        assert s.scalar(select(Source.error_counts)) == {"http_5xx": 4}

    http_server.routes["/api/reviews"] = Response(b'{"data": {"items": []}}')   # back, with nothing new
    recovered = collect(db, config, "shop", clock.advance(timedelta(minutes=15)))
    assert (recovered.health, recovered.alarm) == ("ok", None)
    http_server.routes["/api/reviews"] = Response(b"oops", 500)
    for _ in range(3):
        run_once(db, config, analyzer, clock.advance(timedelta(minutes=15)))
    assert len(smtp.messages) == 2 and count(db, Notification) == 2, "a new episode is a new alert"


def test_silence_beyond_the_expected_period(db, site, clock, make_config, collect):
    source = {"name": "api", "kind": "json", "url": site.url("/api/reviews"), "items": "data.items",
              "fields": {"id": "post_id", "text": "content"}, "delay": 0, "expected_period": "6h"}
    config = make_config([source])
    assert collect(db, config, "api", clock.now()).health == "ok"
    quiet = collect(db, config, "api", clock.advance(timedelta(hours=5)))
    assert (quiet.new, quiet.health) == (0, "ok")
    silent = collect(db, config, "api", clock.advance(timedelta(hours=2)))
    assert silent.health == "silent" and silent.alarm.reason == "silence"
    assert silent.alarm.since == clock.now() - timedelta(hours=7)
    site.add("又出问题了，第三次投诉")
    assert collect(db, config, "api", clock.advance(timedelta(hours=1))).health == "ok"


def test_sources_command_shows_health(db, database_url, site, clock, make_config, collect, tmp_path, http_server):
    sources = [down_source(site) | {"name": "broken"},
               {"name": "good", "kind": "json", "url": site.url("/api/reviews"), "items": "data.items",
                "fields": {"id": "post_id", "text": "content"}, "delay": 0},
               {"name": "never-run", "kind": "rsshub", "route": "/zhihu/search/快送"}]
    config = make_config(sources)
    collect(db, config, "good", clock.now())
    http_server.routes["/broken/api"] = Response(b"", 503)
    broken = config.source("broken").options.model_copy(update={"url": site.url("/broken/api")})
    from repwatch.pipeline import collect_source

    broken_cfg = config.source("broken").model_copy(update={"options": broken})
    for _ in range(3):
        collect_source(db, config, broken_cfg, clock.advance(timedelta(minutes=5)))
    path = tmp_path / "schedules.yaml"
    path.write_text(yaml.safe_dump({"sources": sources}, allow_unicode=True), encoding="utf-8")
    runner = CliRunner()
    out = runner.invoke(cli, ["-c", str(path), "--database", database_url, "sources"])
    assert out.exit_code == 0, out.output
    lines = out.output.splitlines()
    assert lines[0].split() == ["name", "kind", "health", "last", "run", "last", "success", "fails", "error", "kinds",
                                "typical", "last", "error"]
    table = lines[1:lines.index("")] if "" in lines else lines[1:]
    rows = {line.split()[0]: line for line in table}
    assert set(rows) == {"broken", "good", "never-run"}
    assert "failing" in rows["broken"] and "http_5xx×3" in rows["broken"] and "HTTP 503" in rows["broken"]
    assert "ok" in rows["good"] and "never" in rows["never-run"] and "unknown" in rows["never-run"]
    out = runner.invoke(cli, ["-c", str(path), "--database", database_url, "sources", "--json"])
    data = {row["name"]: row for row in map(json.loads, out.output.splitlines())}
    assert data["broken"]["consecutive_failures"] == 3 and data["broken"]["error_counts"] == {"http_5xx": 3}
    assert data["good"]["typical_items"] == 5 and data["good"]["health"] == "ok"
    assert data["broken"]["last_run"]["status"] == "failed" and "HTTP 503" in data["broken"]["last_run"]["error"]
    assert data["never-run"]["last_run"] is None and data["never-run"]["paused"] is False
