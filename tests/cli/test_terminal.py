"""Collected text never writes a control sequence to the operator's terminal: `ticket show`, `tickets`
and `tickets --json` over a ticket whose post, title and note carry ESC, BEL, NUL, CR, C1 CSI and
bidi overrides, on a real database."""
from __future__ import annotations

import json
from datetime import datetime, timezone

import pytest
from click.testing import CliRunner

from alerts.settings import AlertSettings
from alerts.tickets.process import open_ticket
from repwatch.cli import cli
from repwatch.cli.terminal import clean
from storage import Database
from storage.models import Incident, IncidentMention, Mention, TicketEvent
from storage.records import content_hash
from storage.writes import get_or_create_source

AT = datetime(2020, 5, 1, tzinfo=timezone.utc)
HOSTILE = "\x1b]0;pwned\x07\x1b[2J\x1b[31m退款\x00不到\r假的\u202etxt.exe\x9b31m 客服"
UNSAFE = ["\x1b", "\x07", "\x00", "\r", "\u202e", "\x9b"]


@pytest.fixture
def hostile_ticket(database_url) -> tuple[int, str]:
    db = Database(database_url)
    # PostgreSQL refuses NUL in text; only SQLite can hand one back
    text = HOSTILE if db.is_sqlite else HOSTILE.replace("\x00", "")
    with db.session() as s:
        src = get_or_create_source(s, "evil-feed", "feed")
        m = Mention(source_id=src.id, external_id="e1", url="https://example.com/e1", content_hash=content_hash(text),
                    author="\x1b[5m小王", text=text, published_at=AT, collected_at=AT, raw={})
        inc = Incident(key="k-evil", target="快送外卖", category="service", title=text, severity="urgent",
                       signals=[], first_seen=AT, last_seen=AT, mention_count=1, reach=0, status="open")
        s.add_all([m, inc])
        s.flush()
        s.add(IncidentMention(incident_id=inc.id, mention_id=m.id))
        ticket = open_ticket(s, inc, AlertSettings(), AT)[0]
        s.add(TicketEvent(ticket_id=ticket.id, at=AT, actor="web:\x1b[8magent", kind="note", note=text))
        tid = ticket.id
    db.dispose()
    return tid, text


def invoke(database_url, *args):
    result = CliRunner().invoke(cli, ["-c", "/nonexistent/schedules.yaml", "--database", database_url, *args],
                                catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return result.stdout


def test_ticket_show_and_list_strip_control_characters(database_url, hostile_ticket):
    tid, _ = hostile_ticket
    shown = invoke(database_url, "ticket", "show", str(tid))
    listed = invoke(database_url, "tickets")
    for out in (shown, listed):
        assert not [ch for ch in UNSAFE if ch in out], repr(out)
    assert "退款不到假的txt.exe" in shown and "[31m" in shown      # the text stays, inert
    assert shown.count("\n") >= 8                                  # the command's own layout survives


def test_tickets_json_escapes_them_and_stays_the_same_json(database_url, hostile_ticket):
    _, text = hostile_ticket
    out = invoke(database_url, "tickets", "--json")
    assert not [ch for ch in UNSAFE if ch in out]
    assert json.loads(out)["title"].startswith(text[:20])        # a program still reads the original


def test_clean_keeps_layout_and_text():
    assert clean("a\tb\nc\x1b[0m\x00\u2066d\ud800") == "a\tb\nc[0md"


def test_log_lines_are_cleaned_too():
    import logging

    from repwatch.cli.app import TerminalSafeFormatter

    record = logging.LogRecord("repwatch.pipeline", logging.WARNING, __file__, 1, "source %s: %s", ("evil", "\x1b[2J\x07boom"), None)
    assert TerminalSafeFormatter("%(message)s").format(record) == "source evil: [2Jboom"
