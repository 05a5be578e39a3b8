"""Fixtures for the alert stage: rows written the way the collectors and the analyzer write them,
so the stage is tested on a real database without loading the sentiment models."""
from __future__ import annotations

import itertools
from datetime import datetime, timezone

import pytest

from alerts.settings import AlertSettings
from repwatch.loopback import LoopbackHTTPServer
from storage.models import Analysis, Mention
from storage.records import content_hash
from storage.writes import get_or_create_source

T0 = datetime(2026, 11, 23, 2, 0, tzinfo=timezone.utc)   # the shared `clock` fixture starts here


class Seeder:
    """Stores a mention and its analysis, as collect + analyze would."""

    def __init__(self, db):
        self.db = db
        self.ids = itertools.count(1)

    def mention(self, text: str, *, at: datetime, source: str = "feed-a", severity: str = "important",
                categories=("delivery",), targets=("快送外卖",), signals=(), followers: int | None = None,
                url: str | None = None, collected_at: datetime | None = None, likes=None, reposts=None,
                comments=None, published: bool = True) -> int:
        n = next(self.ids)
        with self.db.session() as s:
            src = get_or_create_source(s, source, "feed")
            m = Mention(source_id=src.id, external_id=f"x-{n}", url=url or f"https://example.com/post/{n}",
                        content_hash=content_hash(text), author=f"user{n}", author_followers=followers, text=text,
                        published_at=at if published else None, collected_at=collected_at or at, likes=likes,
                        reposts=reposts, comments=comments, raw={})
            s.add(m)
            s.flush()
            complaint = severity != "none"
            s.add(Analysis(mention_id=m.id, lang="zh", sentiment=0.05 if complaint else 0.9, snownlp=None,
                           negative=complaint, complaint=complaint, categories=list(categories) if complaint else [],
                           severity=severity, signals=list(signals), targets=list(targets), model_version="test"))
            return m.id


@pytest.fixture
def seed(db) -> Seeder:
    return Seeder(db)


@pytest.fixture
def settings() -> AlertSettings:
    return AlertSettings()


@pytest.fixture(scope="session")
def analyzer():
    """The real analyzer (SnowNLP and the domain model): loaded once, it takes seconds and memory."""
    from sentiment import Analyzer

    return Analyzer(targets={"快送外卖": ["快送"]})


@pytest.fixture(scope="module")
def _server():
    # one loopback server per test module: stopping one costs half a second (the serve_forever poll interval)
    with LoopbackHTTPServer() as srv:
        yield srv


@pytest.fixture
def server(_server):
    """The module's loopback server, emptied of routes and recorded requests for each test."""
    _server.routes.clear()
    _server.requests.clear()
    return _server
