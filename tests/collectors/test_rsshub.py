"""The `rsshub` collector against an RSSHub-shaped feed on loopback: parsing, conditional GET, dedup,
and RSSHub's failure modes turned into messages a person can act on."""
from __future__ import annotations

from datetime import timedelta
from urllib.parse import quote

import pytest
from sqlalchemy import select

from collectors.rsshub import RSSHubCollector
from repwatch.exceptions import ConfigError
from repwatch.loopback import Response
from storage.models import Mention


def rsshub_source(site, **extra) -> dict:
    return {"name": "weibo", "kind": "rsshub", "route": "/weibo/keyword/快送外卖", "instance": site.url("/"), **extra}


def test_rsshub_feed_is_collected_then_answers_304(db, site, clock, make_config, collect, count, http_server):
    config = make_config([rsshub_source(site)])
    first = collect(db, config, "weibo", clock.now())
    assert (first.status, first.new) == ("ok", 5)
    with db.session() as s:
        m = s.scalar(select(Mention).where(Mention.external_id == "https://weibo.com/123/0"))
        assert m.text == "快送外卖的骑手态度恶劣，送餐晚了一个小时还骂人"   # the <img> of the CDATA is gone
        assert (m.author, m.url) == ("微博用户0", "https://weibo.com/123/0")
    second = collect(db, config, "weibo", clock.advance(timedelta(minutes=5)))
    assert (second.status, second.http_status, second.new) == ("not_modified", 304, 0)
    requests = [r for r in http_server.requests if r.path == quote("/weibo/keyword/快送外卖")]
    assert len(requests) == 2 and requests[1].headers.get("if-none-match")
    assert count(db, Mention) == 5


def test_params_and_access_key_are_sent_but_never_shown(db, site, clock, make_config, collect, http_server):
    http_server.routes[quote("/weibo/keyword/快送外卖")] = Response(b"", 503)
    config = make_config([rsshub_source(site, params={"limit": 20}, access_key="s3cret")])
    report = collect(db, config, "weibo", clock.now())
    sent = [r for r in http_server.requests if r.path == quote("/weibo/keyword/快送外卖")][-1]
    assert "limit=20" in sent.query and "key=s3cret" in sent.query
    assert report.status == "failed" and "s3cret" not in report.error
    assert "could not fetch from the platform" in report.error and "cookies" in report.error


@pytest.mark.parametrize("route,status,words", [
    ("/weibo/nosuch/route", 404, "no such route"),
    ("/weibo/keyword/快送外卖", 403, "access_key"),
])
def test_rsshub_errors_say_what_to_do(db, site, clock, make_config, collect, http_server, route, status, words):
    http_server.routes[quote(route)] = Response(b"", status)
    report = collect(db, make_config([rsshub_source(site, route=route)]), "weibo", clock.now())
    assert report.status == "failed" and words in report.error and report.http_status == status


def test_no_instance_running(db, clock, make_config, collect):
    from repwatch.loopback import free_port

    config = make_config([{"name": "weibo", "kind": "rsshub", "route": "/zhihu/search/快送外卖",
                           "instance": f"http://127.0.0.1:{free_port()}"}])
    report = collect(db, config, "weibo", clock.now())
    assert report.status == "failed" and "no RSSHub instance answers" in report.error


def test_default_instance_is_self_hosted_and_routes_are_checked(make_config):
    config = make_config([{"name": "zhihu", "kind": "rsshub", "route": "/zhihu/search/快送外卖"}])
    collector = RSSHubCollector("zhihu", config.source("zhihu").options, config.http)
    assert collector.feed_url() == "http://127.0.0.1:1200/zhihu/search/快送外卖"
    with pytest.raises(ConfigError) as err:
        make_config([{"name": "x", "kind": "rsshub", "route": "https://rsshub.app/weibo/keyword/x"}])
    assert "route" in str(err.value)
