"""Word lists and rules from data files: matching, negation, extension by a team, clear errors."""
from __future__ import annotations

import pytest

from sentiment import Analyzer, TextIn
from sentiment.evidence import find_evidence
from sentiment.grading import load_rules
from sentiment.lexicon import load_lexicon
from sentiment.matcher import Negation, compile_words, first
from sentiment.normalize import normalize
from sentiment.settings import AnalysisSettings


def kinds(text: str) -> set[str]:
    return find_evidence(normalize(text).text, load_lexicon()).kinds()


@pytest.mark.parametrize("text, present, absent", [
    ("又快又好，第三次回购了", set(), {"repeat"}),               # praise, not a repeat failure
    ("又坏了，这是第三次修了", {"repeat", "product"}, set()),
    ("一直没修好，反复出问题", {"repeat"}, set()),
    ("快一个月了还没处理", {"long_wait"}, set()),
    ("一个月前买的，很好用", set(), {"long_wait"}),
    ("质量没问题，做工也不差", set(), {"product"}),             # negation cancels the cue
    ("还没退款", {"after_sales"}, set()),                    # ...but not for after-sales topics
    ("不是第一次了", {"repeat"}, set()),
    ("不会再在这儿订第二次了", set(), {"repeat"}),              # a customer leaving, not a failure repeating
    ("不是第一次在京东买水果了", set(), {"repeat"}),            # a loyal customer
    ("不是第一次送错了", {"repeat", "delivery"}, set()),
    ("大家别买，避雷", {"warning"}, set()),
    ("已经打了12315，也找了消协", {"regulator"}, set()),
    ("I want a refund, it is broken", {"after_sales", "product"}, set()),
    ("It is not broken at all", set(), {"product"}),
    ("I love chocolate", set(), {"delivery"}),                 # "late" only as a word
    ("my phone broke again", {"repeat"}, set()),
    ("would buy again", set(), {"repeat"}),
])
def test_cues(text, present, absent):
    found = kinds(text)
    assert present <= found
    assert not (absent & found)


def test_traditional_characters_match_the_simplified_lists():
    assert "product" in kinds("這個質量太差了，用兩天就壞了")


def test_regex_entries_and_longest_match_first():
    pattern = compile_words(["中毒", "食物中毒", "re:第[二三]次"])
    assert first(pattern, "全家食物中毒") == "食物中毒"
    assert first(pattern, "第三次") == "第三次"
    negation = Negation.from_words(["不", "not"])
    assert first(compile_words(["好"]), "不太好", negation) is None
    assert first(compile_words(["broken"]), "it is not really broken", negation) is None


def test_a_team_extends_the_lists(tmp_path):
    extra = tmp_path / "ours.yaml"
    extra.write_text("categories:\n  product: [电量虚标]\nsignals:\n  media: [小红书曝光]\ncompany: [我们的APP]\n",
                     encoding="utf-8")
    analyzer = Analyzer(AnalysisSettings(lexicon=extra, workers=1, snownlp=False))
    r = analyzer.score([TextIn("我们的APP 电量虚标，太坑了，准备去小红书曝光")])[0]
    assert "product:电量虚标" in r.signals and "media:小红书曝光" in r.signals
    assert r.complaint and r.severity == "urgent"


@pytest.mark.parametrize("body, message", [
    ("categories:\n  produkt: [x]\n", "unknown categories"),
    ("signals:\n  gossip: [x]\n", "unknown signals"),
    ("words: [x]\n", "unknown sections"),
    ("negations: [no]\n", "quote it"),
    ("affect:\n  happy: [x]\n", "expected positive, negative"),
    ("voice:\n  third_person: [x]\n", "expected first_person, report"),
])
def test_bad_lexicon_files_say_what_is_wrong(tmp_path, body, message):
    extra = tmp_path / "bad.yaml"
    extra.write_text(body, encoding="utf-8")
    with pytest.raises(ValueError, match=message):
        load_lexicon(extra)


def test_severity_rules_can_be_overridden(tmp_path):
    rules = tmp_path / "rules.yaml"
    rules.write_text("important:\n  followers_at_least: 100\n", encoding="utf-8")
    analyzer = Analyzer(AnalysisSettings(rules=rules, workers=1, snownlp=False))
    r = analyzer.score([TextIn("这家店菜太难吃了", followers=500)])[0]
    assert r.severity == "important"
    assert load_rules()["important.followers_at_least"] == 10_000   # the built-in value is untouched
    bad = tmp_path / "bad.yaml"
    bad.write_text("importent:\n  followers_at_least: 1\n", encoding="utf-8")
    with pytest.raises(ValueError, match="unknown key 'importent'"):
        load_rules(bad)


def test_weibo_emoticons_and_negated_praise_move_the_score(analyzer):
    plain, angry, happy = analyzer.score([TextIn("今天去了那家店"), TextIn("今天去了那家店[怒][怒]"),
                                          TextIn("今天去了那家店[哈哈]")])
    assert angry.sentiment < plain.sentiment < happy.sentiment
    good, not_good = analyzer.score([TextIn("很开心"), TextIn("不开心")])
    assert good.sentiment > 0.5 > not_good.sentiment


def test_star_ratings_count(analyzer):
    one, five = analyzer.score([TextIn("收到了", rating=1), TextIn("收到了", rating=5)])
    assert one.sentiment < 0.5 < five.sentiment
    assert "rating:1" in one.signals
