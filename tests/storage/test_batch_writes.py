"""A source's items are stored in a bounded number of statements, with the one-at-a-time rules:
reruns store nothing, the same text twice from one source is one row, and a text another source
stored first points at that original. Statements are counted with SQLAlchemy's cursor event."""
from __future__ import annotations

from datetime import datetime, timezone

from sqlalchemy import event, func, select

from storage.models import EngagementSnapshot, Mention, Source
from storage.records import MentionIn
from storage.writes import get_or_create_source, store_mentions

NOW = datetime(2026, 11, 23, 2, 0, tzinfo=timezone.utc)


class Counter:
    def __init__(self, engine):
        self.engine, self.statements = engine, []

    def __enter__(self):
        event.listen(self.engine, "before_cursor_execute", self._hook)
        return self

    def __exit__(self, *exc):
        event.remove(self.engine, "before_cursor_execute", self._hook)

    def _hook(self, conn, cursor, statement, parameters, context, executemany):
        self.statements.append(statement)


def items(n: int, prefix: str = "e", likes: bool = False) -> list[MentionIn]:
    return [MentionIn(external_id=f"{prefix}{k}", text=f"退款一直没处理 第{k}条", title=f"帖子{k}",
                      likes=k if likes else None) for k in range(n)]


def _source(db, name: str) -> int:
    with db.session() as s:
        return get_or_create_source(s, name, "feed").id


def _store(db, source_id: int, batch: list[MentionIn]):
    with db.session() as s:
        return store_mentions(s, s.get(Source, source_id), batch, NOW)


def test_thirty_new_items_take_at_most_four_statements(db):
    source_id = _source(db, "a")
    with db.session() as s:
        source = s.get(Source, source_id)
        with Counter(db.engine) as counter:
            stored = store_mentions(s, source, items(30, likes=True), NOW)
    assert stored.new == 30 and len(stored.new_ids) == 30
    assert len(counter.statements) <= 4, counter.statements
    with db.session() as s:
        assert s.scalar(select(func.count()).select_from(Mention)) == 30
        assert s.scalar(select(func.count()).select_from(EngagementSnapshot)) == 30
        assert sorted(s.scalars(select(Mention.id))) == sorted(stored.new_ids)


def test_a_rerun_stores_nothing_in_one_statement(db):
    source_id = _source(db, "a")
    _store(db, source_id, items(30))
    with db.session() as s:
        source = s.get(Source, source_id)
        with Counter(db.engine) as counter:
            again = store_mentions(s, source, items(30), NOW)
    assert (again.new, again.duplicates) == (0, 30)
    assert len(counter.statements) == 1, counter.statements


def test_duplicates_within_a_batch_and_across_sources(db):
    a, b = _source(db, "a"), _source(db, "b")
    batch = items(3) + [MentionIn(external_id="e0", text="another text, same id"),
                        MentionIn(external_id="regenerated-guid", text=items(1)[0].text)]
    first = _store(db, a, batch)
    assert (first.new, first.duplicates, first.cross_source) == (3, 2, 0)
    second = _store(db, b, items(3, prefix="b"))
    assert (second.new, second.cross_source) == (3, 3)
    with db.session() as s:
        originals = dict(s.execute(select(Mention.external_id, Mention.id).where(Mention.source_id == a)).all())
        copies = dict(s.execute(select(Mention.external_id, Mention.duplicate_of_id)
                                .where(Mention.source_id == b)).all())
    assert copies == {f"b{k}": originals[f"e{k}"] for k in range(3)}


def test_a_large_batch_is_chunked_and_complete(db):
    source_id = _source(db, "a")
    stored = _store(db, source_id, items(1_234))
    assert stored.new == 1_234
    assert _store(db, source_id, items(1_234)).duplicates == 1_234


def test_known_ids_is_one_query_and_is_known_still_works(db):
    from repwatch.config import parse_config
    from repwatch.pipeline import _open_runs

    config = parse_config({"sources": [{"name": "a", "kind": "feed", "url": "http://127.0.0.1:9/a.xml"}]}, "<t>")
    job = _open_runs(db, config, config.sources, NOW)[0]
    _store(db, job.source_id, items(5))
    with Counter(db.engine) as counter:
        known = job.state.known([f"e{k}" for k in range(10)])
    assert known == {f"e{k}" for k in range(5)}
    assert len(counter.statements) == 1
    assert job.state.is_known("e1") and not job.state.is_known("e7")


def test_known_falls_back_to_is_known_id_by_id():
    from collectors.base import SourceState

    state = SourceState(now=NOW, is_known=lambda external_id: external_id == "x")
    assert state.known(["x", "y"]) == {"x"}
