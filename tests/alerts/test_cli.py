"""The alert commands through the real CLI: `repwatch spikes` (its contract), `tickets`, `ticket …`
and `silence …`."""
from __future__ import annotations

import json
import math

import pytest
from click.testing import CliRunner
from sqlalchemy import select

from alerts.tickets.process import open_ticket
from repwatch.cli import cli
from storage import Database
from storage.models import Incident, Silence, Ticket
from tests.alerts.conftest import T0

OPENED = T0.replace(year=2020)   # the CLI reads the real clock: long ago, so the SLA is surely breached

CRM = "Twitter_volume_CRM.csv"


def invoke(*args, input=None):
    return CliRunner().invoke(cli, ["-c", "/nonexistent/schedules.yaml", *args], input=input, catch_exceptions=False)


@pytest.fixture(scope="module")
def crm_csv(tmp_path_factory, shared_data):
    """A real mention-volume file (NAB, ~16k rows)."""
    return (shared_data / "spikes" / CRM).read_text()


def lines(result) -> list[dict]:
    return [json.loads(line) for line in result.stdout.splitlines() if line.strip()]


def test_spikes_prints_one_contract_object_per_alarm(crm_csv, tmp_path):
    path = tmp_path / "crm.csv"
    path.write_text(crm_csv)
    result = invoke("spikes", str(path))
    assert result.exit_code == 0 and result.stderr == ""
    alarms = lines(result)
    assert alarms, "the labelled CRM anomalies are found"
    hourly = {}
    for row in crm_csv.splitlines()[1:]:
        stamp, value = row.split(",")
        hourly[stamp[:13]] = hourly.get(stamp[:13], 0) + float(value)
    for a in alarms:
        assert list(a) == ["timestamp", "value", "expected", "score"]
        assert len(a["timestamp"]) == 19 and a["timestamp"][10] == " "
        assert isinstance(a["value"], int) and a["score"] > 0
        # the guard: a burst needs 3 posts in its bin, growth 3 in the hour (the growth window) it closes
        assert a["value"] >= 3 or hourly[a["timestamp"][:13]] >= 3, a
    assert "2015-03-19" in {a["timestamp"][:10] for a in alarms}, "the big 19 March burst"


def test_a_prefix_gives_exactly_the_alarms_of_the_full_run_up_to_that_point(crm_csv, tmp_path):
    rows = crm_csv.splitlines()
    full = tmp_path / "full.csv"
    full.write_text(crm_csv)
    whole = lines(invoke("spikes", str(full)))
    for cut in (3000, 6000, 9000, 12000):
        part = tmp_path / f"part{cut}.csv"
        part.write_text("\n".join(rows[:cut]) + "\n")
        last = rows[cut - 1].split(",")[0]
        assert lines(invoke("spikes", str(part))) == [a for a in whole if a["timestamp"] <= last]


def test_stdin_bad_rows_and_overrides():
    text = "timestamp,value\n" + "".join(f"2026-01-0{1 + h // 24} {h % 24:02d}:00:00,0\n" for h in range(72))
    text += "2026-01-04 00:00:00,9\nnot a time,3\n2026-01-04 01:00:00,-1\n2026-01-03 05:00:00,4\n"
    result = invoke("spikes", "-", input=text)
    # three silent days put mu at its floor, 0.01; nine posts then have P = sum_k>=9 e^-0.01 0.01^k / k!
    p = sum(math.exp(-0.01) * 0.01 ** k / math.factorial(k) for k in range(9, 30))
    assert lines(result) == [{"timestamp": "2026-01-04 00:00:00", "value": 9, "expected": 0.01,
                              "score": round(-math.log10(p), 3)}]
    assert result.stderr.count("skipped") == 3 and "line 75" in result.stderr
    assert lines(invoke("spikes", "-", "--set", "min_count=10", input=text)) == []
    bad = invoke("spikes", "-", "--set", "cooldown=soon", input=text)
    assert bad.exit_code == 2 and "cooldown" in bad.stderr


def test_spikes_needs_the_header():
    result = invoke("spikes", "-", input="2026-01-01 00:00:00,3\n")
    assert result.exit_code == 1 and "timestamp,value" in result.stderr


@pytest.fixture
def ticket_id(database_url):
    db = Database(database_url)
    with db.session() as s:
        inc = Incident(key="k1", target="快送外卖", category="delivery", title="外卖三天没到，客服不回", severity="urgent",
                       signals=["media:记者"], first_seen=OPENED, last_seen=OPENED, mention_count=1, reach=120, status="open")
        s.add(inc)
        s.flush()
        from alerts.settings import AlertSettings

        tid = open_ticket(s, inc, AlertSettings(), OPENED)[0].id
    db.dispose()
    return tid


def test_ticket_commands_walk_the_process(database_url, ticket_id):
    db = ["--database", database_url]
    listed = invoke(*db, "tickets", "--json")
    row = json.loads(listed.stdout)
    assert (row["id"], row["state"], row["severity"], row["sla"]) == (ticket_id, "new", "urgent", "SLA breached: first response")
    assert "SLA breached" in invoke(*db, "tickets", "--breached").stdout
    assert invoke(*db, "tickets", "--target", "优选商城").stdout.strip() == "no tickets match"
    assert invoke(*db, "user", "add", "王芳", "--role", "agent").exit_code == 0   # assignees must exist
    assert "assigned to 王芳" in invoke(*db, "ticket", "assign", str(ticket_id), "--to", "王芳").stdout
    for state in ("investigating", "resolved"):
        assert invoke(*db, "ticket", "move", str(ticket_id), state, "--note", "done").exit_code == 0
    refused = invoke(*db, "ticket", "move", str(ticket_id), "followed_up")
    assert refused.exit_code == 2 and "--satisfied" in refused.stderr
    invoke(*db, "ticket", "move", str(ticket_id), "followed_up", "--satisfied", "no")
    illegal = invoke(*db, "ticket", "move", str(ticket_id), "triaged")
    assert illegal.exit_code == 1 and "allowed from 'followed_up': closed, investigating" in illegal.stderr
    shown = invoke(*db, "ticket", "show", str(ticket_id)).stdout
    assert "customer NOT satisfied" in shown and "cli:" in shown and "followed_up" in shown
    assert "incident #" in shown and "media:记者" in shown
    d = Database(database_url)
    with d.session() as s:
        t = s.get(Ticket, ticket_id)
        assert (t.state, t.assignee, t.follow_up_satisfied) == ("followed_up", "王芳", False)
    d.dispose()


def test_silence_commands(database_url, ticket_id):
    db = ["--database", database_url]
    added = invoke(*db, "silence", "add", "--target", "快送外卖", "--for", "4h", "--comment", "planned outage")
    assert added.exit_code == 0 and added.stdout.startswith("silence #")
    assert invoke(*db, "silence", "add", "--incident", "999", "--for", "1h").exit_code == 2
    assert invoke(*db, "silence", "add", "--target", "x").exit_code == 2      # neither --for nor --until
    listed = invoke(*db, "silence", "list").stdout
    assert "target 快送外卖" in listed and "planned outage" in listed
    sid = int(added.stdout.split("#")[1].split()[0])
    assert invoke(*db, "silence", "expire", str(sid)).exit_code == 0
    assert invoke(*db, "silence", "list").stdout.strip() == "no silences in force"
    assert "expired" in invoke(*db, "silence", "list", "--all").stdout
    d = Database(database_url)
    with d.session() as s:
        assert len(s.scalars(select(Silence)).all()) == 1
    d.dispose()
