"""Training of the encoder tier (sentiment/encoder_heads.py): heads on the e5 vector, trained on the capped train
split, and the stacks with the n-gram models and the cascade's band, fitted and chosen on the capped validation
split. The test split is never looked at. Deterministic: fixed sample, lbfgs / closed-form solvers.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Sequence

import numpy as np

from sentiment import encoder_heads as eh
from sentiment.complaint_data import Labelled
from sentiment.complaint_model import sigmoid
from sentiment.complaint_train import micro_f1
from storage.vocabulary import CATEGORIES

C_GRID = (1.0, 4.0, 16.0)        # complaint and negativity heads: chosen on validation (mean AUC over corpora)
C_CATEGORY = 4.0
RIDGE_ALPHA = 1.0
CATEGORY_WEIGHTS = (0.0, 0.25, 0.5, 0.75, 1.0)     # encoder's share of the category log-odds
CATEGORY_THRESHOLDS = tuple(round(t, 2) for t in np.arange(0.2, 0.71, 0.05))
SEVERITY_WEIGHTS = (0.0, 0.25, 0.5, 0.75, 1.0)
# The cascade: the encoder reads a text when the n-gram complaint probability falls in [lo, hi] (and a complaint
# whose categories it decides, see fit). The band is chosen on validation as the best trade-off within a budget
# of encoder time per text, per language, counted in tokens (encoder.MS_PER_TOKEN each): the default analyzer
# should stay >= 50 texts per CPU-second, 20 ms per text, of which the n-gram tier takes about 1-1.5 ms; the
# budget leaves a quarter of the rest for texts longer than the validation split's. A share of texts was the
# budget before, and cost more than planned in English, whose posts are longer than the Chinese reviews.
BAND_LOWS = (0.02, 0.05, 0.1, 0.15, 0.2, 0.3, 0.4, 0.5)
BAND_HIGHS = (0.5, 0.6, 0.7, 0.8, 0.9, 0.95, 0.98, 1.0)
TOKEN_BUDGET = {"zh": 18.0, "en": 18.0}    # encoder tokens per text, on average over the validation split


@dataclass
class Table:
    """What the encoder tier is trained and measured on: selected items and, for each, its vector and what the
    cheap models said."""
    items: list[Labelled]
    vecs: np.ndarray          # (n, DIM)
    ng_p: np.ndarray          # n-gram calibrated complaint probability
    ng_cats: np.ndarray       # (n, len(CATEGORIES)) n-gram category probabilities
    ng_sev: np.ndarray        # n-gram severity estimate, 0..4
    sent_z: np.ndarray        # the polarity model's log-odds of "positive" (zh model stack / calibrated VADER)
    listed: list[set[str]]    # word-list categories
    tokens: np.ndarray | None = None    # encoder tokens of each text (its cost); None: not counted (tests)
    ng_cat_threshold: float = 0.5       # the n-gram category heads' threshold

    def take(self, idx) -> "Table":
        idx = list(idx)
        return Table([self.items[i] for i in idx], self.vecs[idx], self.ng_p[idx], self.ng_cats[idx],
                     self.ng_sev[idx], self.sent_z[idx], [self.listed[i] for i in idx],
                     None if self.tokens is None else self.tokens[idx], self.ng_cat_threshold)


def build_table(items: Sequence[Labelled], texts: Sequence[str], dense: np.ndarray, listed: Sequence[set[str]],
                vecs: np.ndarray, ngram, zh, en) -> Table:
    """`texts` normalised; `ngram` a ComplaintModel, `zh` a ZhModel, `en` an EnglishModel."""
    from sentiment.evidence import find_evidence  # noqa: PLC0415
    from sentiment.lexicon import load_lexicon  # noqa: PLC0415

    langs = [it.lang for it in items]
    s = ngram.score(list(texts), dense, langs)
    lexicon = load_lexicon()
    ev = [find_evidence(t, lexicon) for t in texts]
    sent = np.zeros(len(items))
    zi = [i for i, lang in enumerate(langs) if lang != "en"]
    if zi:
        sent[zi] = zh.log_odds([texts[i] for i in zi], [ev[i].affect for i in zi], [ev[i].cues for i in zi])
    for i, lang in enumerate(langs):
        if lang == "en":
            sent[i] = en.log_odds(texts[i], ev[i].cues)
    from sentiment import encoder  # noqa: PLC0415

    return Table(list(items), np.asarray(vecs, dtype=np.float32), np.asarray(s.complaint, dtype=float),
                 np.asarray(s.categories, dtype=float), np.asarray(s.severity, dtype=float), sent,
                 [set(x) for x in listed], encoder.token_counts(texts), float(ngram.thresholds["category"]))


def _weights(items: Sequence[Labelled]) -> np.ndarray:
    """Each corpus counts the same (the sample is capped already); extras keep their own weight."""
    counts: dict[str, int] = {}
    for it in items:
        counts[it.corpus] = counts.get(it.corpus, 0) + 1
    mean = len(items) / max(1, len(counts))
    return np.array([it.weight * (1.0 if it.corpus == "extra" else mean / counts[it.corpus]) for it in items])


def _auc(y, s) -> float | None:
    from sklearn.metrics import roc_auc_score  # noqa: PLC0415

    y = np.asarray(y)
    return float(roc_auc_score(y, s)) if len(set(y.tolist())) == 2 else None


def _mean_auc(items, y, s) -> float:
    aucs = []
    for corpus in sorted({it.corpus for it in items}):
        m = np.array([it.corpus == corpus for it in items])
        a = _auc(y[m], s[m])
        if a is not None:
            aucs.append(a)
    return float(np.mean(aucs)) if aucs else 0.0


def cascade_quality(items, y, p_cheap, p_full, use) -> float:
    """Mean over corpora of complaint F1 (corpora with complaints) or 1 - share flagged (corpora without)."""
    p = np.where(use, p_full, p_cheap) >= 0.5
    out = []
    for corpus in sorted({it.corpus for it in items}):
        m = np.array([it.corpus == corpus for it in items])
        yy, pp = y[m], p[m]
        if yy.any():
            out.append(micro_f1(yy, pp))
        else:
            out.append(1.0 - float(pp.mean()))
    return float(np.mean(out)) if out else 0.0


def choose_categories(items: Sequence[Labelled], zn: np.ndarray, ze: np.ndarray, listed: Sequence[set[str]],
                      weights: Sequence[float] = CATEGORY_WEIGHTS) -> tuple[float, float, float]:
    """(quality, encoder share, threshold): the best mean over corpora of category micro-F1 on complaints whose
    categories people labelled (`Labelled.known`, the aspect sets), over those categories, the categories chosen
    as the analyzer chooses them (at or above the threshold, every word-list category, else the likeliest above
    the floor). Word-list labels are not used here: the analyzer adds the word-list categories anyway, so on
    them any choice scores recall 1 and only predicting less is rewarded, which is how the n-gram heads, copies
    of the lists, won the single stack before. `zn`, `ze`: n-gram and encoder log-odds, rows of `items`."""
    from sentiment.settings import AnalysisSettings  # noqa: PLC0415

    if not len(items):
        return 0.0, 0.0, 0.5
    floor = AnalysisSettings().category_floor
    L = np.array([[c in found for c in CATEGORIES] for found in listed], dtype=bool).reshape(len(items), -1)
    Y = np.array([[c in (it.categories or ()) for c in CATEGORIES] for it in items], dtype=bool)
    K = np.array([[c in it.known for c in CATEGORIES] for it in items], dtype=bool)
    corpora = [np.array([it.corpus == c for it in items]) for c in sorted({it.corpus for it in items})]
    best = (-1.0, 0.0, 0.5)
    for wc in weights:
        P = sigmoid((1 - wc) * zn + wc * ze)
        top = P.argmax(axis=1)
        fallback = np.zeros_like(L)
        fallback[np.arange(len(items)), top] = P[np.arange(len(items)), top] >= floor
        for t in CATEGORY_THRESHOLDS:
            chosen = (P >= t) | L
            chosen |= fallback & ~chosen.any(axis=1, keepdims=True)
            f = float(np.mean([micro_f1(Y[m] & K[m], chosen[m] & K[m]) for m in corpora]))
            if f > best[0] + 1e-4:
                best = (f, float(wc), float(t))
    return best


def fit(table: Table, *, exclude: Sequence[str] = (), log: Callable[[str], None] = print) -> eh.EncoderHeads:
    from sklearn.linear_model import LogisticRegression, Ridge  # noqa: PLC0415

    items = table.items
    tr = [i for i, it in enumerate(items) if it.split == "train" and it.corpus not in exclude]
    va = [i for i, it in enumerate(items) if it.split == "validation" and it.corpus not in exclude]
    X = table.vecs
    W = np.zeros((X.shape[1], len(eh.HEADS)), dtype=np.float32)
    b = np.zeros(len(eh.HEADS), dtype=np.float32)
    meta: dict = {"trained_on": sorted({items[i].corpus for i in tr}), "excluded": list(exclude),
                  "train_texts": len(tr), "validation_texts": len(va), "caps": dict(eh.CAPS)}
    stack: dict = {}

    def binary_head(col: int, label: Callable[[Labelled], int | None], name: str) -> None:
        rows = [i for i in tr if label(items[i]) is not None]
        vrows = [i for i in va if label(items[i]) is not None]
        y = np.array([label(items[i]) for i in rows])
        yv = np.array([label(items[i]) for i in vrows])
        if len(set(y.tolist())) < 2:      # a tiny corpus: nothing to learn, the stack falls back on the n-grams
            b[col] = 5.0 if len(y) and y.all() else -5.0
            log(f"  encoder {name} head: one class only ({len(rows)} texts)")
            return
        best = None
        for c in C_GRID:
            clf = LogisticRegression(C=c, max_iter=2000).fit(X[rows], y, sample_weight=_weights([items[i] for i in rows]))
            score = _mean_auc([items[i] for i in vrows], yv, clf.decision_function(X[vrows])) if vrows else 0.0
            if best is None or score > best[0] + 1e-4:
                best = (score, c, clf)
        assert best is not None
        W[:, col], b[col] = best[2].coef_.ravel(), best[2].intercept_[0]
        meta[f"{name}_C"], meta[f"{name}_validation_auc"] = best[1], round(best[0], 4)
        log(f"  encoder {name} head: {len(rows)} texts, C={best[1]:g}, validation mean AUC {best[0]:.4f}")

    binary_head(0, lambda it: it.complaint, "complaint")
    binary_head(len(eh.HEADS) - 1, lambda it: it.negative, "negative")

    # categories: multi-label, on texts with category labels
    rows = [i for i in tr if items[i].categories is not None]
    w = _weights([items[i] for i in rows])
    for j, cat in enumerate(CATEGORIES, start=1):
        y = np.array([cat in (items[i].categories or ()) for i in rows])
        if len(rows) and y.any() and not y.all():
            clf = LogisticRegression(C=C_CATEGORY, max_iter=2000).fit(X[rows], y, sample_weight=w)
            W[:, j], b[j] = clf.coef_.ravel(), clf.intercept_[0]
        else:
            b[j] = 5.0 if len(rows) and y.all() else -5.0
    log(f"  encoder category heads: {len(rows)} texts")

    # severity: X-CI's scale over complaints (and a team's corrections)
    rows = [i for i in tr if items[i].severity is not None and items[i].complaint == 1]
    sev_col = 1 + len(CATEGORIES)
    if len(rows) >= 2:
        reg = Ridge(alpha=RIDGE_ALPHA).fit(X[rows], np.array([items[i].severity for i in rows]),
                                           sample_weight=np.array([items[i].weight for i in rows]))
        W[:, sev_col], b[sev_col] = reg.coef_.ravel(), reg.intercept_
    else:
        b[sev_col] = 1.0
    log(f"  encoder severity head: {len(rows)} complaints")

    heads = eh.EncoderHeads(W, b, {}, meta)
    raw = heads.raw(X[va]) if va else np.zeros((0, len(eh.HEADS)))
    V = [items[i] for i in va]
    tokens = table.tokens if table.tokens is not None else np.zeros(len(items))

    # categories, per language: the encoder's share of the log-odds and a threshold (see choose_categories)
    stack["category"] = {}
    cat_rows = [k for k, it in enumerate(V) if it.complaint == 1 and it.categories is not None and it.known]
    zn_all = eh.logit(table.ng_cats[va]) if va else np.zeros((0, len(CATEGORIES)))
    ze_all = raw[:, 1:1 + len(CATEGORIES)]
    listed_all = [table.listed[i] for i in va]
    alone = choose_categories([V[k] for k in cat_rows], zn_all[cat_rows], ze_all[cat_rows],
                              [listed_all[k] for k in cat_rows], weights=(1.0,))
    meta["alone_category_threshold"] = alone[2]
    for lang in ("zh", "en"):
        rows = [k for k in cat_rows if V[k].lang == lang]
        if rows:
            f, wc, t = choose_categories([V[k] for k in rows], zn_all[rows], ze_all[rows],
                                         [listed_all[k] for k in rows])
            source = lang
        else:
            # No people-labelled aspects in this language (none in its training either: they come from the same
            # corpora): its n-gram heads know only the word lists, and how the other language's n-gram heads
            # score says nothing about them (other words); the encoder's space is shared by both languages, so
            # its score on the other language's aspects is the evidence there is. The encoder alone decides.
            f, wc, t = alone[0], (1.0 if cat_rows else 0.0), alone[2]
            source = "other languages, encoder alone"
        stack["category"][lang] = {"weight": wc, "threshold": t}
        meta.setdefault("category_validation", {})[lang] = {"micro_f1": round(f, 4), "texts": len(rows),
                                                            "chosen_on": source}
        log(f"  category stack {lang}: encoder weight {wc}, threshold {t} (validation micro-F1 {f:.4f}, "
            f"{len(rows) or len(cat_rows)} aspect-labelled complaints, {source})")

    # complaint stack and band, per language
    stack["complaint"], stack["band"] = {}, {}
    for lang in ("zh", "en"):
        m = [k for k, it in enumerate(V) if it.lang == lang and it.complaint is not None]
        ys = np.array([V[k].complaint for k in m])
        if len(set(ys.tolist())) < 2:
            stack["complaint"][lang] = [1.0, 0.0, 0.0]
            stack["band"][lang] = [0.5, 0.5]
            continue
        F = np.c_[eh.logit(table.ng_p[[va[k] for k in m]]), raw[m, 0]]
        st = LogisticRegression(C=100.0).fit(F, ys, sample_weight=_weights([V[k] for k in m]))
        alone = LogisticRegression(C=100.0).fit(F[:, 1:], ys, sample_weight=_weights([V[k] for k in m]))
        meta.setdefault("alone_complaint", {})[lang] = [float(alone.coef_[0][0]), float(alone.intercept_[0])]
        stack["complaint"][lang] = [float(st.coef_[0][0]), float(st.coef_[0][1]), float(st.intercept_[0])]
        cheap = table.ng_p[[va[k] for k in m]]
        full = st.predict_proba(F)[:, 1]
        sub = [V[k] for k in m]
        yb = ys.astype(bool)
        w_sub = _weights(sub)
        tok = tokens[[va[k] for k in m]]
        # what the analyzer reads besides the band: a complaint whose categories the n-gram heads are unsure
        # of, and every complaint when the encoder has a share in this language's categories
        decides = float(stack["category"][lang]["weight"]) > 0
        unsure = table.ng_cats[[va[k] for k in m]].max(axis=1) < table.ng_cat_threshold
        routed = (cheap >= 0.5) & (decides | unsure)
        q_cheap = cascade_quality(sub, yb, cheap, full, np.zeros(len(m), bool))
        q_full = cascade_quality(sub, yb, cheap, full, np.ones(len(m), bool))
        best_band = None
        for lo in BAND_LOWS:
            for hi in BAND_HIGHS:
                if hi < lo:
                    continue
                use = ((cheap >= lo) & (cheap <= hi)) | routed
                cost = float(np.average(use * tok, weights=w_sub))     # encoder tokens per text
                q = cascade_quality(sub, yb, cheap, full, use)
                # within the budget first; past it (the routed reads alone may exceed it), the cheapest
                key = (cost <= TOKEN_BUDGET[lang], round(q, 4) if cost <= TOKEN_BUDGET[lang] else -cost, -cost)
                if best_band is None or key > best_band[0]:
                    best_band = (key, lo, hi, cost, float(np.average(use, weights=w_sub)), q)
        assert best_band is not None
        _, lo, hi, cost, cover, q = best_band
        stack["band"][lang] = [lo, hi]
        meta[f"band_{lang}"] = {"band": [lo, hi], "coverage": round(cover, 4), "tokens_per_text": round(cost, 2),
                                "budget_tokens_per_text": TOKEN_BUDGET[lang],
                                "tokens_per_text_always": round(float(np.average(tok, weights=w_sub)), 2),
                                "quality_cheap": round(q_cheap, 4), "quality_band": round(q, 4),
                                "quality_always": round(q_full, 4)}
        log(f"  complaint stack {lang}: {stack['complaint'][lang]}; validation quality n-gram {q_cheap:.4f}, "
            f"band [{lo}, {hi}] ({cover:.0%} of texts, {cost:.1f} encoder tokens per text, budget "
            f"{TOKEN_BUDGET[lang]:g}) {q:.4f}, always {q_full:.4f}")

    # negativity stack, per language: (polarity log-odds, encoder log-odds of "not negative")
    stack["sentiment"] = {}
    for lang in ("zh", "en"):
        m = [k for k, it in enumerate(V) if it.lang == lang and it.negative is not None]
        ys = np.array([1 - int(V[k].negative or 0) for k in m])
        if len(set(ys.tolist())) < 2:
            stack["sentiment"][lang] = [1.0, 0.0, 0.0]
            continue
        F = np.c_[table.sent_z[[va[k] for k in m]], -raw[m, -1]]
        st = LogisticRegression(C=100.0).fit(F, ys, sample_weight=_weights([V[k] for k in m]))
        stack["sentiment"][lang] = [float(st.coef_[0][0]), float(st.coef_[0][1]), float(st.intercept_[0])]
        log(f"  sentiment stack {lang}: {stack['sentiment'][lang]}")

    # severity: the encoder's share, on validation Spearman over X-CI (and any other severity labels)
    from scipy.stats import spearmanr  # noqa: PLC0415

    m = [k for k, it in enumerate(V) if it.severity is not None and it.complaint == 1]
    best_sev: tuple[float | None, float] = (None, 0.0)
    if len(m) > 10:
        truth = np.array([V[k].severity for k in m])
        for ws in SEVERITY_WEIGHTS:
            est = (1 - ws) * table.ng_sev[[va[k] for k in m]] + ws * raw[m, sev_col]
            # a constant estimate (a tiny corpus, a weight of 0 over constant n-gram estimates) has no rank
            # correlation: skip it rather than ask scipy for one (it warns and returns nan)
            if np.ptp(est) == 0 or np.ptp(truth) == 0:
                continue
            rho = float(spearmanr(truth, est)[0])
            if np.isfinite(rho) and (best_sev[0] is None or rho > best_sev[0] + 1e-4):
                best_sev = (rho, ws)
    stack["severity"] = {"weight": best_sev[1]}
    meta["severity_validation_rho"] = None if best_sev[0] is None else round(best_sev[0], 4)
    log(f"  severity stack: encoder weight {best_sev[1]} (validation rho over complaints {meta['severity_validation_rho']})")
    heads.stack = stack
    return heads


CACHE_NAME = "complaint_corpora"


def sample_table(items: Sequence[Labelled], prep, ngram, zh, en, *, cache: str | None = CACHE_NAME) -> Table:
    """The capped sample (encoder_heads.select) of complaint_train's prepared items, encoded (through the vector
    cache when `cache` names one) and scored by the cheap models."""
    from sentiment import encoder  # noqa: PLC0415

    idx = eh.select(items)
    texts = [prep.texts[i] for i in idx]
    vecs = encoder.embed_cached(texts, encoder.cache_path(cache)) if cache else encoder.embed(texts)
    return build_table([items[i] for i in idx], texts, prep.dense[idx], [prep.found[i] for i in idx], vecs,
                       ngram, zh, en)


def train(items: Sequence[Labelled], prep, ngram, zh, en, *, log: Callable[[str], None] = print,
          cache: str | None = CACHE_NAME) -> eh.EncoderHeads:
    """The encoder heads and stacks for `ngram` (the complaint model just trained on the same items), `zh` and
    `en` (the polarity models)."""
    table = sample_table(items, prep, ngram, zh, en, cache=cache)
    log(f"  encoder tier: {len(table.items)} texts in the capped sample")
    return fit(table, log=log)


def main() -> int:
    """Retrain only the encoder tier (heads, stacks, band) over the shipped n-gram and polarity models, which stay
    as shipped, and write it beside them: `python -m sentiment.encoder_train` (run it with OMP_NUM_THREADS=1;
    the vectors come from the cache when an earlier run or benchmark encoded the sample). `repwatch train`
    rebuilds everything, this included."""
    from sentiment import complaint_data, complaint_model, complaint_train, english, zh_model  # noqa: PLC0415
    from sentiment.train import MODELS_DIR  # noqa: PLC0415

    everything = complaint_data.load_all()
    items = [everything[i] for i in eh.select(everything)]     # only the sample needs its word-list features
    prep = complaint_train.prepare(items)
    complaint_data.weak_categories(items, prep.found)
    heads = train(items, prep, complaint_model.shipped(), zh_model.shipped(), english.shipped())
    print(f"wrote {heads.save(MODELS_DIR / eh.ARTIFACT)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
