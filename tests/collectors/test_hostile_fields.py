"""Hostile values reach the database cleaned, on SQLite and PostgreSQL: NUL (PostgreSQL refuses it),
lone surrogates (SQLite's driver refuses them), over-long author, ETag and Last-Modified, a 200 KB
CSV cell, a body cut mid-feed, and a run a killed process left `running`."""
from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select

from repwatch.loopback import Response
from repwatch.loopback_faults import RawHTTPServer, cut
from storage.models import CollectionRun, Mention, Source


def rss(items: str) -> bytes:
    return ('<?xml version="1.0" encoding="utf-8"?><rss version="2.0"><channel><title>t</title>'
            f'<link>http://example.com/</link><description>d</description>{items}</channel></rss>').encode()


def feed_source(url: str, name: str = "hostile") -> dict:
    return {"name": name, "kind": "feed", "url": url}


def last_run(db, name: str) -> CollectionRun:
    with db.session() as s:
        return s.scalars(select(CollectionRun).join(Source).where(Source.name == name)
                         .order_by(CollectionRun.id.desc())).first()


def test_nul_long_author_and_long_validators_are_cleaned_and_reported(db, http_server, clock, make_config,
                                                                      collect, count):
    long_author = "刷单水军" * 100   # 400 characters, the column holds 300
    items = (f"<item><guid>n-1</guid><title>a&#0;b</title><author>{long_author}</author>"
             "<description>优选商城&#0;卖假货&#1;，客服不理人</description></item>"
             "<item><guid>n-2</guid><title>正常</title><description>快送外卖的骑手态度恶劣</description></item>")
    http_server.routes["/f.xml"] = Response(rss(items), headers={
        "Content-Type": "application/rss+xml", "ETag": '"' + "e" * 600 + '"', "Last-Modified": "x" * 150})
    config = make_config([feed_source(http_server.url("/f.xml"))])
    report = collect(db, config, "hostile", clock.now())
    assert (report.status, report.new) == ("ok", 2), report.error
    with db.session() as s:
        m = s.scalar(select(Mention).where(Mention.external_id == "n-1"))
        assert m.title == "ab" and m.text == "优选商城卖假货，客服不理人"
        assert m.author == long_author[:300]
        source = s.scalar(select(Source).where(Source.name == "hostile"))
        assert source.etag is None and source.last_modified is None
    kinds = [p["kind"] for p in last_run(db, "hostile").problems]
    assert "cut" in kinds and kinds.count("validator") == 2
    messages = " ".join(p["message"] for p in last_run(db, "hostile").problems)
    assert "author was 400 characters; cut to 300" in messages and "ETag" in messages
    again = collect(db, config, "hostile", clock.advance(timedelta(minutes=5)))
    assert (again.status, again.new, again.duplicates) == ("ok", 0, 2)
    assert count(db, Mention) == 2


def test_lone_surrogate_in_a_json_api_answer_is_dropped(db, http_server, clock, make_config, collect, count):
    body = '[{"id":"s1","text":"\\ud800 优选商城卖假货"},{"id":"s2\\udfff","text":"退款一直不处理"}]'
    http_server.routes["/api"] = Response(body.encode(), headers={"Content-Type": "application/json"})
    config = make_config([{"name": "api", "kind": "json", "url": http_server.url("/api"),
                           "fields": {"id": "id", "text": "text"}, "delay": 0}])
    report = collect(db, config, "api", clock.now())
    assert (report.status, report.new) == ("ok", 2), report.error
    with db.session() as s:
        assert dict(s.execute(select(Mention.external_id, Mention.text)).all()) == {
            "s1": "优选商城卖假货", "s2": "退款一直不处理"}
    assert collect(db, config, "api", clock.advance(timedelta(minutes=5))).new == 0
    assert count(db, Mention) == 2


def test_lone_surrogate_in_an_import_file_is_dropped(db, tmp_path, clock, make_config, collect):
    (tmp_path / "a.jsonl").write_text('{"id":"s1","text":"\\ud800 优选商城卖假货"}\n'
                                      '{"id":"s2","text":"售后太差了"}\n', encoding="utf-8")
    config = make_config([{"name": "imp", "kind": "import", "path": str(tmp_path),
                           "columns": {"id": "id", "text": "text"}}])
    report = collect(db, config, "imp", clock.now())
    assert (report.status, report.new) == ("ok", 2), report.error
    with db.session() as s:
        assert s.scalar(select(Mention.text).where(Mention.external_id == "s1")) == "优选商城卖假货"


def test_csv_row_with_a_cell_over_128_kb_is_reported_and_the_rest_loads(db, tmp_path, clock, make_config, collect):
    big = "长" * 200_000
    (tmp_path / "hotline.csv").write_text(f"id,text\nh1,空调漏水没人修\nh2,{big}\nh3,退款一个月没到账\n",
                                          encoding="utf-8")
    config = make_config([{"name": "imp", "kind": "import", "path": str(tmp_path),
                           "columns": {"id": "id", "text": "text"}}])
    report = collect(db, config, "imp", clock.now())
    assert (report.status, report.new, report.failed) == ("partial", 2, 1)
    (problem,) = last_run(db, "imp").problems
    assert problem["message"].startswith("hotline.csv line 3:") and "200,000 characters" in problem["message"]
    with db.session() as s:
        assert sorted(s.scalars(select(Mention.external_id))) == ["h1", "h3"]


def test_a_feed_cut_mid_body_stores_nothing_and_the_full_feed_later_stores_each_item_once(
        db, clock, make_config, collect, count):
    full = rss("<item><title>假货</title><description>优选商城卖假货，我要投诉到消费者协会</description></item>"
               "<item><title>退款</title><description>退款申请提交一周了，还是处理中</description></item>")
    with RawHTTPServer() as server:
        # No guid and no link: ids are content hashes, so half an item would be a second row later.
        server.routes["/f.xml"] = cut(b"HTTP/1.1 200 OK\r\nContent-Type: application/rss+xml\r\n"
                                      b"Connection: close", full[:full.index("处理中".encode())])
        config = make_config([feed_source(server.url("/f.xml"))])
        report = collect(db, config, "hostile", clock.now())
        assert report.status == "failed" and last_run(db, "hostile").error_kind == "truncated"
        assert count(db, Mention) == 0
        server.routes["/f.xml"] = cut(b"HTTP/1.1 200 OK\r\nContent-Type: application/rss+xml\r\n"
                                      b"Connection: close", full)
        assert collect(db, config, "hostile", clock.advance(timedelta(minutes=5))).new == 2
        assert collect(db, config, "hostile", clock.advance(timedelta(minutes=5))).new == 0
    assert count(db, Mention) == 2


def test_a_run_left_running_by_a_killed_process_is_marked_abandoned(db, http_server, clock, make_config, collect):
    http_server.routes["/f.xml"] = Response(rss("<item><guid>a</guid><description>售后太差了</description></item>"))
    config = make_config([feed_source(http_server.url("/f.xml"))])
    collect(db, config, "hostile", clock.now())
    with db.session() as s:
        source_id = s.scalar(select(Source.id).where(Source.name == "hostile"))
        s.add(CollectionRun(source_id=source_id, started_at=clock.now() - timedelta(hours=3), status="running"))
        s.add(CollectionRun(source_id=source_id, started_at=clock.now() - timedelta(minutes=1), status="running"))
    collect(db, config, "hostile", clock.now())
    with db.session() as s:
        runs = {r.started_at.replace(tzinfo=None): r for r in s.scalars(select(CollectionRun))}
    killed = runs[(clock.now() - timedelta(hours=3)).replace(tzinfo=None)]
    assert (killed.status, killed.error_kind) == ("failed", "abandoned") and "killed or crashed" in killed.error
    # A young `running` run may be a live run elsewhere (another worker): left alone.
    assert runs[(clock.now() - timedelta(minutes=1)).replace(tzinfo=None)].status == "running"
