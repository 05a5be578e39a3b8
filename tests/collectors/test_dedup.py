"""Cross-source dedup: the same complaint seen on a review page, in an RSSHub feed and through an API
is stored once per source but linked to the first copy (Mention.duplicate_of_id), not counted anew."""
from __future__ import annotations

from sqlalchemy import select

from storage.models import Mention


def test_same_text_across_three_sources_is_linked_to_the_first(db, site, clock, make_config, collect, web_source, count):
    api = {"name": "api", "kind": "json", "url": site.url("/api/reviews"), "items": "data.items", "delay": 0,
           "fields": {"id": "post_id", "text": "content"},
           "pagination": {"type": "cursor", "param": "cursor", "next": "data.paging.next_cursor", "max_pages": 5}}
    weibo = {"name": "weibo", "kind": "rsshub", "route": "/weibo/keyword/快送外卖", "instance": site.url("/")}
    config = make_config([web_source(site), weibo, api])
    assert [collect(db, config, name, clock.now()).new for name in ("shop", "weibo", "api")] == [12, 5, 12]
    with db.session() as s:
        originals = {m.text: m.id for m in s.scalars(select(Mention).where(Mention.duplicate_of_id.is_(None)))}
        copies = s.scalars(select(Mention).where(Mention.duplicate_of_id.is_not(None))).all()
        assert len(originals) == 12 and len(copies) == 17
        assert all(c.duplicate_of_id == originals[c.text] for c in copies)
        shop_id = s.scalar(select(Mention.source_id).where(Mention.id == next(iter(originals.values()))))
        assert {s.get(Mention, i).source_id for i in originals.values()} == {shop_id}
    assert count(db, Mention) == 29
