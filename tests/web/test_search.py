"""Mention search on both databases: substring matching for Chinese (no word boundaries), words
inside Chinese runs, several terms, literal special characters, filters, and an index kept in step."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest
from sqlalchemy import delete

from repwatch.web.queries.search import MentionFilters, search
from storage.models import Analysis, Mention, Source

T0 = datetime(2026, 11, 20, 8, 0, tzinfo=timezone.utc)
POSTS = [
    # (source, text, title, days after T0, negative, complaint, categories)
    ("weibo", "快送外卖送餐太慢，等了两个小时，我要投诉到12315", None, 0, True, True, ["delivery"]),
    ("weibo", "优选商城的客服态度很好，退款很快", None, 1, False, False, []),
    ("forum", "Refund took three weeks, support never answered", "Slow REFUND", 2, True, True, ["after_sales"]),
    ("forum", "打折活动 100%_off 是假的，价格欺诈", None, 3, True, True, ["price"]),
    ("forum", 'He said "NEAR(a b)" OR * means nothing here', None, 4, False, False, []),
]


@pytest.fixture
def corpus(db):
    with db.session() as s:
        sources = {n: Source(name=n, kind="feed", state={}, error_counts={}) for n in ("weibo", "forum")}
        s.add_all(sources.values())
        s.flush()
        for i, (src, text, title, days, negative, complaint, cats) in enumerate(POSTS):
            m = Mention(source_id=sources[src].id, external_id=f"p{i}", content_hash=f"h{i}", text=text, title=title,
                        published_at=T0 + timedelta(days=days), collected_at=T0 + timedelta(days=days), raw={})
            s.add(m)
            s.flush()
            s.add(Analysis(mention_id=m.id, sentiment=0.1 if negative else 0.9, negative=negative, complaint=complaint,
                           categories=cats, severity="important" if complaint else "none", signals=[], targets=[],
                           model_version="test"))
        ids = {n: src.id for n, src in sources.items()}
    return ids


def found(db, **filters) -> list[int]:
    """Indexes into POSTS of what the search returns, oldest first."""
    with db.session() as s:
        rows, total = search(s, MentionFilters(**filters), limit=50)
    texts = [m.text for m, _, _ in rows]
    assert total == len(texts)
    return sorted(i for i, p in enumerate(POSTS) if p[1] in texts)


@pytest.mark.parametrize("q, expected", [
    ("外卖", [0]),               # two characters inside a run of Chinese: the LIKE path
    ("送餐太慢", [0]),            # four characters: the trigram index path
    ("12315", [0]),              # digits inside Chinese, where a word tokenizer fails
    ("退款", [1]),
    ("refund", [2]),             # case-insensitive, and found in the title too
    ("客服 退款", [1]),           # every term must match
    ("客服 12315", []),
    ("100%_off", [3]),           # LIKE wildcards are literal
    ("%", [3]),
    ("_", [3]),
    ('"NEAR(a', [4]),            # FTS5 syntax is literal
    ("OR *", [4]),
    ("不存在的词", []),
])
def test_text_search(db, corpus, q, expected):
    assert found(db, q=q) == expected


def test_filters(db, corpus):
    assert found(db, source=corpus["weibo"]) == [0, 1]
    assert found(db, sentiment="negative") == [0, 2, 3]
    assert found(db, sentiment="positive") == [1, 4]
    assert found(db, sentiment="complaint") == [0, 2, 3]
    assert found(db, category="after_sales") == [2]
    assert found(db, since=T0 + timedelta(days=1), until=T0 + timedelta(days=3)) == [1, 2]
    assert found(db, q="价格", source=corpus["forum"], category="price", sentiment="negative") == [3]


def test_index_follows_edits_and_deletes(db, corpus):
    with db.session() as s:
        first = s.query(Mention).filter_by(external_id="p0").one()
        first.text = "已经处理好了，谢谢"
        s.execute(delete(Mention).where(Mention.external_id == "p1"))  # the database cascades to analysis
    assert found(db, q="送餐太慢") == []
    with db.session() as s:
        rows, _ = search(s, MentionFilters(q="已经处理好"), limit=5)
        assert [m.external_id for m, _, _ in rows] == ["p0"]
        assert search(s, MentionFilters(q="客服态度很好"), limit=5)[1] == 0


def test_paging(db, corpus):
    with db.session() as s:
        page1, total = search(s, MentionFilters(), limit=2, offset=0)
        page3, _ = search(s, MentionFilters(), limit=2, offset=4)
    assert total == 5 and len(page1) == 2 and len(page3) == 1
    assert page1[0][0].text == POSTS[4][1]    # newest first
