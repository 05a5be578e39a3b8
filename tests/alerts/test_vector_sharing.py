"""Near-duplicates share a sentence vector instead of being encoded again (repwatch/vectors.py, issue 18: the
encoder's ~35-60 ms of CPU per complaint was 95% of `repwatch run`). The real encoder; a counting wrapper
around it only to see how many texts it was given."""
from __future__ import annotations

from datetime import timedelta

import numpy as np
import pytest
from sqlalchemy import select, update

from alerts.incidents.grouping import from_bytes
from repwatch import vectors
from repwatch.config import Config
from repwatch.vectors import _Text, encode, encode_pending, near_duplicates
from storage.models import Mention, MentionVector
from tests.alerts.conftest import T0

REFUND = "快送外卖退款一周了还没到账，订单{}"
CHARGER = "快送外卖送来的充电器用了三天就坏了"


@pytest.fixture
def encoded(monkeypatch):
    """The texts the real encoder is given, in order."""
    from sentiment import encoder

    seen: list[str] = []
    real = encoder.embed

    def counting(texts):
        seen.extend(texts)
        return real(texts)

    monkeypatch.setattr(encoder, "embed", counting)
    return seen


def stored(db) -> dict[int, bytes]:
    with db.session() as s:
        return dict(s.execute(select(MentionVector.mention_id, MentionVector.vector)).all())


def test_a_post_that_differs_only_in_its_order_number_takes_the_first_ones_vector(db, seed, encoded):
    a = seed.mention(REFUND.format("1024"), at=T0)
    b = seed.mention(REFUND.format("88817"), at=T0 + timedelta(minutes=1))
    c = seed.mention(CHARGER, at=T0 + timedelta(minutes=2))
    assert encode_pending(db, Config()) == 3
    assert len(encoded) == 2   # a and c; b is a's text once numbers are folded
    raw = stored(db)
    assert raw[a] == raw[b] and raw[a] != raw[c]
    encoded.clear()
    encode(db, [b], share=None)   # without sharing, each is encoded (the row exists: nothing is written)
    assert len(encoded) == 1 and stored(db)[b] == raw[a]


def test_posts_that_share_their_only_word_are_not_near_duplicates():
    rows = [_Text(1, "退款太慢了，等了好久", "快送外卖", None), _Text(2, "退款很快，一天就到了", "快送外卖", None)]
    assert near_duplicates(rows, 0.8) == {}


def test_near_duplicates_need_the_same_target():
    rows = [_Text(1, "退款一周了还没到账", "快送外卖", None), _Text(2, "退款一周了还没到账", "优选商城", None)]
    assert near_duplicates(rows, 0.8) == {}
    rows[1].target = "快送外卖"
    assert near_duplicates(rows, 0.8) == {2: 1}


def test_a_near_duplicate_in_other_punctuation_and_a_small_edit_takes_the_vector():
    rows = [_Text(1, "快送外卖的骑手态度恶劣，送餐晚了一个小时还骂人，太过分了", "快送外卖", None),
            _Text(2, "快送外卖骑手态度恶劣!!送餐晚了一个小时还骂人 太过分了", "快送外卖", None)]
    assert near_duplicates(rows, 0.8) == {2: 1}


def test_a_repost_of_a_post_encoded_in_an_earlier_pass_copies_its_vector(db, seed, encoded):
    original = seed.mention(REFUND.format("1"), at=T0)
    assert encode_pending(db, Config()) == 1
    repost = seed.mention(REFUND.format("1"), at=T0 + timedelta(hours=1), source="feed-b")
    moved = seed.mention(REFUND.format("2"), at=T0 + timedelta(hours=1), source="feed-b", targets=("优选商城",))
    with db.session() as s:
        s.execute(update(Mention).where(Mention.id.in_([repost, moved])).values(duplicate_of_id=original))
    encoded.clear()
    assert encode_pending(db, Config()) == 2
    assert len(encoded) == 1   # the one about another target: its text without that target's name differs
    raw = stored(db)
    assert raw[repost] == raw[original]
    assert float(from_bytes(raw[moved]) @ from_bytes(raw[original])) < 0.999


def test_the_shared_vector_groups_as_its_own_would(db, seed):
    """Sharing must not change the grouping: the posts join one incident, the other complaint its own."""
    from alerts.settings import AlertSettings
    from alerts.stage import evaluate
    from storage.context import RunContext
    from storage.models import IncidentMention

    ids = [seed.mention(REFUND.format(n), at=T0 + timedelta(minutes=n)) for n in range(4)]
    other = seed.mention(CHARGER, at=T0 + timedelta(minutes=5))
    assert encode_pending(db, Config()) == 5
    with db.session() as s:
        evaluate(s, AlertSettings(), RunContext(T0 + timedelta(minutes=10)))
    with db.session() as s:
        of = dict(s.execute(select(IncidentMention.mention_id, IncidentMention.incident_id)).all())
    assert len({of[i] for i in ids}) == 1 and of[other] != of[ids[0]]
    vec = from_bytes(stored(db)[ids[0]])
    assert vec is not None and np.isclose(float(np.linalg.norm(vec)), 1.0, atol=1e-2)
    assert vectors.DUPLICATE == AlertSettings().incidents.duplicate
