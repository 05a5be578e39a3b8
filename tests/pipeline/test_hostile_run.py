"""One bad source never stops a run: a value the database refuses fails that source alone, and a
server that trickles its feed is cut off at the fetch deadline; the other sources, analysis and
alerts still run. Real parts: loopback servers, SQLite and PostgreSQL, aiosmtpd."""
from __future__ import annotations

import time

import pytest
from sqlalchemy import func, select, text

from repwatch.config import parse_config
from repwatch.loopback import Response
from repwatch.loopback_faults import RawHTTPServer, drip
from repwatch.pipeline import run_once
from storage.models import Analysis, CollectionRun, Mention, Source, Ticket

POISON = "毒丸"   # the database below refuses any mention whose text holds it

SQLITE_TRIGGER = [f"""CREATE TRIGGER refuse_poison BEFORE INSERT ON mention WHEN NEW.text LIKE '%{POISON}%'
                      BEGIN SELECT RAISE(ABORT, 'refused by the test trigger'); END"""]
PG_TRIGGER = [f"""CREATE OR REPLACE FUNCTION refuse_poison() RETURNS trigger AS $$ BEGIN
                    IF NEW.text LIKE '%{POISON}%' THEN RAISE EXCEPTION 'refused by the test trigger'; END IF;
                    RETURN NEW; END $$ LANGUAGE plpgsql""",
              "CREATE TRIGGER refuse_poison BEFORE INSERT ON mention FOR EACH ROW EXECUTE FUNCTION refuse_poison()"]


@pytest.fixture
def refusing_db(db):
    """The database itself refuses one value: the store failure is real, not a mock."""
    sqlite = db.is_sqlite
    with db.engine.begin() as conn:
        for statement in SQLITE_TRIGGER if sqlite else PG_TRIGGER:
            conn.execute(text(statement))
    yield db
    with db.engine.begin() as conn:   # the PostgreSQL schema outlives the test
        conn.execute(text("DROP TRIGGER IF EXISTS refuse_poison" + ("" if sqlite else " ON mention")))


def count(db, model, *where) -> int:
    with db.session() as s:
        return s.scalar(select(func.count()).select_from(model).where(*where))


def config_with(feeds, smtp, first: dict, **http):
    data = {"watch": [{"name": "快送外卖", "aliases": ["快送"]}],
            "sources": [first, {"name": "good", "kind": "feed", "url": feeds.url("/good.xml")}],
            "alerts": {"open_ticket_at": "important"}, "http": http,
            "notify": [{"name": "team", "kind": "email", "from": "repwatch@example.com",
                        "to": ["team@example.com"], "smtp": {"host": "127.0.0.1", "port": smtp.port}}]}
    return parse_config(data, "<test>")


def test_a_value_the_database_refuses_fails_that_source_alone(refusing_db, feeds, smtp, analyzer, clock,
                                                              make_rss):
    db = refusing_db
    feeds.routes["/poison.xml"] = Response(make_rss([("x-1", "快送外卖很好吃"), ("x-2", f"快送外卖{POISON}")]))
    config = config_with(feeds, smtp, {"name": "poison", "kind": "feed", "url": feeds.url("/poison.xml")})
    report = run_once(db, config, analyzer, clock.now())
    poison, good = report.sources
    assert poison.status == "failed" and "refused by the test trigger" in poison.error
    assert "other sources were not affected" in poison.error.lower()
    assert (good.status, good.new) == ("ok", 3)
    with db.session() as s:
        run = s.scalars(select(CollectionRun).join(Source).where(Source.name == "poison")).one()
        assert (run.status, run.error_kind) == ("failed", "store")
        assert s.scalar(select(Source.consecutive_failures).where(Source.name == "poison")) == 1
    # nothing of the failed source was kept, not even its harmless first item
    assert count(db, Mention) == 3
    # analysis and alerts ran after the failure
    assert report.analyzed == 3 and count(db, Analysis) == 3
    assert report.evaluation is not None and count(db, Ticket) == report.evaluation.tickets_opened == 2
    assert len(smtp.messages) == 2


def test_a_trickling_source_does_not_hold_back_the_next_one(db, feeds, smtp, analyzer, clock, make_rss, posts):
    body = make_rss([("d-1", "快送外卖的送餐员态度恶劣")])
    with RawHTTPServer() as slow:
        slow.routes["/drip.xml"] = trickle = drip(body, every=0.2)
        sent_when_good_was_fetched = []

        def good(req):
            sent_when_good_was_fetched.append(trickle.sent)
            return Response(make_rss(posts))

        feeds.routes["/good.xml"] = good
        config = config_with(feeds, smtp, {"name": "drip", "kind": "feed", "url": slow.url("/drip.xml")},
                             fetch_deadline="2s", read_timeout="5s")
        started = time.monotonic()
        report = run_once(db, config, analyzer, clock.now())
        elapsed = time.monotonic() - started
        assert trickle.sent < len(body)   # still trickling when the run moved on
    stuck, fetched = report.sources   # reported in config order
    assert stuck.status == "failed" and "http.fetch_deadline" in stuck.error
    assert (fetched.status, fetched.new) == ("ok", 3) and report.analyzed == 3
    # The good feed was fetched while the trickle had barely begun, not after the deadline cut it off
    # (one byte every 0.2 s until the 2 s deadline: ~10 bytes in all).
    assert sent_when_good_was_fetched[0] < trickle.sent - 3, (sent_when_good_was_fetched, trickle.sent)
    assert elapsed < 60, elapsed   # generous: the trickle alone would take several minutes
