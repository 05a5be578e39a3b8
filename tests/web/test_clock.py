"""One clock: a ticket's times read the same, in the team's timezone and labelled with it, on every surface
(`repwatch tickets`, `ticket show`, `--json`, the queue, the ticket page, the JSON API), and the one
function that formats them (storage.timefmt.local_time) labels zones with and without an abbreviation."""
from __future__ import annotations

import json
import re
from datetime import datetime, timezone
from zoneinfo import ZoneInfo

from click.testing import CliRunner
from sqlalchemy import select

from repwatch.cli import cli
from storage.models import Ticket
from storage.timefmt import local_time

T = datetime(2026, 12, 1, 5, 45, tzinfo=timezone.utc)


def test_local_time_labels_the_zone():
    assert local_time(T, "Asia/Shanghai") == "2026-12-01 13:45 CST"
    assert local_time(T, ZoneInfo("Asia/Shanghai"), "short") == "12-01 13:45 CST"
    assert local_time(T, "Asia/Shanghai", "time") == "13:45 CST"
    assert local_time(T, "Asia/Shanghai", "iso") == "2026-12-01T13:45:00+08:00"
    assert local_time(T, "Asia/Singapore") == "2026-12-01 13:45 +08:00"          # its abbreviation is "+08"
    assert local_time(T, "America/New_York", "time") == "00:45 EST"
    assert local_time(T.replace(month=7), "America/New_York", "time") == "01:45 EDT"
    assert local_time(T, "Asia/Kolkata", "iso") == "2026-12-01T11:15:00+05:30"
    assert local_time(T, None) == "2026-12-01 05:45 UTC"
    assert local_time(T.replace(tzinfo=None), "Asia/Tokyo", "time") == "14:45 JST"  # naive = UTC, as stored
    assert local_time(None, "Asia/Shanghai") == "-" and local_time(None, "UTC", "iso", missing=None) is None
    assert local_time(T, "Asia/Shanghai", fmt="%H:%M:%S") == "13:45:00 CST"


def test_the_same_ticket_shows_the_same_local_time_in_the_cli_the_pages_and_the_api(
        hostile_data, as_role, database_url, clock, monkeypatch):
    db = hostile_data
    with db.session() as s:
        t = s.scalar(select(Ticket))
        ticket_id, due, opened = t.id, t.first_response_due, t.opened_at
    tz = ZoneInfo("Asia/Shanghai")   # the test config's (the demo's) timezone
    full, short, iso = local_time(due, tz), local_time(due, tz, "short"), due.astimezone(tz).isoformat()
    assert full.endswith(" CST") and iso.endswith("+08:00")
    assert due.astimezone(timezone.utc).strftime("%H:%M") not in short   # UTC and Beijing time differ here

    # the CLI, on the same database at the same moment (no config file: the default timezone, the same)
    monkeypatch.setattr("repwatch.cli.app.Context.clock", lambda self: clock)
    base = ["-c", "/nonexistent/schedules.yaml", "--database", database_url]

    def run(*args) -> str:
        result = CliRunner().invoke(cli, [*base, *args], catch_exceptions=False)
        assert result.exit_code == 0, result.output
        return result.stdout

    listed = run("tickets")
    assert f"respond by {short}" in listed
    shown = run("ticket", "show", str(ticket_id))
    assert f"first response due {full}" in shown and f"opened {local_time(opened, tz)}" in shown
    assert "UTC" not in shown
    row = json.loads(run("tickets", "--json"))
    assert row["first_response_due"] == iso and row["sla"] == f"respond by {short}"

    # the dashboard: the queue, the ticket page and the API, all in the team's time
    client, _ = as_role("viewer")
    queue = client.get("/").text
    assert f"respond by <time>{short}</time>" in queue
    page = client.get(f"/tickets/{ticket_id}").text
    assert f"截止 due {full}" in page and local_time(opened, tz) in page
    api = client.get(f"/api/tickets/{ticket_id}").json()
    assert api["ticket"]["first_response_due"] == iso == row["first_response_due"]
    assert api["ticket"]["opened_at"] == opened.astimezone(tz).isoformat()
    assert all(e["at"].endswith("+08:00") for e in api["events"])
    listed_api = client.get("/api/tickets").json()["items"]
    assert listed_api[0]["next_due"] == iso
    # every time in a JSON answer carries the team's offset, never Z or +00:00
    stamps = re.findall(r'"\d{4}-\d\d-\d\dT[^"]+"', client.get(f"/api/tickets/{ticket_id}").text)
    assert stamps and all(s.endswith('+08:00"') for s in stamps)
