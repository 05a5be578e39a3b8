"""Training of the complaint, category and severity models (sentiment/complaint_model.py).

`fit(items)` trains on the train split of labelled examples (sentiment/complaint_data.py), calibrates and
chooses thresholds on the validation split, and never looks at the test split. Extra examples, such as a
team's corrections, come in through `extra` (see `Extra`), are always trained on, and carry a weight.
Deterministic: fixed splits, lbfgs / closed-form solvers, no random state.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Iterable, Sequence

import numpy as np

from sentiment import complaint_model as cm
from sentiment.complaint_data import Labelled
from sentiment.lexicon import CATEGORIES, load_lexicon

C_COMPLAINT = 4.0
C_CATEGORY = 4.0
RIDGE_ALPHA = 3.0
CORPUS_TARGET = 6000      # a corpus counts as if it had about this many texts (clipped ×0.25..×4)
XCI_SCALE = {"none": 0.0, "general": 1.0, "important": 3.0, "urgent": 4.0}   # a level name on the X-CI 0–4 severity scale the model learns


@dataclass
class Extra:
    """One labelled example from outside ../shared/data (a team's correction, say).

    text: the post; complaint: 1 or 0; categories: taxonomy keys (used when complaint is 1; [] = unknown);
    severity: 0–4 on the X-CI scale or a level name (none, general, important, urgent), None = unknown;
    weight: how much it counts against one corpus example (default 5); lang: "zh" or "en" (detected if None).
    """
    text: str
    complaint: int
    categories: Sequence[str] = ()
    severity: float | str | None = None
    weight: float = 5.0
    lang: str | None = None


def as_labelled(extra: Iterable) -> list[Labelled]:
    """Extras as training examples. Accepts `Extra`, dicts with its field names, or tuples in its field order."""
    from sentiment.langdetect import detect_lang  # noqa: PLC0415
    from sentiment.normalize import normalize  # noqa: PLC0415

    out = []
    for raw in extra or ():
        e = raw if isinstance(raw, Extra) else Extra(**raw) if isinstance(raw, dict) else Extra(*raw)
        if e.complaint not in (0, 1, True, False):
            raise ValueError(f"extra example {e.text[:40]!r}: complaint must be 0 or 1, got {e.complaint!r}")
        bad = [c for c in e.categories or () if c not in CATEGORIES]
        if bad:
            raise ValueError(f"extra example {e.text[:40]!r}: unknown categories {bad}; known: {', '.join(CATEGORIES)}")
        sev = e.severity
        if isinstance(sev, str):
            if sev not in XCI_SCALE:
                raise ValueError(f"extra example {e.text[:40]!r}: severity {sev!r}; use 0-4 or {', '.join(XCI_SCALE)}")
            sev = XCI_SCALE[sev]
        if not e.weight or e.weight < 0:
            raise ValueError(f"extra example {e.text[:40]!r}: weight must be positive")
        lang = e.lang or detect_lang(normalize(e.text).text)
        lang = "en" if lang == "en" else "zh"
        complaint = int(e.complaint)
        cats = tuple(c for c in CATEGORIES if c in set(e.categories or ())) if complaint else None
        out.append(Labelled(e.text, lang, "extra", complaint, cats or None, tuple(cats or ()),
                            severity=None if sev is None else float(sev) if complaint else 0.0,
                            weight=float(e.weight), split="train"))
    return out


@dataclass
class Prepared:
    items: list[Labelled]
    texts: list[str]           # normalised
    dense: np.ndarray
    found: list[set[str]]      # word-list categories


def prepare(items: list[Labelled]) -> Prepared:
    from sentiment.evidence import find_evidence  # noqa: PLC0415
    from sentiment.normalize import normalize  # noqa: PLC0415

    lexicon = load_lexicon()
    texts, dense, found = [], [], []
    for item in items:
        text = normalize(item.text).text
        ev = find_evidence(text, lexicon)
        texts.append(text)
        dense.append(cm.dense_row(ev, item.lang, text))
        found.append(set(ev.categories))
    return Prepared(items, texts, np.array(dense, dtype=np.float32).reshape(len(items), len(cm.DENSE)), found)


def _corpus_weights(items: Sequence[Labelled]) -> np.ndarray:
    counts: dict[str, int] = {}
    for it in items:
        counts[it.corpus] = counts.get(it.corpus, 0) + 1
    scale = {c: float(np.clip(CORPUS_TARGET / n, 0.25, 4.0)) for c, n in counts.items()}
    return np.array([it.weight * (1.0 if it.corpus == "extra" else scale[it.corpus]) for it in items])


def _drop_columns(n: int, drop):
    """A diagonal matrix that zeroes the given columns (sparse-friendly column masking)."""
    from scipy.sparse import diags  # noqa: PLC0415

    keep = np.ones(n, dtype=np.float32)
    keep[list(drop)] = 0.0
    return diags(keep, format="csr")


def micro_f1(y: np.ndarray, pred: np.ndarray) -> float:
    """F1 over every (text, label) pair: `y` the true labels, `pred` the predicted ones (booleans)."""
    tp = float((pred & y).sum())
    return 2 * tp / max(1.0, float(pred.sum() + y.sum()))


def fit(prep: Prepared, *, exclude: Sequence[str] = (), log: Callable[[str], None] = print,
        min_df: int | None = None) -> cm.ComplaintModel:
    """Train on the train split (minus the corpora in `exclude`), calibrate on the validation split."""
    from sklearn.linear_model import LogisticRegression, Ridge  # noqa: PLC0415

    items = prep.items
    take = lambda split: [i for i, it in enumerate(items)  # noqa: E731
                          if it.split == split and it.corpus not in exclude]
    tr, va = take("train"), take("validation")
    if min_df is None:
        min_df = 2 if len(tr) > 2000 else 1
    char, word = cm.vectorizers(min_df=min_df)
    folded = [t.casefold() for t in prep.texts]
    from scipy.sparse import csr_matrix, hstack  # noqa: PLC0415

    char.fit([folded[i] for i in tr])
    word.fit([folded[i] for i in tr])

    def X(idx):
        return hstack([char.transform([folded[i] for i in idx]), word.transform([folded[i] for i in idx]),
                       csr_matrix(prep.dense[idx])], format="csr")

    X_tr, X_va = X(tr), X(va)
    n_feat = X_tr.shape[1]
    heads = cm.ComplaintModel.HEADS
    W = np.zeros((n_feat, len(heads)), dtype=np.float32)
    b = np.zeros(len(heads), dtype=np.float32)
    meta: dict = {"trained_on": sorted({items[i].corpus for i in tr}), "excluded": list(exclude),
                  "train_texts": len(tr), "validation_texts": len(va), "min_df": min_df,
                  "features": f"char 1-3-grams {len(char.vocabulary_)} + words 1-2 (jieba) {len(word.vocabulary_)} "
                              f"+ {len(cm.DENSE)} word-list features"}

    # complaint
    rows = [k for k, i in enumerate(tr) if items[i].complaint is not None]
    y = np.array([items[tr[k]].complaint for k in rows])
    w = _corpus_weights([items[tr[k]] for k in rows])
    if len(set(y)) < 2:
        raise ValueError("the complaint task needs complaints and non-complaints in the train split")
    clf = LogisticRegression(C=C_COMPLAINT, max_iter=3000).fit(X_tr[rows], y, sample_weight=w)
    W[:, 0], b[0] = clf.coef_.ravel(), clf.intercept_[0]
    log(f"  complaint head: {len(rows)} texts")

    # calibration per language on the validation split
    calibration = {}
    z_va = np.asarray(X_va @ W[:, 0]).ravel() + b[0]
    for lang in ("zh", "en"):
        idx = [k for k, i in enumerate(va) if items[i].lang == lang and items[i].complaint is not None]
        ys = np.array([items[va[k]].complaint for k in idx])
        if len(set(ys)) == 2:
            platt = LogisticRegression(C=100.0).fit(z_va[idx].reshape(-1, 1), ys,
                                                    sample_weight=_corpus_weights([items[va[k]] for k in idx]))
            calibration[lang] = [float(platt.coef_[0][0]), float(platt.intercept_[0])]
        else:
            calibration[lang] = [1.0, 0.0]
    log(f"  calibration {calibration}")

    # categories: multi-label, on texts with category labels. Without the word-list category features: most
    # category labels are word-list labels, which those features would reproduce exactly and the n-grams
    # would learn nothing beyond the lists.
    rows = [k for k, i in enumerate(tr) if items[i].categories is not None]
    w = _corpus_weights([items[tr[k]] for k in rows])
    X_cat = X_tr[rows]
    X_cat = X_cat @ _drop_columns(n_feat, range(n_feat - len(cm.DENSE), n_feat - len(cm.DENSE) + len(CATEGORIES)))
    for j, cat in enumerate(CATEGORIES, start=1):
        y = np.array([cat in (items[tr[k]].categories or ()) for k in rows])   # rows have categories
        if y.any() and not y.all():
            clf = LogisticRegression(C=C_CATEGORY, max_iter=3000).fit(X_cat, y, sample_weight=w)
            W[:, j], b[j] = clf.coef_.ravel(), clf.intercept_[0]
        else:
            b[j] = 5.0 if y.all() else -5.0
    log(f"  category heads: {len(rows)} texts")
    rows_va = [k for k, i in enumerate(va) if items[i].categories is not None]
    threshold = 0.5
    if rows_va:
        P = 1 / (1 + np.exp(-(np.asarray(X_va[rows_va] @ W[:, 1:1 + len(CATEGORIES)]) + b[1:1 + len(CATEGORIES)])))
        Y = np.array([[c in (items[va[k]].categories or ()) for c in CATEGORIES] for k in rows_va])
        grid = [round(t, 2) for t in np.arange(0.2, 0.71, 0.05)]
        threshold = max(grid, key=lambda t: (micro_f1(Y, P >= t), -abs(t - 0.5)))
        meta["category_validation_micro_f1"] = round(micro_f1(Y, P >= threshold), 4)
    log(f"  category threshold {threshold}")

    # severity: how grave a complaint reads, X-CI's 1..4 (and team corrections)
    rows = [k for k, i in enumerate(tr) if items[i].severity is not None and items[i].complaint == 1]
    if len(rows) >= 2:
        y = np.array([items[tr[k]].severity for k in rows])
        reg = Ridge(alpha=RIDGE_ALPHA).fit(X_tr[rows], y, sample_weight=np.array([items[tr[k]].weight for k in rows]))
        W[:, -1], b[-1] = reg.coef_.ravel(), reg.intercept_
    else:
        b[-1] = 1.0
    log(f"  severity head: {len(rows)} complaints")
    terms = lambda vec: [t for t, _ in sorted(vec.vocabulary_.items(), key=lambda kv: kv[1])]  # noqa: E731
    return cm.ComplaintModel(terms(char), char.idf_.astype(np.float32), terms(word), word.idf_.astype(np.float32),
                             W, b, calibration, {"category": float(threshold)}, meta)
