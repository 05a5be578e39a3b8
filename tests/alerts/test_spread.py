"""Spread detection inside the alert stage: per incident and per watch target × category, with the
detector state kept in the database between runs."""
from __future__ import annotations

from zoneinfo import ZoneInfo

import random
from datetime import timedelta

from sqlalchemy import func, select

from alerts.stage import evaluate
from storage.context import RunContext
from storage.models import DetectorState, Incident, SpreadAlarm, Ticket
from tests.alerts.conftest import T0

H = timedelta(hours=1)


def distinct_text(rng: random.Random) -> str:
    """A complaint about the target that shares no words with any other: random characters from the
    whole CJK block (they rarely make words, so neither near-duplicate nor same-meaning grouping
    joins them)."""
    return "快送外卖" + "".join(chr(rng.randint(0x4E00, 0x9FA5)) for _ in range(24))


def run(db, settings, now):
    with db.session() as s:
        return evaluate(s, settings, RunContext(now, ZoneInfo("Asia/Shanghai"), None))


def alarms(db):
    with db.session() as s:
        return s.execute(select(SpreadAlarm.series, SpreadAlarm.bin_start, SpreadAlarm.value)
                         .order_by(SpreadAlarm.series, SpreadAlarm.bin_start)).all()


def test_one_post_copied_by_many_accounts_within_an_hour_is_spreading(db, seed, settings):
    text = "快送外卖吃出头发，商家还不认，大家避雷"
    seed.mention(text, at=T0, severity="general", categories=("product",))
    assert run(db, settings, T0 + 2 * H).tickets_opened == 0, "one general complaint: no ticket"
    for i in range(5):
        seed.mention(f"{text}！！转{i}", at=T0 + 3 * H + i * timedelta(minutes=7), severity="general",
                     categories=("product",), source=f"site-{i}")
    assert run(db, settings, T0 + 3 * H + timedelta(minutes=50)).spread_alarms == 0, "the bin is not over yet"
    report = run(db, settings, T0 + 4 * H + timedelta(minutes=15))
    with db.session() as s:
        inc = s.scalar(select(Incident))
        ticket = s.scalar(select(Ticket))
    assert report.spread_alarms == 1 and inc.severity == "urgent" and "spread" in inc.signals
    assert ticket.severity == "urgent" and ticket.incident_id == inc.id
    spike = next(a for a in report.alerts if a.kind == "spike")
    assert spike.key == f"spread:incident:{inc.id}" and spike.repeatable
    assert (spike.figures["count"], spike.figures["expected"] < 0.1) == (5, True)
    assert len(spike.evidence) == 3 and spike.severity == "urgent"
    # how far it went: six people on six sites (the first post on feed-a, the copies on site-0..4)
    assert "6 authors on 6 sources" in spike.summary and spike.figures["authors"] == 6
    assert spike.figures["sources"].split(", ")[:1] != [] and "site-0" in spike.figures["sources"]
    assert spike.figures["sources"].endswith(" …")         # five named, the sixth summed up
    assert alarms(db) == [(f"incident:{inc.id}", T0 + 3 * H, 5.0)]
    again = run(db, settings, T0 + 4 * H + timedelta(minutes=20))
    assert (again.spread_alarms, again.alerts, len(alarms(db))) == (0, [], 1)


def test_a_surge_of_different_complaints_about_one_target_is_caught(db, seed, settings):
    rng = random.Random(5)
    for i in range(4 * 24 // 6):                       # four days, one complaint every six hours
        seed.mention(distinct_text(rng), at=T0 + i * 6 * H, severity="general")
    burst = T0 + 4 * 24 * H + 3 * H
    for i in range(8):                                 # then eight in one hour
        seed.mention(distinct_text(rng), at=burst + i * timedelta(minutes=6), severity="general")
    report = run(db, settings, burst + timedelta(minutes=75))
    tc = [a for a in report.alerts if a.key == "spread:tc:快送外卖/delivery"]
    assert len(tc) == 1 and tc[0].figures["count"] == 8 and tc[0].target == "快送外卖"
    assert tc[0].figures["incidents"] == 8 and len(tc[0].evidence) == 3
    with db.session() as s:
        # the eight are "several customers with the same issue": important, so they get tickets
        assert s.scalar(select(func.count()).select_from(Ticket).where(Ticket.severity == "important")) == 8
        assert s.scalar(select(func.count()).select_from(Ticket)) == 8


def test_hourly_runs_find_the_same_alarms_as_one_late_run(db, seed, settings, database_url):
    rng = random.Random(11)
    for i in range(3 * 24 // 4):
        seed.mention(distinct_text(rng), at=T0 + i * 4 * H + 5 * timedelta(minutes=1), severity="general")
    for i in range(7):
        seed.mention(distinct_text(rng), at=T0 + 80 * H + i * timedelta(minutes=8), severity="general")
    end = T0 + 90 * H
    t = T0
    while t < end:                                     # a run every six hours, like a restart each time
        t += 6 * H
        run(db, settings, min(t, end))
    stepwise = alarms(db)
    with db.session() as s:
        states = {k: v for k, v in s.execute(select(DetectorState.key, DetectorState.state))
                  if k.startswith("tc:")}
        s.execute(SpreadAlarm.__table__.delete())
        s.execute(DetectorState.__table__.delete())
    run(db, settings, end)
    assert alarms(db) == stepwise and [a[0] for a in stepwise].count("tc:快送外卖/delivery") == 1
    with db.session() as s:
        again = {k: v for k, v in s.execute(select(DetectorState.key, DetectorState.state)) if k.startswith("tc:")}
    assert again == states


def test_a_post_that_arrives_after_its_bin_was_judged_is_not_counted(db, seed, settings):
    text = "快送外卖吃出头发，商家还不认，大家避雷"
    seed.mention(text, at=T0, severity="general", categories=("product",))
    run(db, settings, T0 + 3 * H)
    for i in range(5):   # published in the first hour, collected two hours later (a source caught up)
        seed.mention(f"{text}{i}", at=T0 + i * timedelta(minutes=5), collected_at=T0 + 3 * H,
                     severity="general", categories=("product",))
    report = run(db, settings, T0 + 5 * H)
    assert report.spread_alarms == 0 and report.attached == 0
    with db.session() as s:
        assert s.scalar(select(Incident.mention_count)) == 6
