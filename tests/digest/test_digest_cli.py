"""`repwatch digest` as an operator runs it: preview, --out (no sending), --html, and --send (once)."""
from __future__ import annotations

from datetime import datetime, timezone
from email import message_from_bytes, policy

import pytest
import yaml
from click.testing import CliRunner
from sqlalchemy import func, select

from repwatch.cli import cli
from repwatch.clock import FrozenClock
from storage.models import Notification

NOW = datetime(2026, 11, 23, 0, 5, tzinfo=timezone.utc)       # 08:05 in Shanghai: "yesterday" is 2026-11-22


@pytest.fixture
def cli_args(tmp_path, database_url, smtp, monkeypatch, world):
    data = {"timezone": "Asia/Shanghai", "watch": [{"name": "快送外卖"}, {"name": "优选商城"}],
            "digests": [{"name": "daily", "from": "repwatch@example.com",
                         "smtp": {"host": "127.0.0.1", "port": smtp.port},
                         "recipients": ["team@example.com", {"to": "boss@example.com", "locale": "en"}]}]}
    path = tmp_path / "schedules.yaml"
    path.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    monkeypatch.setattr("repwatch.cli.app.Context.clock", lambda self: FrozenClock(NOW))
    return ["-c", str(path), "--database", database_url]


def invoke(args, *more):
    return CliRunner().invoke(cli, [*args, *more], catch_exceptions=False)


def notifications(db) -> int:
    with db.session() as s:
        return s.scalar(select(func.count()).select_from(Notification))


def test_out_writes_the_eml_and_html_preview_without_sending(cli_args, tmp_path, db, smtp):
    eml, html = tmp_path / "d.eml", tmp_path / "d.html"
    result = invoke(cli_args, "digest", "--to", "boss@example.com", "--out", str(eml), "--html", str(html))
    assert result.exit_code == 0, result.output
    msg = message_from_bytes(eml.read_bytes(), policy=policy.default)
    assert msg["To"] == "boss@example.com"
    assert msg["Subject"].startswith("[repwatch] Reputation digest 2026-11-22: 40 mentions")   # default: yesterday
    page = html.read_text(encoding="utf-8")
    assert 'src="d-hourly.png"' in page and 'src="d-trend.png"' in page and "cid:" not in page
    assert (tmp_path / "d-hourly.png").read_bytes()[:4] == b"\x89PNG"
    assert (tmp_path / "d-trend.png").read_bytes()[:4] == b"\x89PNG"
    assert smtp.messages == [] and notifications(db) == 0


def test_without_send_or_out_it_prints_the_text_part(cli_args):
    result = invoke(cli_args, "digest", "--date", "2026-11-21", "--to", "team@example.com")
    assert result.exit_code == 0
    assert result.output.startswith("舆情日报 2026-11-21\n") and "提及: 20 (+10)" in result.output


def test_send_sends_each_recipient_once(cli_args, db, smtp):
    first = invoke(cli_args, "digest", "--send")
    assert first.exit_code == 0
    assert first.output.count(": sent") == 2
    again = invoke(cli_args, "digest", "--send", "--date", "2026-11-22")
    assert again.output.count(": skipped (already sent)") == 2
    assert sorted(m["To"] for m in smtp.messages) == ["boss@example.com", "team@example.com"]
    assert notifications(db) == 2


@pytest.mark.parametrize("args, message", [
    (["digest", "--out", "x.eml"], "pick one with --to"),
    (["digest", "--send", "--out", "x.eml"], "Pick one"),
    (["digest", "--date", "22/11/2026"], "is not a date like 2026-11-22"),
    (["digest", "--send", "--to", "stranger@example.com"], "is not a recipient of digest 'daily'"),
    (["digest", "--digest", "weekly"], "no digest named 'weekly'; digests: daily"),
])
def test_usage_mistakes_are_explained(cli_args, args, message):
    result = CliRunner().invoke(cli, [*cli_args, *args])
    assert result.exit_code != 0 and message in result.output
