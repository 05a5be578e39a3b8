"""Grouping by meaning (alerts/incidents/grouping.py) and its offline contract, `repwatch group`."""
from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone

from click.testing import CliRunner

from alerts.incidents.grouping import GroupSettings, GroupState, Grouper, label, tokens, vector
from repwatch.cli import cli

T = datetime(2026, 11, 20, 8, tzinfo=timezone.utc)
WRONG_ADDRESS = "快送外卖的骑手把我的外卖送错了地址，打电话也不接，等了两个小时饭都凉了"
WRONG_ADDRESS_REWORDED = "在快送外卖点的餐被送到了错误的地址，骑手电话打不通，饭到手早就凉透了"
WRONG_ADDRESS_REPOST = "转发：快送外卖的骑手把我的外卖送错了地址!!打电话也不接，等了两个小时饭都凉了 http://t.cn/x"
REFUND = "快送外卖退款申请提交一周了还没到账，客服一直说在处理"
REFUND_REWORDED = "退款一个星期都没有到账，快送外卖的客服只会说正在处理"
HAIR = "星巴克国贸店的拿铁里有一根头发，店员还不承认"
HAIR_REWORDED = "今天在国贸星巴克买的拿铁喝出头发，太恶心了"


def place(g: Grouper, texts, target="快送外卖", when=T):
    return [g.group(t, target=target, when=when)[0] for t in texts]


def test_the_same_issue_in_other_words_joins_and_other_issues_do_not():
    g = Grouper()
    ids = place(g, [WRONG_ADDRESS, REFUND, WRONG_ADDRESS_REWORDED, REFUND_REWORDED, WRONG_ADDRESS_REPOST])
    assert ids[2] == ids[0] and ids[3] == ids[1] and ids[4] == ids[0]
    assert ids[0] != ids[1]
    hair = place(g, [HAIR, HAIR_REWORDED], target="星巴克")
    assert hair[0] == hair[1] and hair[0] not in ids


def test_target_category_and_window_separate_incidents():
    g = Grouper(GroupSettings(window=timedelta(days=7), dup_window=timedelta(days=30)))
    first, _ = g.group(WRONG_ADDRESS, target="快送外卖", category="delivery", when=T)
    assert g.group(WRONG_ADDRESS_REWORDED, target="优选商城", category="delivery", when=T)[0] != first
    assert g.group(WRONG_ADDRESS_REWORDED, target="快送外卖", category="price", when=T)[0] != first
    # ten quiet days later: other words start a new incident, a repost still joins
    later = T + timedelta(days=10)
    assert g.group(WRONG_ADDRESS_REWORDED, target="快送外卖", category="delivery", when=later)[0] != first
    g2 = Grouper(GroupSettings(window=timedelta(days=7), dup_window=timedelta(days=30)))
    first, _ = g2.group(WRONG_ADDRESS, target="快送外卖", when=T)
    joined, m = g2.group(WRONG_ADDRESS_REPOST, target="快送外卖", when=later)
    assert joined == first and m.duplicate
    assert g2.group(WRONG_ADDRESS_REPOST, target="快送外卖", when=T + timedelta(days=70))[0] != first


def test_state_round_trips_through_json_so_a_restart_matches_the_same():
    g = Grouper()
    first, _ = g.group(WRONG_ADDRESS, target="快送外卖", when=T)
    stored = json.loads(json.dumps(g.states[first].to_json()))
    restarted = Grouper()
    restarted.add_state(GroupState.from_json(first, "快送外卖", None, T, stored))
    assert restarted.group(WRONG_ADDRESS_REWORDED, target="快送外卖", when=T)[0] == first


def test_vectors_leave_out_function_words_and_the_target_name_and_labels_name_the_issue():
    assert "的" not in tokens(WRONG_ADDRESS) and "骑手" in tokens(WRONG_ADDRESS)
    vec = vector(WRONG_ADDRESS, drop=("快送外卖",))
    assert "外卖" not in vec and abs(sum(v * v for v in vec.values()) - 1) < 1e-9
    assert vector("") == {} and vector("！！！😡") == {}
    assert label({"拉肚子": 3.0, "三明治": 2.0, "门店": 1.0, "今天": 0.1}) == "拉肚子 · 三明治 · 门店"


def test_candidates_come_from_the_index_not_a_scan():
    g = Grouper()
    for i in range(200):
        g.absorb(i + 1, {f"词{i}": 1.0}, None, None, T)
    assert g.postings[(None, "词7")] == {8: 1.0}
    assert g.match({"词7": 1.0}, None, None, T).id == 8
    assert g.match({"词7": 1.0}, "快送外卖", None, T).id is None   # the index is per target
    g.drop(8)
    assert (None, "词7") not in g.postings and 8 not in g.states
    assert g.expire(T + timedelta(days=400)) == 199 and not g.postings


def test_min_shared_counts_the_terms_in_common_from_the_same_pass():
    g = Grouper(GroupSettings(min_shared=2, meaning=2.0, cover=0.0))
    g.absorb(1, {"骑手": 0.6, "地址": 0.6, "凉了": 0.529}, None, None, T)
    one = {"骑手": 0.8, "退款": 0.6}   # cosine 0.48 with the incident, on one shared term
    two = {"骑手": 0.6, "地址": 0.6, "退款": 0.529}
    assert g.match(one, None, None, T).id is None
    assert g.match(two, None, None, T).id == 1
    g1 = Grouper(GroupSettings(min_shared=1, meaning=2.0, cover=0.0))
    g1.absorb(1, {"骑手": 0.6, "地址": 0.6, "凉了": 0.529}, None, None, T)
    assert g1.match(one, None, None, T).id == 1


def invoke(*args, input=None):
    return CliRunner().invoke(cli, ["-c", "/nonexistent/schedules.yaml", *args], input=input, catch_exceptions=False)


def test_group_command_writes_one_object_per_line_in_order():
    posts = [
        {"id": "a", "text": WRONG_ADDRESS, "published_at": "2026-11-20T08:00:00+08:00", "target": "快送外卖"},
        {"id": "b", "text": REFUND, "target": "快送外卖"},
        {"id": 3, "text": WRONG_ADDRESS_REWORDED, "published_at": "2026-11-20T09:00:00Z", "target": "快送外卖"},
        "not json",
        {"text": "no id"},
        {"id": "d", "text": REFUND_REWORDED, "target": "快送外卖"},
        {"id": "e", "text": WRONG_ADDRESS_REWORDED, "target": "优选商城"},
    ]
    text = "\n".join(p if isinstance(p, str) else json.dumps(p, ensure_ascii=False) for p in posts) + "\n"
    result = invoke("group", "-", input=text)
    assert result.exit_code == 0, result.output
    out = [json.loads(line) for line in result.stdout.splitlines()]
    assert out == [{"id": "a", "incident": "a"}, {"id": "b", "incident": "b"}, {"id": 3, "incident": "a"},
                   {"id": None, "incident": None}, {"id": None, "incident": None},
                   {"id": "d", "incident": "b"}, {"id": "e", "incident": "e"}]
    assert "line 4" in result.stderr and "line 5" in result.stderr
    # a prefix of the file gives the same answers for its lines
    prefix = invoke("group", "-", input="\n".join(text.splitlines()[:3]) + "\n")
    assert [json.loads(x) for x in prefix.stdout.splitlines()] == out[:3]
    # a stricter threshold on words separates the rewording (without sentence vectors, which join it)
    strict = invoke("group", "-", "--no-encoder", "--set", "threshold=0.95", "--set", "cover=0", input=text)
    assert json.loads(strict.stdout.splitlines()[2])["incident"] == 3
    assert invoke("group", "-", "--set", "threshold=2", input=text).exit_code == 2


def test_a_topic_tag_joins_posts_that_share_no_other_word():
    """Many people on one hot topic: each says something else, the tag is what they share."""
    from alerts.incidents.grouping import hashtags

    assert hashtags("#成雅高速拥堵# 堵了三个小时 #tag") == ["#成雅高速拥堵", "#tag"]
    g = Grouper()
    a = g.group("#成雅高速拥堵# 堵了整整三个小时，孩子在车上哭", when=T)[0]
    b = g.group("国庆出门的朋友注意绕行 #成雅高速拥堵#", when=T)[0]
    c = g.group("国庆出门的朋友注意安全，孩子在车上记得系安全带", when=T)[0]   # no tag: its own words decide
    assert a == b and c != a
    # without the tag the two posts have no word in common and stay apart
    g = Grouper()
    a = g.group("堵了整整三个小时，孩子在车上哭", when=T, tags=False)[0]
    assert g.group("国庆出门的朋友注意绕行", when=T, tags=False)[0] != a


def test_emoticons_links_and_platform_words_join_nothing():
    """Weibo's [嘻嘻] and a truncated 'http:' say nothing about which issue; 京东 and 外卖 are in every
    other review, so the social-post counts lower their IDF below jieba's news-based table."""
    import jieba.analyse

    from alerts.incidents.grouping import term_idf

    assert vector("[嘻嘻][威武] 详情:http:") == {}
    g = Grouper()
    a = g.group("还是这样的键盘更给力，任你玩转[嘻嘻]", when=T)[0]
    assert g.group("又是杭州的福利 [嘻嘻] http:", when=T)[0] != a
    news = jieba.analyse.TFIDF().idf_freq
    for word in ("京东", "外卖"):
        assert term_idf(word) < news[word] - 1
    assert term_idf("拉肚子") > 8 and term_idf("保价") > 8   # rare in reviews too: still anchors (anchor_idf 8)


def test_anchored_coverage_joins_a_post_on_a_rare_word_the_incident_holds():
    """A post about the same store in other words (国贸, the rare word, and 店员/保安 the incident already
    holds) joins with anchored coverage, though its cosine with the centroid is below the threshold;
    with coverage off it starts its own incident."""
    posts = ["星巴克国贸店的拿铁里有一根头发，店员还不承认，经理出来说是顾客自己的，最后也没有退款，还被保安请出门",
             "国贸星巴克店长态度恶劣，拒绝赔偿，保安推搡顾客，视频已经发到网上",
             "昨天国贸那家店的事情看了视频，经理和保安太过分了，支持维权"]
    on, off = Grouper(GroupSettings(cover=0.2, lead=False)), Grouper(GroupSettings(cover=0.0, lead=False))
    assert [on.group(p, target="星巴克", when=T)[0] for p in posts] == [1, 1, 1]
    assert [off.group(p, target="星巴克", when=T)[0] for p in posts] == [1, 2, 1]
