"""The analyzer: text in, a scored and graded Result out. Safe on empty, huge and garbage text.

Scoring, per language:
- zh: the domain model (sentiment/zh_model.py) stacked with feeling words; SnowNLP's raw score is kept beside it;
- en: VADER, calibrated (sentiment/english.py);
- anything else: neutral 0.5, with `lang` set.
Emoticons, emoji and a star rating then move the score. For zh and en the learned models
(sentiment/complaint_model.py) decide complaint (a calibrated `complaint_score` against
`analysis.complaint_threshold`), the categories with a confidence each, and a learned severity; the word lists
(sentiment/evidence.py) are features of those models and the explanations in `signals`, and the rules of
sentiment/grading.py grade the severity of a complaint. Other languages fall back to the word-list rules.
"""
from __future__ import annotations

import logging
import math
import os
from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING, Sequence

import numpy as np

from sentiment.evidence import Evidence, find_evidence
from sentiment.grading import ESCALATION, GROWTH, judge, load_rules, telling_kinds
from sentiment.langdetect import detect_lang
from sentiment.lexicon import load_lexicon
from sentiment.normalize import normalize
from sentiment.settings import AnalysisSettings
from sentiment.snow import snownlp_score

if TYPE_CHECKING:
    from sentiment.parallel import WorkerPool

log = logging.getLogger("repwatch.sentiment")
NEUTRAL = 0.5
POOL_MIN = 100   # a running pool takes batches from this size up


@dataclass
class TextIn:
    text: str
    title: str | None = None
    rating: float | None = None
    lang: str | None = None
    followers: int | None = None
    id: object = None


@dataclass
class Result:
    lang: str
    sentiment: float
    snownlp: float | None
    negative: bool
    complaint: bool
    categories: list[str] = field(default_factory=list)
    severity: str = "none"
    signals: list[str] = field(default_factory=list)
    targets: list[str] = field(default_factory=list)
    model_version: str = "unversioned"
    complaint_score: float | None = None                        # calibrated P(complaint); None: no model read it
    confidence: dict[str, float] = field(default_factory=dict)  # per category of `categories`
    # the encoder's vector (float32, (384,), L2-normalised) when the encoder tier read this text, else None: kept
    # for grouping incidents, never printed by `repwatch analyze`
    embedding: np.ndarray | None = field(default=None, repr=False, compare=False)

    def contract(self, id=None) -> dict:
        """The `repwatch analyze` output row. Tooling outside the package depends on these keys."""
        return {"id": id, "lang": self.lang, "sentiment": round(self.sentiment, 4), "negative": self.negative,
                "complaint": self.complaint, "categories": self.categories, "severity": self.severity,
                "signals": self.signals,
                "complaint_score": None if self.complaint_score is None else round(self.complaint_score, 4),
                "confidence": {k: round(v, 4) for k, v in self.confidence.items()}}

    def as_dict(self) -> dict:
        """Every field but the vector (large, and not JSON)."""
        return {k: v for k, v in asdict(self).items() if k != "embedding"}


@dataclass
class _Prepared:
    text: str           # normalised
    lang: str
    evidence: Evidence
    rating: float | None
    followers: int | None
    scorable: bool      # has letters or CJK: something a model can read


def model_version(encoder: bool = True) -> str:
    """The shipped artifacts' versions, short (Analysis.model_version is 60 characters): zh.<hash>+en.<hash>+
    cmp.<hash>, and +enc.<hash> when the encoder tier may run (its hash covers the encoder's own version)."""
    from sentiment import complaint_model, encoder_heads, english, zh_model  # noqa: PLC0415 - loads the artifacts

    parts = [("zh", zh_model.shipped().version), ("en", english.shipped().version),
             ("cmp", complaint_model.shipped().version)]
    if encoder:
        parts.append(("enc", encoder_heads.shipped().version))
    return "+".join(f"{short}.{v.rsplit('.', 1)[-1]}" for short, v in parts)


class Analyzer:
    def __init__(self, settings: AnalysisSettings | None = None, targets: dict[str, list[str]] | None = None):
        self.settings = settings or AnalysisSettings()
        self.lexicon = load_lexicon(self.settings.lexicon)
        self.rules = load_rules(self.settings.rules)
        self.targets = {name: [name, *aliases] for name, aliases in (targets or {}).items()}
        self._pool: WorkerPool | None = None
        # Benchmarks only: another complaint model or other encoder heads (cross-domain runs), or no models at all
        # (the word-list rules); another way to get the encoder's vectors (a cache).
        self.complaint_model = None
        self.encoder_heads = None
        self.use_models = True
        self.embed = None

    # -- public -----------------------------------------------------------------------------------
    def score(self, batch: Sequence[TextIn]) -> list[Result]:
        # Once the pool runs, smaller batches use it too: the tail of a large input should not make this
        # process load SnowNLP (seconds and 420 MiB) for the last few hundred texts.
        wanted = len(batch) >= self.settings.parallel_min or (self._pool is not None and len(batch) >= POOL_MIN)
        if wanted and self.workers > 1 and _may_fork():
            try:
                pool = self._parallel()
            except Exception:   # no processes to be had here: score in this process rather than fail
                log.exception("could not start sentiment worker processes; scoring in this process")
            else:
                return pool.score(batch, self.score_here)
        return self.score_here(batch)

    def score_one(self, item: TextIn) -> Result:
        return self.score_here([item])[0]

    @property
    def workers(self) -> int:
        return self.settings.workers or os.cpu_count() or 1

    def batch_hint(self, batch_size: int) -> int:
        """How many texts a caller should hand to score() at once to use every worker."""
        if self.workers > 1 and _may_fork():
            return max(batch_size, self.settings.parallel_min, 1000 * self.workers)
        return batch_size

    def warm_up(self) -> None:
        """Load every model now (worker start-up, benchmarks), not on the first text."""
        self.score_here([TextIn("预热一下模型"), TextIn("warming up the models")])
        if self.settings.encoder != "never" and self.use_models:
            from sentiment import encoder  # noqa: PLC0415

            encoder.embed(["预热"])   # the cascade may not have needed it yet

    def close(self) -> None:
        if self._pool is not None:
            self._pool.close()
            self._pool = None

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    # -- in this process --------------------------------------------------------------------------
    def score_here(self, batch: Sequence[TextIn]) -> list[Result]:
        try:
            return self._score(list(batch))
        except Exception:  # one bad text must not lose the batch: find it by scoring one at a time
            log.exception("batch scoring failed; scoring %d texts one by one", len(batch))
            return [self._score_safely(item) for item in batch]

    def _score_safely(self, item: TextIn) -> Result:
        try:
            return self._score([item])[0]
        except Exception as exc:
            log.exception("scoring failed for one text")
            return Result(lang="und", sentiment=NEUTRAL, snownlp=None, negative=False, complaint=False,
                          signals=[f"error:{type(exc).__name__}"], model_version=model_version())

    def _score(self, batch: list[TextIn]) -> list[Result]:
        from sentiment import complaint_model, english, zh_model  # noqa: PLC0415 - model loading stays lazy

        use_encoder = self.settings.encoder != "never" and self.use_models
        version = model_version(use_encoder)
        prepared = [self._prepare(item) for item in batch]
        log_odds: list[float | None] = [None] * len(prepared)
        zh_idx = [i for i, p in enumerate(prepared) if p.lang == "zh" and p.scorable]
        if zh_idx:
            z = zh_model.shipped().log_odds([prepared[i].text for i in zh_idx],
                                            [prepared[i].evidence.affect for i in zh_idx],
                                            [prepared[i].evidence.cues for i in zh_idx])
            for i, value in zip(zh_idx, z):
                log_odds[i] = float(value)
        en = english.shipped()
        for i, p in enumerate(prepared):
            if p.lang == "en" and p.scorable:
                log_odds[i] = en.log_odds(p.text, p.evidence.cues)
        learned: list[tuple | None] = [None] * len(prepared)
        read = [i for i, p in enumerate(prepared) if p.lang in ("zh", "en") and p.scorable and self.use_models]
        if read:
            model = self.complaint_model or complaint_model.shipped()
            dense = [complaint_model.dense_row(prepared[i].evidence, prepared[i].lang, prepared[i].text) for i in read]
            s = model.score([prepared[i].text for i in read], dense, [prepared[i].lang for i in read])
            for k, i in enumerate(read):
                learned[i] = (float(s.complaint[k]), s.categories[k], float(s.severity[k]),
                              model.thresholds["category"])
            embeddings = self._encoder_tier(prepared, read, learned, log_odds) if use_encoder else {}
        else:
            embeddings = {}
        results = [self._result(p, z, version, m) for p, z, m in zip(prepared, log_odds, learned)]
        for i, vec in embeddings.items():
            results[i].embedding = vec
        return results

    def _encoder_tier(self, prepared: list[_Prepared], read: list[int], learned: list, log_odds: list) -> dict:
        """The cascade: the encoder reads the texts the n-gram models are unsure of (or every text, with
        `encoder: always`), and its heads, stacked with the n-gram ones, replace their complaint, category,
        severity and sentiment figures. Updates `learned` and `log_odds` in place; returns the vectors."""
        from sentiment import encoder, encoder_heads  # noqa: PLC0415

        heads = self.encoder_heads or encoder_heads.shipped()
        if self.settings.encoder == "always":
            chosen = list(read)
        else:
            chosen = [i for i in read if self._unsure(heads, prepared[i].lang, learned[i])]
        if not chosen:
            return {}
        vecs = (self.embed or encoder.embed)([prepared[i].text for i in chosen])
        comb = heads.combine(vecs, [prepared[i].lang for i in chosen], [learned[i][0] for i in chosen],
                             [learned[i][1] for i in chosen], [learned[i][2] for i in chosen],
                             [log_odds[i] for i in chosen])
        for k, i in enumerate(chosen):
            learned[i] = (float(comb.complaint[k]), comb.categories[k], float(comb.severity[k]),
                          float(comb.category_threshold[k]))
            log_odds[i] = float(comb.sentiment_z[k])
        return {i: vecs[k] for k, i in enumerate(chosen)}

    def _unsure(self, heads, lang: str, learned: tuple) -> bool:
        """`encoder: auto`: is the encoder worth its cost here? When the n-gram complaint score is in the band
        (chosen on validation, or `encoder_band`), or the text reads as a complaint and either the encoder has a
        share in its language's categories (chosen on validation: then every such complaint is routed with the
        encoder's help, and carries its vector) or no category clears the n-gram threshold (its routing is
        unsure)."""
        p, cats, _, threshold = learned
        band = self.settings.encoder_band
        if band is not None:
            if band[0] <= p <= band[1]:
                return True
        elif heads.in_band(p, lang):
            return True
        return p >= self.settings.complaint_threshold and (heads.decides_categories(lang)
                                                           or float(cats.max()) < threshold)

    def _prepare(self, item: TextIn) -> _Prepared:
        raw = " ".join(p for p in (_as_text(item.title), _as_text(item.text)) if p)
        norm = normalize(raw)
        lang = item.lang if isinstance(item.lang, str) and item.lang else detect_lang(norm.text)
        lang = lang.split("-")[0].casefold()[:10] if lang else "und"
        rating = _finite(item.rating)
        ev = find_evidence(norm.text, self.lexicon, emoticons=norm.emoticons, targets=self.targets,
                           rated=rating is not None)
        followers = item.followers if isinstance(item.followers, int) and item.followers > 0 else None
        scorable = any(ch.isalnum() for ch in norm.text)
        return _Prepared(norm.text, lang, ev, rating, followers, scorable)

    def _result(self, p: _Prepared, log_odds: float | None, version: str, learned: tuple | None = None) -> Result:
        from sentiment.zh_model import sigmoid  # noqa: PLC0415

        snow = snownlp_score(p.text) if p.lang == "zh" and p.scorable and self.settings.snownlp else None
        scoring = self.rules["scoring"]
        z = log_odds if log_odds is not None else 0.0
        z += scoring["emoticon_weight"] * p.evidence.emoticons
        sentiment = sigmoid(z) if (log_odds is not None or p.evidence.emoticons) else NEUTRAL
        signals_extra = []
        if p.rating is not None:
            # A star rating is the author's own verdict on a product: it pulls the text score (1..5 stars).
            stars = max(0.0, min(1.0, (p.rating - 1) / 4))
            w = scoring["rating_weight"]
            sentiment = (1 - w) * sentiment + w * stars
            signals_extra.append(f"rating:{p.rating:g}")
        negative = sentiment < self.settings.negative_threshold
        complaint_score = complaint = severity = None
        if learned is not None:
            complaint_score, cat_probs, severity, cat_threshold = learned
            if p.rating is not None:
                # a star rating is the author's own verdict on a product or service: it pulls the score
                stars = max(0.0, min(1.0, (p.rating - 1) / 4))
                w = scoring["rating_weight"]
                complaint_score = (1 - w) * complaint_score + w * (1 - stars)
            complaint = complaint_score >= self.settings.complaint_threshold
            lift = self.rules["complaint.signal_lifts_from"]
            if (not complaint and negative and complaint_score >= lift and _about_company(p.evidence, self.lexicon)
                    and telling_kinds(p.evidence, self.rules) & (ESCALATION | GROWTH | {"safety"})):
                # safety, escalation, repeat or long-wait words about a company, in a negative text the model is
                # unsure of
                complaint = True
        verdict = judge(p.evidence, sentiment=sentiment, negative=negative, folded_text=p.text.casefold(),
                        rules=self.rules, followers=p.followers, complaint=complaint, learned_severity=severity)
        categories: list[str] = []
        confidence: dict[str, float] = {}
        if verdict.complaint and learned is not None:
            categories, confidence = _categories(cat_probs, cat_threshold, self.settings.category_floor,
                                                 p.evidence.categories)
        elif verdict.complaint:
            categories = list(p.evidence.categories)
        return Result(
            lang=p.lang, sentiment=sentiment, snownlp=snow, negative=negative, complaint=verdict.complaint,
            categories=categories, severity=verdict.severity,
            signals=verdict.signals + signals_extra, targets=self._targets(p.text), model_version=version,
            complaint_score=complaint_score, confidence=confidence,
        )

    def _targets(self, text: str) -> list[str]:
        folded = text.casefold()
        return [name for name, names in self.targets.items() if any(n.casefold() in folded for n in names if n)]

    # -- across processes -------------------------------------------------------------------------
    def _parallel(self):
        if self._pool is not None and self._pool.broken:
            self.close()
        if self._pool is None:
            from sentiment.parallel import WorkerPool, will_fork  # noqa: PLC0415

            if will_fork():
                self.warm_up()   # forked workers then share the loaded models instead of each loading its own
            self._pool = WorkerPool(self.settings, {k: v[1:] for k, v in self.targets.items()}, self.workers)
        return self._pool


def _about_company(ev, lexicon) -> bool:
    """A category word, or a company cue that is not itself a signal word ("12315" and "消协" are both)."""
    if ev.categories:
        return True
    if not ev.company:
        return False
    cue = ev.company.split(":", 1)[-1].casefold()
    return not any(cue == w.casefold() for words in lexicon.signals.values() for w in words)


def _categories(probs, threshold: float, floor: float, listed=()) -> tuple[list[str], dict[str, float]]:
    """Every category at or above the model's threshold, and every category a word list named (`listed`: a
    team's own words route at once); else the likeliest one if it clears `floor`; else none (shown as
    `other`: storage.vocabulary.OTHER is never stored as a category). Confidences are the model's."""
    from storage.vocabulary import CATEGORIES  # noqa: PLC0415

    chosen = [(c, float(p)) for c, p in zip(CATEGORIES, probs) if p >= threshold or c in listed]
    if not chosen:
        best = int(probs.argmax())
        chosen = [(CATEGORIES[best], float(probs[best]))] if probs[best] >= floor else []
    chosen.sort(key=lambda cp: -cp[1])
    return [c for c, _ in chosen], dict(chosen)


def _may_fork() -> bool:
    """A daemonic process (a Celery or multiprocessing worker) may not start children; it scores alone."""
    import multiprocessing  # noqa: PLC0415

    return not multiprocessing.current_process().daemon


def _as_text(value) -> str:
    if value is None:
        return ""
    if isinstance(value, bytes):
        return value.decode("utf-8", errors="replace")
    return value if isinstance(value, str) else str(value)


def _finite(value) -> float | None:
    try:
        number = float(value) if value is not None else None
    except (TypeError, ValueError):
        return None
    return number if number is not None and math.isfinite(number) else None
