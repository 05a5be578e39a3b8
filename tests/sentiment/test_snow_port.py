"""The SnowNLP port (sentiment/snow_port.py) gives SnowNLP 0.12.3's own scores, bit for bit: the same floats
as `snownlp.sentiment.classify` and the same words as `snownlp.seg.seg`, on real texts from the shared
corpora and on hostile text. Nothing here is timed (bench/snownlp_port.py measures the speed)."""
from __future__ import annotations

import csv
import random
import struct
from pathlib import Path

import pytest

from sentiment import snow_port
from sentiment.corpora import default_data_dir
from sentiment.snow import snownlp_score

DATA = default_data_dir()
PER_FILE = 75


def _bits(x: float) -> bytes:
    return struct.pack("<d", x)


def real_texts(per_file: int = PER_FILE, seed: int = 18) -> list[str]:
    """per_file texts from each of the four Chinese corpora, drawn with a fixed seed."""
    if not DATA.is_dir():
        pytest.skip(f"the shared corpora are not at {DATA}")
    out = []
    for name, column, delimiter in (("waimai_10k.csv", "review", ","), ("online_shopping_9_cats.csv", "review", ","),
                                    ("weibo_senti_2k.csv", "review", ","), ("smp2020_usual_dev.tsv", "text_a", "\t")):
        with open(DATA / name, encoding="utf-8", newline="") as f:
            texts = [row[column] for row in csv.DictReader(f, delimiter=delimiter) if row.get(column)]
        out += random.Random(f"{seed}:{name}").sample(texts, per_file)
    return out


HOSTILE = [
    "", " ", "\t\n\r\x0b\x0c", "\u3000\u3000", "\u2028\u2029\x1c\x1d\x1e\x1f\x85",
    "😀", "😀😡🤬👍", "😀 好吃 😀", "🀄中🀄",
    "\ud800", "\udfff中文\ud800", "好\ud83d评",                       # lone surrogates
    "\x00", "\x00好\x00吃\x00", "\x01\x02\x7f\x1b[31m差评\x1b[0m", "差\u200b评\u200d\ufeff",
    "的", "了", "，。！？", "一", "\u4e00", "\u9fa5", "\u9fa6\u4dff\u3400",   # the edges of SnowNLP's range
    "쓰레기 같은 제품 太差了", "ひどい商品です，太差了", "Это ужасно 太差", "منتج سيئ 很差", "שירות גרוע 差",
    "ｆｕｌｌｗｉｄｔｈ　ＡＢＣ　１２３ 全角", "服務太差了，退貨！", "这个手机太好用了",
    "差" * 50, "好差" * 40, "不" * 300, "a" * 1000, "的的的的的", "垃圾，垃圾，垃圾！",
    "价格 ¥99.00 / 件, 5星 ★★★★★ 强烈推荐!!!", "http://example.com/中文?a=1&b=二 #标签# @用户",
    "\n".join(["第一行很好", "第二行很差", "", "第四行一般"]),
]


@pytest.fixture(scope="module")
def snow():
    from snownlp import seg, sentiment   # the real thing: ~3 s and ~400 MiB, once for the module

    return sentiment.classify, seg.seg


@pytest.fixture(scope="module")
def port() -> snow_port.SnowSentiment:
    return snow_port.model()


def _same(port, snow, texts):
    classify, seg = snow
    for text in texts:
        assert port.words(text) == seg(text), repr(text[:80])
        expected, got = classify(text), port.classify(text)
        assert type(got) is type(expected) and _bits(got) == _bits(expected), (repr(text[:80]), expected, got)


def test_identical_scores_on_real_texts(port, snow):
    texts = real_texts()
    assert len(texts) == 4 * PER_FILE          # 300 real texts
    _same(port, snow, texts)


def test_identical_scores_on_hostile_text(port, snow):
    _same(port, snow, HOSTILE)


def test_identical_when_the_memo_is_cold_or_warm(port, snow):
    texts = real_texts(15, seed=7)
    port._memo.clear()
    port._word_memo.clear()
    _same(port, snow, texts)
    _same(port, snow, list(reversed(texts)))        # every table now from the memo


def test_identical_when_the_memo_overflows(port, snow, monkeypatch):
    monkeypatch.setattr(snow_port, "MEMO_LIMIT", 50)
    monkeypatch.setattr(snow_port, "WORD_MEMO_LIMIT", 20)
    _same(port, snow, real_texts(10, seed=8))
    assert len(port._memo) < 50 + 400


def test_long_text_matches_snownlp(port, snow):
    """Thousands of words: SnowNLP's exp() overflows for the losing class (its OverflowError branch), and
    long runs exercise the back-pointer read-back; a 1,500-character run without punctuation too."""
    texts = real_texts(60, seed=9)
    long_mixed = "，".join(texts)[:10_000]
    long_run = "".join(ch for ch in "".join(texts) if "\u4e00" <= ch <= "\u9fa5")[:1_500]
    _same(port, snow, [long_mixed, long_run, "a " * 20_000 + "太差了"])


def test_100k_characters(port):
    """100,000 characters in one run (SnowNLP's path copying makes this quadratic for it; not compared)."""
    rng = random.Random(100)
    text = "".join(rng.choice("好差的了是不太我们服务质量退货垃圾满意推荐快递") for _ in range(100_000))
    words = port.words(text)
    assert "".join(words) == text
    score = port.classify(text)
    assert 0.0 <= score <= 1.0
    assert port.classify(text) == score


def test_snownlp_score_uses_the_port_and_keeps_its_contract(snow):
    classify, _ = snow
    assert snownlp_score("") is None and snownlp_score("   \n\t") is None
    for text in ("这个手机太好用了", "服务太差了，再也不来了", "😀", "abc", "\x00"):
        assert _bits(snownlp_score(text)) == _bits(float(classify(text)))


def _tiny_model(tmp_path: Path) -> Path:
    """A small segmenter trained by SnowNLP's own code and saved in its format."""
    from snownlp.seg.y09_2047 import CharacterBasedGenerativeModel

    rng = random.Random(5)
    chars = "我们你他好差的了是不太服务质量退货"
    data = []
    for _ in range(300):
        sent = []
        for _ in range(rng.randint(1, 8)):
            word = "".join(rng.choice(chars) for _ in range(rng.randint(1, 4)))
            tags = "s" if len(word) == 1 else "b" + "m" * (len(word) - 2) + "e"
            sent += list(zip(word, tags))
        data.append(sent)
    model = CharacterBasedGenerativeModel()
    model.train(data)
    model.save(str(tmp_path / "tiny.marshal"))
    return tmp_path / "tiny.marshal.3"


def test_another_model_converts_exactly_and_caches(tmp_path, snow):
    """Train a small segmenter with SnowNLP's own code: the port reads it, tags as SnowNLP does (unknown
    characters included), writes its cache, reads it back, and survives a corrupt cache file."""
    from snownlp.seg.seg import Seg

    path = _tiny_model(tmp_path)
    theirs = Seg()
    theirs.load(str(path)[: -len(".3")])
    cache = tmp_path / "cache"
    rng = random.Random(6)
    alphabet = "我们你他好差的了是不太服务质量退货猫"          # 猫 is unknown to the tiny model
    texts = ["".join(rng.choice(alphabet) for _ in range(rng.randint(1, 30))) for _ in range(150)]
    expected = [list(theirs.seg(text)) for text in texts]
    first = snow_port.SegModel.load(path, cache=cache)
    files = list(cache.iterdir())
    assert len(files) == 1
    second = snow_port.SegModel.load(path, cache=cache)          # from the cache
    files[0].write_bytes(b"not an npz")
    third = snow_port.SegModel.load(path, cache=cache)           # rebuilt
    none = snow_port.SegModel.load(path, cache=False)
    for seg in (first, second, third, none):
        port = snow_port.SnowSentiment(seg=seg)
        assert [port.words(text) for text in texts] == expected
