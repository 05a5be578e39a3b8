"""The learned complaint, category and severity models (issue 15): the behaviour the issue names, the contract
on hostile text, and training (reproducible, with extra weighted examples) on a tiny corpus."""
from __future__ import annotations

import json
import re

import pytest

from sentiment import TextIn, complaint_model
from sentiment.complaint_train import Extra, as_labelled
from sentiment.evidence import Evidence
from sentiment.grading import judge, load_rules
from sentiment.lexicon import CATEGORIES
from sentiment.train import build
from tests.sentiment.test_models import _write_corpora


def one(analyzer, text, **kw):
    return analyzer.score_one(TextIn(text, **kw))


def test_heater_fire_with_lawyer_and_regulator_is_an_urgent_complaint(analyzer):
    r = one(analyzer, "The heater caught fire after two days. I contacted my lawyer and reported it to the "
                      "consumer protection agency.")
    assert (r.complaint, r.severity) == (True, "urgent")
    assert {"safety", "legal", "regulator"} <= {s.split(":", 1)[0] for s in r.signals}
    assert r.categories and set(r.confidence) == set(r.categories)


@pytest.mark.parametrize("text", [
    "市场监管总局发布2023年全国12315平台受理投诉举报情况，全年共受理投诉1000万件。",
    # a known miss of the n-gram tier (VADER reads "complaints" as negative); the encoder tier reads it as news
    "12315 annual report: consumer complaints handled last year rose 8% nationwide, the market regulator said.",
])
def test_news_about_12315_is_not_a_complaint(analyzer, text):
    r = one(analyzer, text)
    assert (r.complaint, r.severity, r.categories) == (False, "none", [])


@pytest.mark.parametrize("text", [
    "律师提醒：遇到消费纠纷，消费者可以拨打12315热线，保留好购物凭证。",
    pytest.param("A lawyer's tip: keep your receipts, because under consumer-rights law you can return faulty goods "
                 "within 7 days.", marks=pytest.mark.xfail(
                     reason="known miss: advice that names faulty goods reads like a complaint to the n-gram "
                            "model (no advice texts among the English non-complaints)", strict=True)),
])
def test_a_lawyers_general_advice_is_not_a_complaint(analyzer, text):
    r = one(analyzer, text)
    assert (r.complaint, r.severity) == (False, "none")


@pytest.mark.parametrize("text", [
    "律师提醒：网购遇到质量问题，可以先和商家协商，协商不成可拨打12315投诉",
    "The FTC received 2.6 million fraud reports last year, up 20% from the year before.",
    "某品牌汽车刹车失灵致人受伤，市场监管总局已约谈该企业",
])
def test_a_report_or_advice_is_never_urgent_nor_lifted_by_its_signal_words(analyzer, text):
    """DOMAIN.md: safety, legal, regulator and media raise a post only when it is itself a complaint. These
    report or advise in nobody's own voice; whatever the model makes of them, their signal words grade nothing."""
    r = one(analyzer, text)
    assert r.severity in ("none", "general")
    if r.complaint:
        assert any(s.startswith("reported:") for s in r.signals)


def test_the_writers_own_voice_keeps_its_signals_even_beside_a_report_word(analyzer):
    r = one(analyzer, "我家的热水器漏电，差点电到孩子，今年以来已经是第三次了，已经投诉到12315了")
    assert (r.complaint, r.severity) == (True, "urgent")
    assert not any(s.startswith("reported:") for s in r.signals)


def test_reported_escalates_can_be_turned_back_on(tmp_path):
    rules = tmp_path / "rules.yaml"
    rules.write_text("complaint:\n  reported_escalates: true\n", encoding="utf-8")
    ev = Evidence(categories=["product"], signals=["product:faulty", "regulator:ftc"], reported="last year")
    grade = lambda r: judge(ev, sentiment=0.1, negative=True, folded_text="", rules=r, complaint=True)  # noqa: E731
    assert grade(load_rules()).severity == "general" and "reported:last year" in grade(load_rules()).signals
    assert grade(load_rules(rules)).severity == "urgent"   # what the issue saw before the rule


def test_cold_noisy_room_is_a_complaint_about_product_or_service(analyzer):
    r = one(analyzer, "房间很冷且不隔音，服务一般，卫生间很小")
    assert r.complaint
    assert {"product", "service"} & set(r.categories)


def test_slow_delivery_goes_to_delivery(analyzer):
    r = one(analyzer, "送餐速度太慢")
    assert r.complaint and r.categories[0] == "delivery"


def test_hair_in_a_latte_is_about_the_product(analyzer):
    r = one(analyzer, "拿铁里有一根头发")
    assert r.complaint and r.categories[0] == "product"


def test_expired_sandwich_with_diarrhoea_is_an_urgent_product_complaint(analyzer):
    r = one(analyzer, "买的三明治过期了，吃完拉肚子")
    assert r.complaint and "product" in r.categories
    assert r.severity == "urgent" and "safety:拉肚子" in r.signals


@pytest.mark.parametrize("text", ["外婆去世了，好难过", "今天天气真好，和朋友去公园散步", "Just landed in Paris, so excited!"])
def test_life_and_feelings_are_not_complaints(analyzer, text):
    r = one(analyzer, text)
    assert not r.complaint and r.complaint_score < 0.5


def test_every_complaint_has_a_category_with_a_confidence(analyzer):
    texts = ["这家店太坑了", "快递又丢件了，等了一个星期还没到", "The battery died after two days, want a refund",
             "手机用了一周就黑屏", "客服态度恶劣", "价格太贵，不值"]
    for r in analyzer.score([TextIn(t) for t in texts]):
        assert r.complaint
        assert r.categories and set(r.confidence) == set(r.categories)
        assert all(c in CATEGORIES or c == "other" for c in r.categories)
        assert all(0 <= v <= 1 for v in r.confidence.values())


@pytest.mark.parametrize("text", ["", "   ", "x" * 200_000, "\x00\x01\xff" * 50, "🤡🤡🤡", "ಠ_ಠ", "1234567890",
                                  "好" * 30_000, "a"])
def test_hostile_text_keeps_the_contract(analyzer, text):
    r = one(analyzer, text)
    row = r.contract("id")
    assert row["complaint_score"] is None or 0 <= row["complaint_score"] <= 1
    assert isinstance(row["confidence"], dict)
    assert row["complaint"] is (row["severity"] != "none")
    json.dumps(row)


def test_threshold_comes_from_the_config(analyzer):
    from sentiment import Analyzer
    from sentiment.settings import AnalysisSettings

    strict = Analyzer(AnalysisSettings(workers=1, snownlp=False, complaint_threshold=1.0))
    r = strict.score_one(TextIn("送餐速度太慢，饭都凉了"))
    assert r.complaint_score < 1.0 and not r.complaint


def test_shipped_model_is_small_and_versioned():
    model = complaint_model.shipped()
    assert re.fullmatch(r"cmp-ngram\.[0-9a-f]{8}", model.version)
    assert model.weights.shape[1] == len(complaint_model.ComplaintModel.HEADS)


def test_extra_examples_are_validated():
    rows = as_labelled([Extra("送餐速度太慢", 1, ["delivery"], "important", 3.0),
                        {"text": "这个公众号推送太多了", "complaint": 0},
                        ("The fries were cold", 1, ["product"], 2, 5.0, "en")])
    assert [r.complaint for r in rows] == [1, 0, 1]
    assert rows[0].categories == ("delivery",) and rows[0].severity == 3.0 and rows[0].weight == 3.0
    assert rows[1].categories is None and rows[2].lang == "en"
    with pytest.raises(ValueError, match="unknown categories"):
        as_labelled([("x", 1, ["shipping"])])
    with pytest.raises(ValueError, match="complaint must be"):
        as_labelled([("x", 2)])


def test_training_with_extra_examples_is_reproducible_and_uses_them(tmp_path):
    data = tmp_path / "data"
    data.mkdir()
    _write_corpora(data)
    plain = build(data, tmp_path / "a", c_grid=(1.0,), log=lambda m: None)
    again = build(data, tmp_path / "b", c_grid=(1.0,), log=lambda m: None)
    assert plain == again                                      # same data, same models
    odd = "这个公众号每天推送三次广告"
    extra = [(odd, 1, ["communication"], "important", 50.0)]
    taught = build(data, tmp_path / "c", c_grid=(1.0,), extra=extra, log=lambda m: None)
    # a Chinese complaint teaches the complaint model and, as a negative text, the Chinese polarity model
    assert taught["complaint"] != plain["complaint"] and taught["zh"] != plain["zh"] and taught["en"] == plain["en"]
    assert taught["encoder"] != plain["encoder"]               # the corrected post was encoded and trained on too
    before = complaint_model.load(tmp_path / "a" / complaint_model.ARTIFACT)
    after = complaint_model.load(tmp_path / "c" / complaint_model.ARTIFACT)
    dense = [[0.0] * len(complaint_model.DENSE)]
    s0, s1 = before.score([odd], dense, ["zh"]), after.score([odd], dense, ["zh"])
    assert s1.complaint[0] > s0.complaint[0]
    comm = 1 + CATEGORIES.index("communication")
    assert s1.categories[0, comm - 1] > s0.categories[0, comm - 1]

