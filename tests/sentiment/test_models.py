"""The shipped models load from the package; the training code works (on a tiny sample, never the full run)."""
from __future__ import annotations

import csv
import json
import re
from importlib import resources

import pytest

from sentiment import TextIn, english, zh_model
from sentiment.analyzer import model_version
from sentiment.corpora import ZH_CORPORA, load_en, load_zh, split_of
from sentiment.normalize import dedup_key, normalize
from sentiment.train import build


def test_models_ship_in_the_package_small_and_versioned(analyzer):
    models = resources.files("sentiment").joinpath("models")
    sizes = {p.name: len(p.read_bytes()) for p in models.iterdir() if p.is_file()}
    assert {"zh_sentiment.joblib", "en_vader.json"} <= set(sizes)
    assert sum(sizes.values()) < 15 * 1024 * 1024
    zh = zh_model.shipped()
    assert re.fullmatch(r"zh-charlr\.[0-9a-f]{8}", zh.version)
    assert re.fullmatch(r"en-vader\.[0-9a-f]{8}", english.shipped().version)
    assert len(model_version()) <= 60                        # Analysis.model_version is String(60)
    assert analyzer.score([TextIn("好")])[0].model_version == model_version()
    assert zh.meta["validation_auc"]["online_shopping_9_cats"] > 0.9


def _write_corpora(folder):
    """A tiny corpus set with the real files' layout: clear positives and negatives, and duplicates."""
    pos = ["很好吃，送得也快", "质量很好，非常满意", "物流很快，包装完好", "味道不错，还会再来", "性价比高，推荐购买",
           "客服态度很好", "东西很新鲜", "用起来很顺手", "非常喜欢，好评", "做工精致，值得购买"]
    neg = ["太难吃了，再也不点了", "质量太差，用两天就坏", "送餐太慢，饭都凉了", "客服态度恶劣", "价格太贵，不值",
           "包装破损，东西也坏了", "味道很差，量也少", "退货很麻烦，售后不理", "做工粗糙，差评", "等了两个小时才到"]
    rows = [(t + suffix, label) for suffix in ("", "！", "。。", "啊", "呀", "哦", "吧", "呢")
            for texts, label in ((pos, 1), (neg, 0)) for t in texts]
    with (folder / "waimai_10k.csv").open("w", encoding="utf-8", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(["label", "review"])
        w.writerows([(label, text) for text, label in rows] + [(1, "很好吃，送得也快")])   # a duplicate
    with (folder / "online_shopping_9_cats.csv").open("w", encoding="utf-8", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(["cat", "label", "review"])
        w.writerows([("书籍", label, text + "书") for text, label in rows])
    with (folder / "weibo_senti_2k.csv").open("w", encoding="utf-8", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(["label", "review"])
        w.writerows([(label, f"{text}[哈哈]" if label else f"{text}[怒]") for text, label in rows[:40]])
    (folder / "amazon_cells_labelled.txt").write_text(
        "\n".join(f"{t}\t{l}" for t, l in [("Great phone, love it", 1), ("Terrible, broke in a day", 0),
                                           ("Works well, highly recommend", 1), ("Awful sound, returned it", 0)] * 10),
        encoding="utf-8")


def test_tiny_training_run_writes_loadable_models(tmp_path):
    data, out = tmp_path / "data", tmp_path / "models"
    data.mkdir()
    _write_corpora(data)
    versions = build(data, out, c_grid=(1.0,), log=lambda m: None)
    model = zh_model.load(out / zh_model.ARTIFACT)
    assert model.version == versions["zh"]
    p_good, p_bad = model.log_odds([normalize("很好吃，非常满意").text, normalize("太难吃了，质量太差").text],
                                   [0, 0], [0, 0])
    assert p_good > p_bad
    en = english.load(out / english.ARTIFACT)
    assert en.version == versions["en"] and json.loads((out / english.ARTIFACT).read_text())["coef"]
    again = build(data, tmp_path / "again", c_grid=(1.0,), log=lambda m: None)
    assert again == versions                                   # reproducible: same data, same model


def test_corpora_dedup_and_fixed_splits(tmp_path):
    _write_corpora(tmp_path)
    examples = load_zh(tmp_path, ZH_CORPORA)
    keys = [dedup_key(e.text) for e in examples]
    assert len(keys) == len(set(keys))                         # no text twice, within or across files
    assert all(e.split == split_of(k) for e, k in zip(examples, keys))
    assert not any("[" in e.text for e in examples if e.corpus == "weibo_senti_2k")   # emoticons stripped
    assert {e.split for e in examples} == {"train", "validation", "test"}
    assert len(load_en(tmp_path)) == 4


def test_normalize():
    n = normalize("這個ＡＰＰ太差了[怒] @某人 https://t.cn/abc //@转发者: 同感")
    assert n.emoticons == ["怒"]
    assert "这个APP太差了" in n.text and "http" not in n.text and "@" not in n.text
    assert len(normalize("长" * 100_000).text) == 5000
    assert normalize(None).text == ""


def test_shipped_models_are_unpacked_once_into_the_cache(tmp_path, monkeypatch):
    import numpy as np

    from sentiment.artifacts import load_joblib

    monkeypatch.setenv("REPWATCH_CACHE_DIR", str(tmp_path / "cache"))
    first = load_joblib("zh_sentiment.joblib", (1, 2))
    copies = list((tmp_path / "cache" / "models").glob("zh_sentiment-*.joblib"))
    assert len(copies) == 1
    again = load_joblib("zh_sentiment.joblib", (1, 2))      # from the copy now
    assert again.keys() == first.keys() and again["meta"] == first["meta"]
    assert all(np.array_equal(again[k], v) for k, v in first.items() if isinstance(v, np.ndarray))
    copies[0].write_bytes(b"torn")                           # a damaged copy: the shipped file decides
    assert load_joblib("zh_sentiment.joblib", (1, 2))["meta"] == first["meta"]


def test_an_unwritable_cache_only_costs_the_unpacking(tmp_path, monkeypatch):
    from sentiment.artifacts import load_joblib

    blocked = tmp_path / "file"
    blocked.write_text("not a directory")
    monkeypatch.setenv("REPWATCH_CACHE_DIR", str(blocked))
    assert load_joblib("zh_sentiment.joblib", (1, 2))["format"] in (1, 2)
