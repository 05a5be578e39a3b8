"""The hand-written posts: complaint or not, categories, signals and severity, each as its file expects."""
from __future__ import annotations

import pytest

from tests.sentiment.conftest import as_text_in, load_posts

POSTS = load_posts("posts.yaml")
HOLDOUT = load_posts("posts_holdout.yaml")
# sarcasm the word lists cannot see through ("真是太快了 ... 三个小时"): a known miss, kept visible
KNOWN_MISSES = {"真是太快了，下单到送到只用了三个小时，谢谢你啊骑手"}
# where the learned models (issue 15) disagree with what the word-list rules were written to give: kept visible
MODEL_MISSES = {
    "Customer service was rude and unhelpful when I called about my order.":
        "the severity model (X-CI scale) reads an accusation of rudeness as 3+, so important, not general",
}


def test_the_fixture_set_is_big_and_mixed():
    kinds = {p["kind"] for p in POSTS}
    assert len(POSTS) >= 60
    assert {"news", "grief", "joke", "sarcasm", "praise", "neutral", "complaint", "english"} <= kinds
    assert sum(not p["complaint"] for p in POSTS) >= 25


@pytest.mark.parametrize("post", POSTS, ids=[f"{i:02d}-{p['kind']}" for i, p in enumerate(POSTS)])
def test_post(analyzer, post):
    if post["text"] in KNOWN_MISSES:
        pytest.xfail("known miss: sarcasm without a complaint cue")
    if post["text"] in MODEL_MISSES:
        pytest.xfail(MODEL_MISSES[post["text"]])
    r = analyzer.score([as_text_in(post)])[0]
    fired = {s.split(":", 1)[0] for s in r.signals}
    assert r.complaint is post["complaint"], (r.sentiment, r.signals)
    assert r.severity == post["severity"], r.signals
    assert set(post.get("categories", [])) <= set(r.categories), r.signals
    assert set(post.get("signals", [])) <= fired
    if not r.complaint:
        assert r.categories == []


def _rates(posts, results):
    non = [r for p, r in zip(posts, results) if not p["complaint"]]
    com = [r for p, r in zip(posts, results) if p["complaint"]]
    return sum(r.complaint for r in non) / len(non), sum(r.complaint for r in com) / len(com)


def test_holdout_posts_meet_the_false_positive_target(analyzer):
    """Posts never used to tune the word lists: non-complaints flagged as complaints must stay ≤ 15%."""
    results = analyzer.score([as_text_in(p) for p in HOLDOUT])
    false_positive_rate, recall = _rates(HOLDOUT, results)
    assert false_positive_rate <= 0.15
    assert recall >= 0.8


def test_safety_words_are_urgent_only_about_a_product(analyzer):
    baby = analyzer.score_one(as_text_in({"text": "宝宝拉肚子了，好担心[泪]"}))
    food = analyzer.score_one(as_text_in({"text": "吃了这家外卖以后宝宝拉肚子了"}))
    assert (baby.complaint, baby.severity) == (False, "none")
    assert (food.complaint, food.severity) == (True, "urgent")
    assert "safety:拉肚子" in food.signals


def test_a_baby_called_baobei_is_not_a_product(analyzer):
    """宝贝 is Taobao's word for an item and a parent's word for a baby (found in the demo's Weibo posts)."""
    r = analyzer.score_one(as_text_in({"text": "[悲伤] 我的宝贝老是拉肚子，思密达，妈咪爱都吃过"}))
    assert (r.complaint, r.severity) == (False, "none")


def test_exclamation_runs_count_once_for_intensity(analyzer):
    shouty = analyzer.score_one(as_text_in({"text": "私自就把豆腐脑换成炸蘑菇了！！！送餐非常慢！！！！"}))
    angry = analyzer.score_one(as_text_in({"text": "气死了！！！这家店送餐太慢，太垃圾了"}))
    assert [s for s in shouty.signals if s.startswith("intensity:")] == ["intensity:!!!"]
    assert shouty.severity == "general"
    assert angry.severity == "important"


def test_reach_raises_severity(analyzer):
    text = "这家店的菜太难吃了，服务员态度也很差"
    grades = [analyzer.score_one(as_text_in({"text": text, "followers": f})).severity for f in (None, 50_000, 2_000_000)]
    assert grades == ["general", "important", "urgent"]
