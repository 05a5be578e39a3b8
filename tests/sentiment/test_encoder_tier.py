"""The encoder tier (sentiment/encoder_heads.py): the shipped heads load, the cascade's switches do what the
config says, the vector reaches the result (and not the analyze contract), and its training is deterministic."""
from __future__ import annotations

import re

import numpy as np
import pydantic
import pytest

from sentiment import Analyzer, TextIn, encoder, encoder_heads
from sentiment.analyzer import model_version
from sentiment.complaint_data import Labelled
from sentiment.encoder_train import Table, fit
from sentiment.settings import AnalysisSettings
from storage.vocabulary import CATEGORIES

TEXTS = ["送餐速度太慢，饭都凉了", "今天天气真好，和朋友去公园散步", "房间很冷且不隔音，服务一般，卫生间很小",
         "The waiter ignored us for forty minutes", "Just landed in Paris, so excited!", "这个还行吧", "🙂🙂", ""]


def analyzer(**settings) -> Analyzer:
    a = Analyzer(AnalysisSettings(workers=1, snownlp=False, **settings))
    return a


def test_shipped_heads_load_small_and_versioned():
    heads = encoder_heads.shipped()
    assert heads.weights.shape == (encoder.DIM, len(encoder_heads.HEADS))
    assert re.fullmatch(r"enc-heads\.[0-9a-f]{8}", heads.version)
    assert heads.meta["encoder"] == encoder.version()          # the heads were trained on this encoder's vectors
    assert set(heads.stack) >= {"complaint", "band", "sentiment", "category", "severity"}
    for lang in ("zh", "en"):
        lo, hi = heads.stack["band"][lang]
        assert 0 <= lo <= hi <= 1
    version = model_version()
    assert len(version) <= 60 and version.endswith(f"+enc.{heads.version.rsplit('.', 1)[1]}")
    assert "+enc." not in model_version(encoder=False)


def test_never_reads_nothing_and_always_reads_every_scorable_text():
    never = analyzer(encoder="never").score_here([TextIn(t) for t in TEXTS])
    always = analyzer(encoder="always").score_here([TextIn(t) for t in TEXTS])
    assert all(r.embedding is None for r in never)
    assert "+enc." not in never[0].model_version and "+enc." in always[0].model_version
    for t, r in zip(TEXTS, always):
        if r.lang in ("zh", "en"):
            assert r.embedding is not None and r.embedding.shape == (encoder.DIM,) and r.embedding.dtype == np.float32
            assert abs(float(np.linalg.norm(r.embedding)) - 1) < 1e-3
        else:                                                   # emoji only, empty: no model reads them
            assert r.embedding is None and r.complaint_score is None
    # the vector is the encoder's vector of the normalised text
    np.testing.assert_allclose(always[0].embedding, encoder.embed([TEXTS[0]])[0], atol=1e-5)


def test_auto_reads_where_the_ngram_model_is_unsure():
    heads = encoder_heads.shipped()
    cheap = analyzer(encoder="never").score_here([TextIn(t) for t in TEXTS])
    auto = analyzer(encoder="auto").score_here([TextIn(t) for t in TEXTS])
    for c, a in zip(cheap, auto):
        if c.complaint_score is None:
            assert a.embedding is None
            continue
        if heads.in_band(c.complaint_score, c.lang):
            assert a.embedding is not None
        elif c.complaint_score < 0.5:                           # sure it is not a complaint: stays cheap
            assert a.embedding is None
            assert (a.complaint, a.complaint_score, a.sentiment) == (c.complaint, c.complaint_score, c.sentiment)


def test_the_band_comes_from_the_config():
    from sentiment import complaint_model

    everything = analyzer(encoder="auto", encoder_band=(0.0, 1.0)).score_here([TextIn(t) for t in TEXTS[:5]])
    assert all(r.embedding is not None for r in everything)
    cheap = analyzer(encoder="never").score_here([TextIn(t) for t in TEXTS[:5]])
    narrow = analyzer(encoder="auto", encoder_band=(1.0, 1.0)).score_here([TextIn(t) for t in TEXTS[:5]])
    threshold = complaint_model.shipped().thresholds["category"]
    for c, r in zip(cheap, narrow):
        # outside the band, only a complaint whose categories the n-gram heads are unsure of is worth the encoder
        unsure_routing = c.complaint_score >= 0.5 and not any(v >= threshold for v in c.confidence.values())
        assert (r.embedding is not None) == unsure_routing, (c.complaint_score, c.confidence)


def test_settings_are_strict():
    with pytest.raises(pydantic.ValidationError):
        AnalysisSettings(encoder="sometimes")
    with pytest.raises(pydantic.ValidationError, match="encoder_band"):
        AnalysisSettings(encoder_band=(0.8, 0.2))
    with pytest.raises(pydantic.ValidationError):
        AnalysisSettings(encoder_bands=(0.1, 0.9))


def test_contract_and_dict_leave_the_vector_out():
    r = analyzer(encoder="always").score_one(TextIn("送餐速度太慢，饭都凉了"))
    assert r.embedding is not None
    assert "embedding" not in r.contract() and "embedding" not in r.as_dict()


def _table(n_per: int = 40) -> Table:
    """A small synthetic table: vectors that carry the labels, n-gram figures that half do."""
    rng = np.random.default_rng(0)
    items, vecs = [], []
    for k in range(n_per * 4):
        complaint = k % 2
        lang = "en" if k % 4 >= 2 else "zh"
        split = ("train", "train", "validation")[k % 3]
        cats = (CATEGORIES[k % 3],) if complaint else None
        items.append(Labelled(f"text {k}", lang, "xci" if lang == "en" else "waimai_10k", complaint, cats,
                              severity=float(1 + k % 4) if complaint else 0.0, negative=complaint, split=split))
        v = rng.normal(size=encoder.DIM)
        v[0] += 3 * complaint
        if cats:
            v[1 + CATEGORIES.index(cats[0])] += 3
        vecs.append(v / np.linalg.norm(v))
    n = len(items)
    y = np.array([it.complaint for it in items])
    return Table(items, np.array(vecs, dtype=np.float32), np.clip(0.5 + 0.2 * (y - 0.5) + rng.normal(0, 0.2, n), 0.01, 0.99),
                 np.full((n, len(CATEGORIES)), 0.2), np.full(n, 1.0), rng.normal(size=n), [set() for _ in range(n)])


def test_training_is_deterministic_and_learns_from_the_vector():
    quiet = lambda m: None  # noqa: E731
    a, b = fit(_table(), log=quiet), fit(_table(), log=quiet)
    np.testing.assert_array_equal(a.weights, b.weights)
    assert a.stack == b.stack and a.meta == b.meta
    t = _table()
    comb = a.combine(t.vecs, [it.lang for it in t.items], t.ng_p, t.ng_cats, t.ng_sev, t.sent_z)
    y = np.array([it.complaint for it in t.items])
    assert ((comb.complaint >= 0.5) == y).mean() > ((t.ng_p >= 0.5) == y).mean()   # the stack uses the vector


def test_extra_examples_are_always_in_the_encoder_sample():
    items = [Labelled(f"评论{k}", "zh", "waimai_10k", k % 2, split="train") for k in range(3000)]
    items.append(Labelled("这个公众号每天推送三次广告", "zh", "extra", 1, weight=50.0, split="train"))
    chosen = encoder_heads.select(items)
    assert len(chosen) == encoder_heads.CAPS["train"] + 1 and len(items) - 1 in chosen
    assert chosen == encoder_heads.select(items)                 # deterministic
    share = np.mean([items[i].complaint for i in chosen[:-1]])
    assert abs(share - 0.5) < 0.01                               # stratified


def _aspect_table() -> Table:
    """Complaints with people-labelled categories in both languages: the Chinese ones carried by the n-gram
    figures, the English ones only by the vector (as MAMS held out: English n-gram heads that never saw English
    aspects), plus English complaints whose only labels are word-list labels, which the choice must ignore."""
    rng = np.random.default_rng(1)
    items, vecs, ng = [], [], []
    for k in range(480):
        lang = "zh" if k % 2 else "en"
        split = ("train", "train", "validation")[k % 3]
        cat = CATEGORIES[(k // 2) % 3]                                   # product, service, price
        wordlist_only = lang == "en" and k % 5 == 0
        items.append(Labelled(f"text {k}", lang, "aic2018_dianping" if lang == "zh" else "mams", 1, (cat,),
                              known=() if wordlist_only else ("product", "service", "price"), split=split))
        v = rng.normal(size=encoder.DIM)
        if lang == "en":
            v[1 + CATEGORIES.index(cat)] += 4
        vecs.append(v / np.linalg.norm(v))
        p = np.full(len(CATEGORIES), 0.3)
        if lang == "zh":
            p[CATEGORIES.index(cat)] = 0.9
        else:
            p[(CATEGORIES.index(cat) + 1) % 3] = 0.6                   # the English n-gram heads are wrong
        ng.append(p)
    n = len(items)
    return Table(items, np.array(vecs, dtype=np.float32), np.full(n, 0.9), np.array(ng), np.full(n, 1.0),
                 np.zeros(n), [set() for _ in range(n)], np.full(n, 30), 0.5)


def test_the_category_stack_is_chosen_per_language_on_people_labelled_aspects():
    heads = fit(_aspect_table(), log=lambda m: None)
    zh, en = heads.category_stack("zh"), heads.category_stack("en")
    assert zh["weight"] < en["weight"]
    assert en["weight"] >= 0.75                       # English: the vector carries the categories
    assert heads.decides_categories("en")
    chosen = heads.meta["category_validation"]
    assert chosen["en"]["chosen_on"] == "en" and chosen["zh"]["chosen_on"] == "zh"
    assert chosen["en"]["texts"] < sum(1 for it in _aspect_table().items if it.lang == "en" and it.split == "validation")
    t = _aspect_table()
    comb = heads.combine(t.vecs, [it.lang for it in t.items], t.ng_p, t.ng_cats, t.ng_sev, t.sent_z)
    assert comb.category_threshold.shape == (len(t.items),)
    for lang in ("zh", "en"):      # the English n-gram figures alone are always wrong
        right = [CATEGORIES[int(comb.categories[k].argmax())] == it.categories[0]
                 for k, it in enumerate(t.items) if it.lang == lang]
        assert np.mean(right) > 0.6, lang


def test_a_language_without_aspect_labels_leaves_its_categories_to_the_encoder():
    t = _aspect_table()
    keep = [k for k, it in enumerate(t.items) if not (it.lang == "en" and it.split == "validation")]
    heads = fit(t.take(keep), log=lambda m: None)
    chosen = heads.meta["category_validation"]["en"]
    assert chosen["texts"] == 0 and chosen["chosen_on"] == "other languages, encoder alone"
    # its n-gram heads learned no aspects in this language; the encoder's space is shared with the other one
    assert heads.category_stack("en") == {"weight": 1.0, "threshold": heads.meta["alone_category_threshold"]}
    assert heads.meta["category_validation"]["zh"]["chosen_on"] == "zh"


def test_the_band_keeps_within_the_token_budget():
    from sentiment.encoder_train import TOKEN_BUDGET

    t = _table()
    bands = {}
    for tokens in (8, 400):
        t.tokens = np.full(len(t.items), tokens)
        heads = fit(t, log=lambda m: None)
        bands[tokens] = {lang: heads.meta[f"band_{lang}"] for lang in ("zh", "en")}
    for lang in ("zh", "en"):
        assert bands[8][lang]["tokens_per_text"] <= TOKEN_BUDGET[lang]
        # over budget whatever it reads: the cheapest band, not the best one
        assert bands[400][lang]["tokens_per_text"] > TOKEN_BUDGET[lang]
        assert bands[400][lang]["coverage"] < bands[8][lang]["coverage"]


ENGLISH_COMPLAINTS = ["The waiter ignored us for forty minutes and the soup was cold when it finally came",
                      "Ordered a charger two weeks ago, still not delivered and nobody answers my emails"]


@pytest.mark.parametrize("share", [0.0, 1.0])
def test_an_english_complaint_is_routed_with_the_encoder_when_it_has_a_share(share):
    """With a share of English categories (what validation chooses when English has no people-labelled aspects),
    `auto` reads every English complaint, so its categories are the stacked ones and its vector is kept (grouping
    reuses it); without one, a complaint outside the band whose n-gram categories are sure stays cheap."""
    import copy

    heads = copy.deepcopy(encoder_heads.shipped())
    heads.stack["category"] = {lang: dict(heads.category_stack(lang)) for lang in ("zh", "en")}
    heads.stack["category"]["en"]["weight"] = share
    heads.stack["band"]["en"] = [0.0, 0.0]                  # no band: only the category reads are left
    auto = analyzer(encoder="auto")
    auto.encoder_heads = heads
    never = analyzer(encoder="never")
    always = analyzer(encoder="always")
    always.encoder_heads = heads
    items = [TextIn(t, lang="en") for t in ENGLISH_COMPLAINTS]
    for a, c, full in zip(auto.score_here(items), never.score_here(items), always.score_here(items)):
        assert c.complaint and a.complaint and a.categories
        if share:
            assert a.embedding is not None and a.embedding.shape == (encoder.DIM,)
            assert (a.categories, a.confidence) == (full.categories, full.confidence)
            assert a.confidence != c.confidence
        elif max(c.confidence.values()) >= ngram_category_threshold():
            assert a.embedding is None and (a.categories, a.confidence) == (c.categories, c.confidence)


def ngram_category_threshold() -> float:
    from sentiment import complaint_model

    return complaint_model.shipped().thresholds["category"]


def test_token_counts_follow_the_length_and_the_cap():
    short, long = encoder.token_counts(["cold soup", "cold soup " * 100])
    assert 2 < short < long
    assert encoder.token_counts(["cold soup " * 100], max_chars=40)[0] < long
    np.testing.assert_allclose(encoder.embed(["cold soup " * 100], max_chars=40), encoder.embed([("cold soup " * 100)[:40]]),
                               atol=1e-5)
