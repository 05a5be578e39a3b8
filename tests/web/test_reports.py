"""Reports (alerts/reports.py, `repwatch report`, /reports, /api/reports) checked against figures
computed by hand on a small fixture with known times, on each real database backend.

The period is 2026-11-01..2026-11-07 in Asia/Shanghai (UTC+8): [2026-10-31 16:00, 2026-11-07 16:00) UTC.
Tickets (times UTC; due times as stored by the SLA at opening):
  T1 urgent/delivery/物流部  opened 10-31 17:00 (11-01 01:00 local: inside), response +0.5 h (due +1 h),
     resolved +10 h (due +24 h), followed up: satisfied
  T2 urgent/delivery/物流部  opened 11-03 02:00, response +2 h (due +1 h: missed), resolved +30 h
     (due +24 h: missed), closed +40 h, followed up: not satisfied
  T3 important/service/客服部 opened 11-03 04:00, response +1 h (due +4 h), unresolved, resolution due
     +48 h: past at `now` (missed)
  T4 general/no category/no department opened 11-07 15:00 (23:00 local), nothing yet, due times after
     `now`: pending both
  T5 urgent/delivery/物流部  opened 10-20 (outside), reopened 11-04 02:00 (inside: counts from there),
     response +0.25 h, resolved +4 h, both within SLA
  T6 opened 10-30 (outside), T7 opened 11-07 17:00 (11-08 01:00 local: outside)
now = 2026-11-08 00:00 UTC.

By hand (median/p90 interpolate between closest ranks, position (n-1)q):
  first response hours [0.25, 0.5, 1, 2]: median 0.75, p90 1 + 0.7*1 = 1.7
  resolution hours [4, 10, 30]: median 10, p90 10 + 0.8*20 = 26
  first-response SLA met T1 T3 T5, missed T2, pending T4 -> 3/4 = 0.75
  resolution SLA met T1 T5, missed T2 T3, pending T4 -> 2/4 = 0.5
  satisfaction 1 of 2 asked = 0.5
  urgent (T1 T2 T5): response [0.25, 0.5, 2] median 0.5, p90 0.5 + 0.8*1.5 = 1.7; SLA 2/3 both
"""
from __future__ import annotations

import csv
import io
import re
import json
from datetime import datetime, timedelta, timezone
from zoneinfo import ZoneInfo

import pytest

from alerts.reports import build_report, period, quantile
from storage.models import Analysis, Incident, IncidentMention, Mention, Source, Ticket, TicketEvent

TZ = ZoneInfo("Asia/Shanghai")
NOW = datetime(2026, 11, 8, 0, 0, tzinfo=timezone.utc)
BRAND, RIVAL = "快送外卖", "优选商城"
TARGETS = [(BRAND, "brand"), (RIVAL, "brand")]


def utc(month, day, hour, minute=0) -> datetime:
    return datetime(2026, month, day, hour, minute, tzinfo=timezone.utc)


H = lambda h: timedelta(hours=h)  # noqa: E731


def fill(db) -> dict:
    """The fixture above; returns ids by name."""
    ids = {}
    with db.session() as s:
        weibo = Source(name="weibo", kind="feed", state={}, error_counts={}, health="ok")
        hotline = Source(name="hotline", kind="import", state={}, error_counts={}, health="ok")
        s.add_all([weibo, hotline])
        s.flush()
        ids["weibo"], ids["hotline"] = weibo.id, hotline.id
        n = [0]

        def post(source, author, at, *, complaint, negative, cats=(), target=BRAND):
            n[0] += 1
            m = Mention(source_id=source.id, external_id=f"m{n[0]}", content_hash=f"{n[0]:064d}", author=author,
                        text=f"{target} post {n[0]}", published_at=at, collected_at=at + H(1), raw={})
            s.add(m)
            s.flush()
            s.add(Analysis(mention_id=m.id, lang="zh", sentiment=0.1 if negative else 0.9, negative=negative,
                           complaint=complaint, categories=list(cats), severity="important" if complaint else "none",
                           signals=[], targets=[target], model_version="test"))
            return m

        wang1 = post(weibo, "王女士", utc(11, 2, 3), complaint=True, negative=True, cats=["delivery"])
        wang2 = post(hotline, "王女士", utc(11, 3, 3), complaint=True, negative=True, cats=["delivery"])
        post(weibo, "王女士", utc(10, 20, 3), complaint=True, negative=True, cats=["delivery"])   # before the period
        post(weibo, "李先生", utc(11, 3, 5), complaint=True, negative=True, cats=["service"])
        post(hotline, None, utc(11, 6, 5), complaint=True, negative=True, cats=[])
        post(weibo, "钱七", utc(11, 6, 6), complaint=False, negative=False)
        post(weibo, "张三", utc(11, 4, 6), complaint=False, negative=False, target=RIVAL)
        post(hotline, "赵四", utc(11, 5, 6), complaint=True, negative=True, cats=["price"], target=RIVAL)

        def ticket(name, opened, *, severity, category, department, fr_due, res_due, fr=None, res=None,
                   state="new", closed=None, satisfied=None, reopened=None, mentions=()):
            inc = Incident(key=f"k-{name}", target=BRAND, category=category, title=f"{name} title", severity=severity,
                           signals=[], first_seen=opened, last_seen=opened, mention_count=len(mentions), reach=0,
                           status="open")
            s.add(inc)
            s.flush()
            start = reopened or opened
            t = Ticket(incident_id=inc.id, open_incident_id=None if state == "closed" else inc.id, state=state,
                       severity=severity, category=category, title=inc.title, department=department,
                       opened_at=opened, updated_at=start, first_response_due=start + H(fr_due),
                       resolution_due=start + H(res_due), first_response_at=start + H(fr) if fr is not None else None,
                       resolved_at=start + H(res) if res is not None else None,
                       closed_at=start + H(closed) if closed is not None else None,
                       follow_up_satisfied=satisfied, reopen_count=1 if reopened else 0, external_refs={})
            s.add(t)
            s.flush()
            s.add(TicketEvent(ticket_id=t.id, at=opened, actor="system", kind="opened", to_state="new", detail={}))
            if reopened:
                s.add(TicketEvent(ticket_id=t.id, at=reopened, actor="agent", kind="reopened", from_state="closed",
                                  to_state="new", detail={}))
            for m in mentions:
                s.add(IncidentMention(incident_id=inc.id, mention_id=m.id))
            ids[name] = t.id

        ticket("T1", utc(10, 31, 17), severity="urgent", category="delivery", department="物流部", fr_due=1,
               res_due=24, fr=0.5, res=10, state="followed_up", satisfied=True, mentions=[wang1])
        ticket("T2", utc(11, 3, 2), severity="urgent", category="delivery", department="物流部", fr_due=1,
               res_due=24, fr=2, res=30, closed=40, state="closed", satisfied=False, mentions=[wang2])
        ticket("T3", utc(11, 3, 4), severity="important", category="service", department="客服部", fr_due=4,
               res_due=48, fr=1, state="investigating")
        ticket("T4", utc(11, 7, 15), severity="general", category=None, department=None, fr_due=24, res_due=72)
        ticket("T5", utc(10, 20, 2), severity="urgent", category="delivery", department="物流部", fr_due=1,
               res_due=24, fr=0.25, res=4, state="resolved", reopened=utc(11, 4, 2))
        ticket("T6", utc(10, 30, 2), severity="urgent", category="delivery", department="物流部", fr_due=1,
               res_due=24, fr=9, state="investigating")
        ticket("T7", utc(11, 7, 17), severity="urgent", category="price", department="物流部", fr_due=1,
               res_due=24, fr=9, state="investigating")
    return ids


def the_period():
    from datetime import date

    return period(date(2026, 11, 1), date(2026, 11, 7), TZ, NOW)


@pytest.fixture
def clock():
    """The web server's clock (tests/web/conftest.py's make_server): the fixture's `now`."""
    from repwatch.clock import FrozenClock

    return FrozenClock(NOW)


@pytest.fixture
def report_data(db):
    return fill(db)


def test_quantile_interpolates_between_closest_ranks():
    assert quantile([], 0.5) is None
    assert quantile([3.0], 0.9) == 3.0
    assert quantile([0.25, 0.5, 1, 2], 0.5) == 0.75
    assert quantile([2, 0.25, 1, 0.5], 0.9) == pytest.approx(1.7)


def test_period_is_local_days_until_inclusive():
    since, until = the_period()
    assert since == utc(10, 31, 16) and until == utc(11, 7, 16)


def test_report_matches_hand_computed_figures(db, report_data):
    since, until = the_period()
    with db.session() as s:
        r = build_report(s, since, until, now=NOW, tz=TZ, targets=TARGETS)
    t = r.total
    assert t.tickets == 5                      # T1..T5; T6 before, T7 after (local day 11-08)
    assert (t.first_response.count, t.first_response.median_hours, t.first_response.p90_hours) == (4, 0.75, 1.7)
    assert (t.resolution.count, t.resolution.median_hours, t.resolution.p90_hours) == (3, 10, 26)
    assert (t.first_response_sla.met, t.first_response_sla.missed, t.first_response_sla.pending) == (3, 1, 1)
    assert t.first_response_sla.share == 0.75
    assert (t.resolution_sla.met, t.resolution_sla.missed, t.resolution_sla.pending) == (2, 2, 1)
    assert t.resolution_sla.share == 0.5
    assert (t.satisfied, t.asked, t.satisfaction) == (1, 2, 0.5)

    sev = {g.key: g for g in r.groups["severity"]}
    assert [g.key for g in r.groups["severity"]] == ["urgent", "important", "general"]
    u = sev["urgent"]
    assert (u.tickets, u.first_response.median_hours, u.first_response.p90_hours) == (3, 0.5, 1.7)
    assert (u.resolution.median_hours, u.resolution.p90_hours) == (10, 26)
    assert u.first_response_sla.share == u.resolution_sla.share == round(2 / 3, 4)
    assert (sev["important"].first_response.median_hours, sev["important"].resolution.count) == (1, 0)
    assert sev["important"].resolution_sla.missed == 1
    assert sev["general"].first_response_sla.pending == 1 and sev["general"].first_response_sla.share is None
    assert (u.label_zh, u.label_en) == ("紧急", "urgent")

    cat = {g.key: g for g in r.groups["category"]}
    assert {k: g.tickets for k, g in cat.items()} == {"delivery": 3, "service": 1, "other": 1}
    assert (cat["delivery"].label_zh, cat["delivery"].label_en) == ("交付物流", "delivery")
    assert "category=delivery" in cat["delivery"].link and "state=closed" in cat["delivery"].link
    assert "category=" not in cat["other"].link
    dept = {g.key: g for g in r.groups["department"]}
    assert {k: g.tickets for k, g in dept.items()} == {"物流部": 3, "客服部": 1, "-": 1}
    assert dept["物流部"].satisfaction == 0.5 and dept["-"].label_en == "no department"

    # per local day, from each ticket's start (T5 from its reopening on 11-04)
    assert r.bin == "day" and [d.day for d in r.bins] == [1, 2, 3, 4, 5, 6, 7]
    assert r.by_category_over_time == {"delivery": [1, 0, 1, 1, 0, 0, 0], "service": [0, 0, 1, 0, 0, 0, 0],
                                       "other": [0, 0, 0, 0, 0, 0, 1]}

    assert [(c.author, c.posts, c.sources, c.tickets) for c in r.repeat_complainants] == [
        ("王女士", 2, ["hotline", "weibo"], sorted([report_data["T1"], report_data["T2"]]))]
    assert [(x.name, x.complaints) for x in r.top_sources] == [("hotline", 3), ("weibo", 2)]
    assert r.top_sources[0].link.endswith(f"source={report_data['hotline']}&from=2026-11-01&to=2026-11-07")

    brand, rival = r.targets
    assert (brand.name, brand.mentions, brand.negative, brand.negative_share, brand.complaints) == (BRAND, 5, 4, 0.8, 4)
    assert brand.categories == {"delivery": 2, "service": 1, "other": 1}
    assert (rival.mentions, rival.negative_share, rival.complaints, rival.categories) == (2, 0.5, 1, {"price": 1})


def test_report_json_is_serialisable_and_labelled(db, report_data):
    since, until = the_period()
    with db.session() as s:
        data = build_report(s, since, until, now=NOW, tz=TZ, targets=TARGETS).as_json()
    text = json.dumps(data, ensure_ascii=False)
    assert data["since"] == "2026-11-01T00:00:00+08:00" and data["timezone"] == "Asia/Shanghai"
    assert data["over_time"]["categories"]["delivery"]["label_zh"] == "交付物流"
    assert "王女士" in text


def test_a_ticket_reopened_through_the_process_counts_from_the_reopening(db, report_data):
    """T2 (closed) reopened with alerts.tickets.process.move on 11-05 02:00 UTC and answered 3 h later:
    first response [0.25, 0.5, 1, 3] -> median 0.75, p90 1 + 0.7*2 = 2.4; resolution [4, 10] (T2 is
    unresolved again) -> median 7, p90 4 + 0.9*6 = 9.4; its follow-up answer is cleared: 1 of 1."""
    from alerts.tickets.process import move

    with db.session() as s:
        t2 = s.get(Ticket, report_data["T2"])
        move(s, t2, "new", actor="web:agent", now=utc(11, 5, 2))
        move(s, t2, "triaged", actor="web:agent", now=utc(11, 5, 5))
    since, until = the_period()
    with db.session() as s:
        r = build_report(s, since, until, now=NOW, tz=TZ, targets=TARGETS)
    t = r.total
    assert t.tickets == 5
    assert (t.first_response.median_hours, t.first_response.p90_hours) == (0.75, 2.4)
    assert (t.resolution.median_hours, t.resolution.p90_hours) == (7, 9.4)
    assert (t.satisfied, t.asked) == (1, 1)
    assert r.by_category_over_time["delivery"] == [1, 0, 0, 1, 1, 0, 0]


def test_an_empty_period_and_a_long_one(db, report_data):
    from datetime import date

    with db.session() as s:
        empty = build_report(s, *period(date(2026, 9, 1), date(2026, 9, 30), TZ, NOW), now=NOW, tz=TZ)
        long = build_report(s, *period(date(2026, 8, 1), date(2026, 11, 7), TZ, NOW), now=NOW, tz=TZ)
    assert empty.total.tickets == 0 and empty.total.first_response.median_hours is None
    assert empty.total.first_response_sla.share is None and empty.categories == [] and empty.targets == []
    assert json.dumps(empty.as_json())
    # over 62 days: weekly bins starting on local Mondays; T6 (10-30) is in this period too
    assert long.bin == "week" and all(d.weekday() == 0 for d in long.bins)
    assert long.total.tickets == 6 and sum(long.by_category_over_time["delivery"]) == 4


# -- the CLI ---------------------------------------------------------------------------------------
CONFIG = f"""timezone: Asia/Shanghai
watch:
  - name: {BRAND}
  - name: {RIVAL}
    kind: competitor
"""


@pytest.fixture
def cli_run(database_url, report_data, tmp_path, monkeypatch):
    from click.testing import CliRunner

    from repwatch.cli import cli
    from repwatch.cli.app import Context
    from repwatch.clock import FrozenClock

    monkeypatch.setattr(Context, "clock", lambda self: FrozenClock(NOW))
    config = tmp_path / "schedules.yaml"
    config.write_text(CONFIG, encoding="utf-8")

    def run(*args):
        result = CliRunner().invoke(cli, ["-c", str(config), "--database", database_url, "report", *args],
                                    catch_exceptions=False)
        assert result.exit_code == 0, result.output
        return result.stdout
    return run


def test_cli_csv_has_the_hand_computed_rows(cli_run):
    rows = list(csv.DictReader(io.StringIO(cli_run("--since", "2026-11-01", "--until", "2026-11-07",
                                                   "--format", "csv"))))
    total = rows[0]
    assert (total["by"], total["tickets"], total["first_response_median_h"], total["first_response_p90_h"]) == (
        "all", "5", "0.75", "1.7")
    assert (total["resolution_median_h"], total["resolution_p90_h"]) == ("10.0", "26.0")
    assert (total["first_response_sla_share"], total["resolution_sla_share"], total["satisfaction"]) == (
        "0.75", "0.5", "0.5")
    assert [(r["by"], r["key"]) for r in rows[1:4]] == [("severity", "urgent"), ("severity", "important"),
                                                        ("severity", "general")]
    assert {r["by"] for r in rows} == {"all", "severity", "category", "department"}
    only = list(csv.DictReader(io.StringIO(cli_run("--since", "2026-11-01", "--until", "2026-11-07",
                                                   "--format", "csv", "--by", "department"))))
    assert [(r["key"], r["tickets"]) for r in only] == [("all", "5"), ("客服部", "1"), ("物流部", "3"), ("-", "1")]


def test_cli_json_and_table(cli_run):
    data = json.loads(cli_run("--since", "2026-11-01", "--until", "2026-11-07", "--format", "json",
                              "--by", "severity"))
    assert list(data["groups"]) == ["severity"]
    assert data["total"]["first_response_p90_h"] == 1.7 and data["total"]["resolution_sla_share"] == 0.5
    assert data["since"] == "2026-11-01T00:00:00+08:00" and data["until"] == "2026-11-08T00:00:00+08:00"
    assert [(t["name"], t["kind"], t["negative_share"]) for t in data["targets"]] == [
        (BRAND, "brand", 0.8), (RIVAL, "competitor", 0.5)]
    assert data["repeat_complainants"][0]["author"] == "王女士"
    weekly = json.loads(cli_run("--since", "2026-11-01", "--until", "2026-11-07", "--format", "json", "--per", "week"))
    assert weekly["over_time"]["bin"] == "week" and weekly["over_time"]["bins"] == ["2026-10-26", "2026-11-02"]
    assert weekly["over_time"]["categories"]["delivery"]["counts"] == [1, 2]    # T1 (11-01, a Sunday); T2, T5
    # a narrower period: only 11-03 (T2 and T3)
    narrow = json.loads(cli_run("--since", "2026-11-03", "--until", "2026-11-03", "--format", "json"))
    assert narrow["total"]["tickets"] == 2

    table = cli_run("--since", "2026-11-01", "--until", "2026-11-07")
    assert "2026-11-01 .. 2026-11-07 (Asia/Shanghai)" in table
    assert "紧急 urgent" in table and "交付物流 delivery" in table and "王女士" in table
    line = next(x for x in table.splitlines() if x.startswith("全部 all "))
    assert line.split()[2:7] == ["5", "0.75", "1.7", "10", "26"]


def test_cli_refuses_bad_dates(database_url, tmp_path):
    from click.testing import CliRunner

    from repwatch.cli import cli

    result = CliRunner().invoke(cli, ["-c", "/nonexistent.yaml", "--database", database_url, "report",
                                      "--since", "2026-11-08", "--until", "2026-11-01"])
    assert result.exit_code == 2 and "since 2026-11-08 is after until 2026-11-01" in result.output
    result = CliRunner().invoke(cli, ["-c", "/nonexistent.yaml", "--database", database_url, "report",
                                      "--since", "yesterday"])
    assert result.exit_code == 2 and "not a date" in result.output


# -- the page and the API over HTTP (a real uvicorn server) ----------------------------------------
def test_reports_page_and_api_over_http(report_data, users, make_server, log_in):
    server = make_server()
    client, _ = log_in(server.url, "viewer", users["viewer"])
    html = client.get("/reports", params={"since": "2026-11-01", "until": "2026-11-07"})
    assert html.status_code == 200
    text = html.text
    assert "2026-11-01 — 2026-11-07 (Asia/Shanghai" in text
    assert "0.75 / 1.7 h" in text and "10 / 26 h" in text          # first response, resolution: median / P90
    assert "75%" in text and "50%" in text and "王女士" in text
    assert 'href="/reports"' in text                                 # the nav link
    # the delivery bar and row click through to the queue filtered to those tickets
    from storage.vocabulary import TICKET_STATES

    period = "&amp;from=2026-11-01&amp;to=2026-11-07"                 # the report's period goes along
    link = "/?" + "&amp;".join(f"state={s}" for s in TICKET_STATES) + "&amp;category=delivery" + period
    assert text.count(f'href="{link}"') >= 4            # table row and its count, two charts, trend legend
    queue = client.get(link.replace("&amp;", "&"))
    assert queue.status_code == 200
    shown = {int(i) for i in re.findall(r'data-ticket="(\d+)"', queue.text)}
    assert shown == {report_data[n] for n in ("T1", "T2", "T5")}     # the report's 3 delivery tickets, not T6
    # a trend bar: the tickets of that one local day (T5's clock started on 11-04, when it was reopened)
    day = "/?" + "&amp;".join(f"state={s}" for s in TICKET_STATES) + "&amp;category=delivery&amp;from=2026-11-04&amp;to=2026-11-04"
    assert f'href="{day}"' in text
    shown = {int(i) for i in re.findall(r'data-ticket="(\d+)"', client.get(day.replace("&amp;", "&")).text)}
    assert shown == {report_data["T5"]}

    api = client.get("/api/reports", params={"since": "2026-11-01", "until": "2026-11-07"}).json()
    assert api["total"]["first_response_median_h"] == 0.75 and api["total"]["satisfaction"] == 0.5
    assert client.get("/api/reports", params={"since": "2026-11-08", "until": "2026-11-01"}).status_code == 422
    exported = client.get("/reports.csv", params={"since": "2026-11-01", "until": "2026-11-07"})
    assert exported.headers["content-type"].startswith("text/csv")
    assert list(csv.DictReader(io.StringIO(exported.text)))[0]["resolution_p90_h"] == "26.0"
    weekly = client.get("/reports", params={"since": "2026-11-01", "until": "2026-11-07", "per": "week"}).text
    assert "per week" in weekly and '<option value="week" selected>' in weekly
    assert client.get("/api/reports", params={"since": "2026-11-01", "per": "week"}).json()["over_time"]["bin"] == "week"
    # a bad date in a bookmarked URL shows the default period, not an error
    assert client.get("/reports", params={"since": "soon"}).status_code == 200
