"""Language detection, English through calibrated VADER, other languages neutral."""
from __future__ import annotations

import pytest

from sentiment import Analyzer, TextIn
from sentiment.langdetect import detect_lang
from sentiment.settings import AnalysisSettings


@pytest.mark.parametrize("text, lang", [
    ("今天天气很好", "zh"),
    ("這個產品質量很好", "zh"),
    ("iPhone 屏幕碎了去 Apple Store 换，售后说不给换", "zh"),
    ("The charger stopped working after a week", "en"),
    ("A Disappointment.", "en"),                     # "a" is also Portuguese; one shared word is not enough
    ("O produto não funciona e é muito caro", "pt"),
    ("C'est très mauvais, je ne le recommande pas", "fr"),
    ("Das ist nicht gut und sehr teuer", "de"),
    ("El producto es muy malo y no funciona", "es"),
    ("これは全然良くないです", "ja"),
    ("이 제품 정말 별로예요", "ko"),
    ("Очень плохой товар", "ru"),
    ("😡😡", "und"),
    ("", "und"),
])
def test_detect_lang(text, lang):
    assert detect_lang(text) == lang


def test_english_is_scored_and_calibrated(analyzer):
    good, bad, flat = analyzer.score([TextIn("Great phone, works perfectly, highly recommend."),
                                      TextIn("Terrible. It broke after two days and the refund never came."),
                                      TextIn("The store opens at nine.")])
    assert good.lang == bad.lang == "en"
    assert good.sentiment > 0.8 and bad.sentiment < 0.2
    assert bad.complaint and not good.complaint and not flat.complaint
    assert not flat.negative
    assert good.snownlp is None
    # the calibrated VADER tier: no sentiment words, no cues, neutral. (The encoder tier's English sentiment
    # stack, trained on negative against not negative, reads this flat statement as about 0.9: `auto` reads it
    # since its n-gram complaint score is in the English band.)
    cheap = Analyzer(AnalysisSettings(workers=1, encoder="never")).score([TextIn("The store opens at nine.")])[0]
    assert 0.4 < cheap.sentiment < 0.6


def test_other_languages_get_lang_and_a_neutral_score(analyzer):
    for text in ("Das Produkt ist schrecklich", "Очень плохой товар", "สินค้าไม่ดี"):
        r = analyzer.score([TextIn(text)])[0]
        assert r.lang not in ("zh", "en", "und")
        assert r.sentiment == 0.5 and not r.negative and not r.complaint


def test_snownlp_score_is_kept_for_chinese(analyzer):
    r = analyzer.score([TextIn("这个手机太好用了")])[0]
    assert r.snownlp is not None and 0 <= r.snownlp <= 1
    assert r.sentiment != r.snownlp                # the domain model, not SnowNLP, decides


def test_a_given_lang_is_respected(analyzer):
    r = analyzer.score([TextIn("bad", lang="en-US")])[0]
    assert r.lang == "en"
