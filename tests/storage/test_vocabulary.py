"""The shared vocabulary: every package reads severities, categories and states from storage.vocabulary,
so a new word is one edit; the labels cover every key in both languages."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest
from sqlalchemy import select

from storage import vocabulary as v
from storage.models import Mention

T = datetime(2026, 11, 23, 2, 0, tzinfo=timezone.utc)


@pytest.mark.parametrize("kind, keys", [("severity", v.SEVERITY_LEVELS), ("category", v.CATEGORIES + (v.OTHER,)),
                                        ("state", v.TICKET_STATES)])
@pytest.mark.parametrize("locale", ["zh", "en"])
def test_every_key_has_a_label_in_both_languages(kind, keys, locale):
    missing = [k for k in keys if k not in v.LABELS[kind][locale]]
    assert missing == []


def test_severity_order_and_helpers():
    assert sorted(["urgent", "none", "general", "important"], key=v.severity_rank) == list(v.SEVERITY_LEVELS)
    assert v.severities_at_least("important") == ["important", "urgent"]
    assert v.more_severe("general", "urgent") == "urgent" and v.severity_rank("bogus") == 0
    assert v.label("category", "after_sales", "en") == "after-sales" and v.label("state", "new") == "新建"
    assert v.label("category", "unheard_of") == "unheard_of" and v.label("severity", None) == "-"


def test_sqlalchemy_literals_follow_the_tuples():
    assert v.Category.__args__ == v.CATEGORIES and v.Severity.__args__ == v.SEVERITIES
    assert v.TicketState.__args__ == v.TICKET_STATES


@pytest.mark.parametrize("published, expected", [(None, T), (T - timedelta(hours=2), T - timedelta(hours=2)),
                                                 (T + timedelta(days=3), T)])
def test_event_time_is_the_same_rule_in_python_and_sql(db, published, expected):
    assert v.event_time(published, T) == expected
    from storage.writes import get_or_create_source

    with db.session() as s:
        src = get_or_create_source(s, "feed-a", "feed")
        m = Mention(source_id=src.id, external_id="x", content_hash="h", text="t", published_at=published,
                    collected_at=T, raw={})
        s.add(m)
        s.flush()
        assert m.happened_at == expected
        from_sql = s.scalar(select(Mention.happened_at).where(Mention.id == m.id))
        from_sql = from_sql.replace(tzinfo=timezone.utc) if from_sql.tzinfo is None else from_sql
        assert from_sql == expected
