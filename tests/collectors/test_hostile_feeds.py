"""A corpus of hostile feeds, in the spirit of feedparser's `illformed` tests: each file in
tests/collectors/hostile_feeds/ states what must happen in its own `Expect:` comment (see make_fixtures.py).
Each is served over loopback HTTP with its stated Content-Type and collected twice into a real
database: no crash, no traceback, no mojibake (known Chinese strings arrive intact), no duplicate."""
from __future__ import annotations

import logging
import re
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import func, select

from repwatch.config import parse_config
from repwatch.loopback import Response
from repwatch.pipeline import collect_source
from storage.models import CollectionRun, Mention

CORPUS = Path(__file__).with_name("hostile_feeds")
FIXTURES = sorted(CORPUS.glob("*.xml"))
# What text decoded in the wrong charset looks like: Latin-1 letters where CJK was, or U+FFFD.
_MOJIBAKE = re.compile("[\u0080-\u024f\ufffd]")



def test_the_corpus_covers_every_kind_of_hostile_feed():
    names = {p.stem for p in FIXTURES}
    for kind in ("gbk-undeclared", "gbk-labelled-utf8", "gb18030-served-as-latin1", "big5-undeclared",
                 "utf16le-bom", "control-characters", "charref-surrogates", "oversize-fields", "truncated-mid-item"):
        assert kind in names


@pytest.mark.parametrize("path", FIXTURES, ids=lambda p: p.stem)
def test_hostile_feed(path, db, http_server, clock, caplog, expect_of):
    expect = expect_of(path)
    http_server.routes["/feed"] = Response(path.read_bytes(), headers={"Content-Type": expect["content_type"]})
    config = parse_config({"sources": [{"name": "hostile", "kind": "feed", "url": http_server.url("/feed")}]},
                          "<test>")
    caplog.set_level(logging.WARNING)
    reports = [collect_source(db, config, config.source("hostile"), clock.advance(timedelta(minutes=m)))
               for m in (0, 5)]
    first, second = reports
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR or r.exc_info], "a traceback was logged"
    with db.session() as s:
        runs = list(s.scalars(select(CollectionRun).order_by(CollectionRun.id)))
        mentions = list(s.scalars(select(Mention)))
        distinct = s.scalar(select(func.count(func.distinct(Mention.content_hash))))
    for report, run in zip(reports, runs):
        assert report.status == expect["status"], report.error
        assert "Traceback" not in (report.error or "") and run.error_kind != "internal"
        if expect["status"] == "failed":
            assert run.error_kind == expect["error_kind"]
    assert first.new == expect["items"] == len(mentions) == distinct
    assert second.new == 0   # collected twice, stored once
    stored = " ".join(f"{m.title or ''} {m.text} {m.author or ''}" for m in mentions)
    for wanted in expect["texts"]:
        assert wanted in stored, f"{wanted!r} did not arrive intact; stored: {stored[:200]!r}"
    if not expect.get("latin"):
        assert not _MOJIBAKE.search(stored), f"mojibake stored: {stored[:200]!r}"
    warned = {p["kind"] for p in runs[0].problems}
    assert set(expect["warnings"]) <= warned, runs[0].problems
