"""The sentence encoder: shape, normalisation, meaning, and the training cache."""
import numpy as np

from sentiment import encoder


def test_vectors_are_normalised_rows_even_for_empty_and_hostile_text():
    texts = ["", "   ", "a\x00b", "好" * 5000, "送餐速度太慢"]
    vecs = encoder.embed(texts)
    assert vecs.shape == (5, encoder.DIM)
    assert vecs.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(vecs, axis=1), 1.0, atol=1e-3)
    assert encoder.embed([]).shape == (0, encoder.DIM)


def test_same_complaint_in_other_words_is_closer_than_an_unrelated_post():
    a, b, c = encoder.embed(["外卖送了两个小时才到，饭都凉了", "等了快两小时外卖才送到，菜全冷了", "今天天气很好，去公园散步"])
    assert float(a @ b) > float(a @ c) + 0.05
    # one space for both languages: an English paraphrase is nearer than an unrelated Chinese post
    en = encoder.embed(["The delivery took two hours and the food was cold"])[0]
    assert float(a @ en) > float(c @ en)


def test_cache_returns_the_same_vectors_and_survives_a_reload(tmp_path):
    texts = ["房间很冷且不隔音", "服务一般", "房间很冷且不隔音"]
    first = encoder.embed_cached(texts, tmp_path / "c.npz")
    assert list(tmp_path.glob("c-*.npz")), "the cache file was not written"
    again = encoder.embed_cached(texts, tmp_path / "c.npz")
    np.testing.assert_allclose(first, again, atol=1e-6)
    np.testing.assert_allclose(first, encoder.embed(texts), atol=1e-5)
