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

POISON = "毒丸"   # the database below refuses a mention whose text holds it, and a source whose ETag does

SQLITE_TRIGGERS = [
    f"""CREATE TRIGGER refuse_mention BEFORE INSERT ON mention WHEN NEW.text LIKE '%{POISON}%'
        BEGIN SELECT RAISE(ABORT, 'refused by the test trigger'); END""",
    """CREATE TRIGGER refuse_source BEFORE UPDATE ON source WHEN NEW.etag LIKE '%poison%'
       BEGIN SELECT RAISE(ABORT, 'refused by the test trigger'); END"""]
PG_TRIGGERS = [
    f"""CREATE OR REPLACE FUNCTION refuse_mention() RETURNS trigger AS $$ BEGIN
          IF NEW.text LIKE '%{POISON}%' THEN RAISE EXCEPTION 'refused by the test trigger'; END IF;
          RETURN NEW; END $$ LANGUAGE plpgsql""",
    """CREATE OR REPLACE FUNCTION refuse_source() RETURNS trigger AS $$ BEGIN
          IF NEW.etag LIKE '%poison%' THEN RAISE EXCEPTION 'refused by the test trigger'; END IF;
          RETURN NEW; END $$ LANGUAGE plpgsql""",
    "CREATE TRIGGER refuse_mention BEFORE INSERT ON mention FOR EACH ROW EXECUTE FUNCTION refuse_mention()",
    "CREATE TRIGGER refuse_source BEFORE UPDATE ON source FOR EACH ROW EXECUTE FUNCTION refuse_source()"]


@pytest.fixture
def refusing_db(db):
    """The database itself refuses some values: the store failures are real, not mocks."""
    sqlite = db.is_sqlite
    with db.engine.begin() as conn:
        for statement in SQLITE_TRIGGERS if sqlite else PG_TRIGGERS:
            conn.execute(text(statement))
    yield db
    with db.engine.begin() as conn:   # the PostgreSQL schema outlives the test
        for trigger, table in (("refuse_mention", "mention"), ("refuse_source", "source")):
            conn.execute(text(f"DROP TRIGGER IF EXISTS {trigger}" + ("" if sqlite else f" ON {table}")))


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


def test_an_item_the_database_refuses_is_skipped_and_the_rest_kept(refusing_db, feeds, smtp, analyzer, clock,
                                                                     make_rss):
    db = refusing_db
    feeds.routes["/poison.xml"] = Response(make_rss([("x-1", "快送外卖的客服根本不理人，退款一个月没到"),
                                                     ("x-2", f"快送外卖{POISON}")]), etag=True)
    config = config_with(feeds, smtp, {"name": "poison", "kind": "feed", "url": feeds.url("/poison.xml")})
    report = run_once(db, config, analyzer, clock.now())
    poison, good = report.sources
    assert (poison.status, poison.new, poison.failed) == ("partial", 1, 1)
    assert (good.status, good.new) == ("ok", 3)
    with db.session() as s:
        run = s.scalars(select(CollectionRun).join(Source).where(Source.name == "poison")).one()
        (problem,) = [p for p in run.problems if p["kind"] == "store"]
        assert "item x-2" in problem["message"] and "refused by the test trigger" in problem["message"]
        # no ETag kept: the next run fetches in full and tries the refused item again
        assert s.scalar(select(Source.etag).where(Source.name == "poison")) is None
    assert count(db, Mention) == 4 and report.analyzed == 4
    again = run_once(db, config, analyzer, clock.now())
    assert (again.sources[0].new, again.sources[0].duplicates, again.sources[0].failed) == (0, 1, 1)
    assert count(db, Mention) == 4


def test_a_source_the_database_refuses_fails_alone(refusing_db, feeds, smtp, analyzer, clock, make_rss):
    db = refusing_db
    feeds.routes["/poison.xml"] = Response(make_rss([("x-1", "快送外卖很好吃")]),
                                           headers={"ETag": '"poison"'})
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
    # analysis and alerts ran after the failure
    assert report.analyzed == count(db, Mention) and count(db, Analysis) == count(db, Mention)
    assert report.evaluation is not None and count(db, Ticket) == report.evaluation.tickets_opened == 2
    assert len(smtp.messages) == 2
    again = run_once(db, config, analyzer, clock.now())   # items kept by the failed run are not stored twice
    assert again.sources[0].status == "failed" and count(db, Mention) == 4


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


def test_an_import_file_with_a_refused_row_is_read_again_next_run(refusing_db, tmp_path, clock):
    from repwatch.pipeline import collect_source
    from storage.models import ImportedFile

    db = refusing_db
    (tmp_path / "hotline.jsonl").write_text('{"id": "h1", "text": "空调漏水没人修"}\n'
                                            f'{{"id": "h2", "text": "{POISON}"}}\n', encoding="utf-8")
    config = parse_config({"sources": [{"name": "imp", "kind": "import", "path": str(tmp_path),
                                        "columns": {"id": "id", "text": "text"}}]}, "<test>")
    first = collect_source(db, config, config.source("imp"), clock.now())
    assert (first.status, first.new, first.failed) == ("partial", 1, 1)
    assert count(db, ImportedFile) == 0   # not recorded: the refused row is retried
    second = collect_source(db, config, config.source("imp"), clock.now())
    assert (second.new, second.duplicates, second.failed) == (0, 1, 1) and count(db, Mention) == 1
