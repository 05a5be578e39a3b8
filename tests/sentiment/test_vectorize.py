"""sentiment/vectorize.py gives what scikit-learn's TfidfVectorizer.transform gives, on real and hostile text."""
from __future__ import annotations

import numpy as np
import pytest

from sentiment import complaint_model, zh_model
from sentiment.vectorize import Tfidf

TEXTS = ["送餐速度太慢，饭都凉了！！", "The heater caught  fire\tafter two days.", "", "   ", "好", "🤡🤡 emoji only",
         "拿铁里有一根头发 hair in my LATTE", "外婆去世了，好难过\n\n今天", "x" * 3000, "İstanbul ß ǅ Σ", "12315 12315 12315"]


def _fitted(analyzer):
    vec = zh_model.vectorizer(min_df=1) if analyzer == "char" else complaint_model.vectorizers(min_df=1)[1]
    vec.fit(TEXTS + ["送餐 很慢 很慢", "the heater", "hair latte"])
    terms = [t for t, _ in sorted(vec.vocabulary_.items(), key=lambda kv: kv[1])]
    return vec, terms


@pytest.mark.parametrize("analyzer", ["char", "words"])
def test_same_matrix_as_scikit_learn(analyzer):
    vec, terms = _fitted(analyzer)
    ours = Tfidf(terms, vec.idf_, ("char", 1, 3) if analyzer == "char" else complaint_model.words)
    texts = [t.casefold() for t in TEXTS] if analyzer == "words" else TEXTS
    theirs, mine = vec.transform(texts), ours.transform(texts)
    assert mine.shape == theirs.shape and mine.dtype == np.float32
    assert (abs(mine - theirs)).max() < 1e-6
    assert np.array_equal(np.asarray(mine.sum(axis=1)) > 0, np.asarray(theirs.sum(axis=1)) > 0)


def test_shipped_models_score_as_with_scikit_learn():
    zh = zh_model.shipped()
    texts = [t for t in TEXTS if t.strip()]
    vec = zh_model.vectorizer(zh.terms, zh.idf, ngram_range=zh.ngram_range)
    assert np.allclose(vec.transform(texts) @ zh.coef + zh.intercept, zh.decision(texts), atol=1e-5)


def test_scoring_process_imports_neither_scikit_learn_nor_pkg_resources(tmp_path):
    """What made loading slow (about 1 s each) stays out of a process that only scores."""
    import subprocess
    import sys

    probe = ("import sys; from sentiment import Analyzer, TextIn; from sentiment.settings import AnalysisSettings; "
             "r = Analyzer(AnalysisSettings(workers=1, snownlp=False)).score_one(TextIn('送餐太慢了，饭都凉了')); "
             "assert r.complaint, r; print(sorted(m for m in ('sklearn', 'pkg_resources') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True,
                         env={**__import__("os").environ, "REPWATCH_CACHE_DIR": str(tmp_path)})
    assert out.stdout.strip().splitlines()[-1] == "[]"
    assert any(p.name.startswith("jieba-") for p in tmp_path.iterdir())    # jieba's cache went to our cache dir
