"""An exact, faster port of SnowNLP 0.12.3's sentiment score: `snownlp.sentiment.classify(text)`, bit for bit.

It reads SnowNLP's own shipped model files from the installed `snownlp` package (nothing downloads) and
follows the same path: split the text into runs of \\u4e00-\\u9fa5 and other text, segment the Chinese runs
with the character-based generative model (`snownlp.seg.y09_2047`: a second-order Viterbi over the b/m/e/s
tags), split the rest on whitespace, drop SnowNLP's stop words, and score the words with its Bayes classifier
(`snownlp.classification.bayes`). Every floating-point operation is the one SnowNLP performs, in the same
order, so the scores are identical floats; the tests compare them on real corpora and hostile text.

Where the time goes in SnowNLP, and what this port does instead:

- SnowNLP's Viterbi copies the whole tag path for every candidate at every character (quadratic in the run
  length); here each step keeps a back-pointer and the path is read back once at the end.
- SnowNLP computes each transition's log-probability with nested-tuple dict lookups, 64 times per character;
  here the 64 log-probabilities of a character trigram are computed once (vectorised over the text's new
  trigrams, with `math.log` for the logarithm itself) and memoised, with a bound.
- SnowNLP's import loads the part-of-speech tagger, pinyin and the rest; here only the segmenter, the stop
  words and the sentiment model load. The segmenter's counts (1.3 million nested-tuple keys, about 330 MiB
  as Python objects) are kept as sorted numpy arrays instead (about 20 MiB). Converting them costs a few
  seconds once; the arrays are then cached on disk (keyed by the SHA-256 of SnowNLP's model file, see
  `cache_dir`), so later processes load in well under a second. An unwritable cache only costs the
  conversion again.

SnowNLP's quirks are kept on purpose: a character the model has never seen (with any tag) takes every tag
without changing the score, and the path it extends is the *last* candidate in SnowNLP's candidate order,
not the best; ties go to the first candidate in that order; the final state is the first maximum.
"""
from __future__ import annotations

import codecs
import gzip
import hashlib
import logging
import marshal
import os
import re
import threading
from math import exp, log
from pathlib import Path
from typing import Any

import numpy as np

log_ = logging.getLogger(__name__)

FORMAT = 2                       # bump when the cached arrays' layout changes
TAGS = ("b", "m", "e", "s")      # SnowNLP's status order; the candidate order depends on it
_NEG_INF = float("-inf")
_MISSING = object()
MEMO_LIMIT = 60_000              # character trigrams kept (about 1 KiB each); cleared when full
WORD_MEMO_LIMIT = 200_000
RE_ZH = re.compile("([\u4E00-\u9FA5]+)")   # snownlp.seg.re_zh


def snownlp_dir() -> Path:
    """The installed snownlp package, found without importing it (its import loads every model)."""
    import importlib.util  # noqa: PLC0415

    spec = importlib.util.find_spec("snownlp")
    if spec is None or not spec.submodule_search_locations:
        raise ImportError("snownlp is not installed; the port reads its model files")
    return Path(next(iter(spec.submodule_search_locations)))


def cache_dir() -> Path:
    """REPWATCH_CACHE_DIR, else $XDG_CACHE_HOME/repwatch, else ~/.cache/repwatch."""
    if os.environ.get("REPWATCH_CACHE_DIR"):
        return Path(os.environ["REPWATCH_CACHE_DIR"])
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "repwatch"


def _load_marshal(path: Path) -> dict:
    """The way SnowNLP loads its models (py3 files carry a '.3' suffix; gzip, falling back to plain)."""
    try:
        with gzip.open(path, "rb") as f:
            return marshal.loads(f.read())
    except OSError:
        return marshal.loads(path.read_bytes())


# --------------------------------------------------------------------------------------------- segmenter


class SegModel:
    """SnowNLP's CharacterBasedGenerativeModel as sorted arrays. Characters are numbered 1..C (0 = every
    character the model lacks: all its counts are 0; C+1 = the begin-of-sentence element ('', 'BOS')), and
    keys are character-major, tag-minor, so the 16 (bigram) or 64 (trigram) tag combinations of a character
    n-gram are one contiguous block of keys, found with two binary searches:
        uni[cid, tag]; bi key (c1*W + c2)*16 + t1*4 + t2; tri key ((c1*W + c2)*W + c3)*64 + t1*16 + t2*4 + t3
    with W = C+2 and tags 0..3 = b/m/e/s. BOS has no b/m/e/s tag; its counts are repeated under all four, so
    every lookup has the same shape (SnowNLP's single BOS state reads the tag-0 copy)."""

    def __init__(self, arrays: dict[str, np.ndarray]):
        self.chars = [str(c) for c in arrays["chars"].tolist()]
        self.cid = {c: i + 1 for i, c in enumerate(self.chars)}
        self.BOS = len(self.chars) + 1
        self.W = len(self.chars) + 2
        self.uni = arrays["uni"]                      # int64[W, 4]
        self.bi_keys, self.bi_counts = arrays["bi_keys"], arrays["bi_counts"]
        self.tri_keys, self.tri_counts = arrays["tri_keys"], arrays["tri_counts"]
        l1, l2, l3, total = arrays["floats"].tolist()
        self.l1, self.l2, self.l3, self.uni_total = float(l1), float(l2), float(l3), float(total)
        known: list[bool] = np.asarray(self.uni[1:self.BOS].any(axis=1)).tolist()   # asarray: typed as an array
        # SnowNLP's `not_found`: no tag s with uni.freq((w, s)) != 0
        self.known = frozenset(c for c, k in zip(self.chars, known) if k)

    # -- building the arrays from SnowNLP's marshal file

    @staticmethod
    def arrays_from_snownlp(d: dict) -> dict[str, np.ndarray]:
        if tuple(d["status"]) != TAGS:
            raise ValueError(f"unexpected SnowNLP segmenter status {d['status']!r}")
        uni, bi, tri = d["uni"]["d"], d["bi"]["d"], d["tri"]["d"]
        bos = ("", "BOS")
        if bos not in uni or any(len(e) != 2 or (e != bos and e[1] not in TAGS) for e in uni):
            raise ValueError("unexpected elements in SnowNLP's segmenter")
        chars = sorted({c for c, _ in uni} - {""})
        if np.array(chars, dtype=str).tolist() != chars:     # numpy drops trailing NULs, for one
            raise ValueError("SnowNLP's segmenter characters do not survive a numpy string array")
        W = len(chars) + 2
        # element -> cid*4 + tag; BOS -> -1 (expanded below). An element of bi/tri missing from uni is a
        # KeyError: better than a wrong score.
        code = {(c, t): (i + 1) * 4 + j for i, c in enumerate(chars) for j, t in enumerate(TAGS)}
        code[bos] = -1

        def table(counts: dict, k: int) -> tuple[np.ndarray, np.ndarray]:
            els = np.array([code[e] for key in counts for e in key], dtype=np.int64).reshape(-1, k)
            vals = np.fromiter(counts.values(), dtype=np.int64, count=len(counts))
            for j in range(k):                      # BOS, under each of the four tags
                bos_rows = els[:, j] < 0
                if bos_rows.any():
                    extra = np.repeat(els[bos_rows], 4, axis=0)
                    extra[:, j] = (W - 1) * 4 + np.tile(np.arange(4), int(bos_rows.sum()))
                    els = np.concatenate([els[~bos_rows], extra])
                    vals = np.concatenate([vals[~bos_rows], np.repeat(vals[bos_rows], 4)])
            cids, tags = els >> 2, els & 3
            key = np.zeros(len(els), dtype=np.int64)
            for j in range(k):
                key = key * W + cids[:, j]
            for j in range(k):
                key = key * 4 + tags[:, j]
            o = np.argsort(key, kind="stable")
            key, vals = key[o], vals[o]
            if (np.diff(key) <= 0).any():
                raise ValueError("duplicate keys in SnowNLP's segmenter counts")
            return key, vals

        uni_a = np.zeros((W, 4), dtype=np.int64)
        for e, v in uni.items():
            if e == bos:
                uni_a[W - 1, :] = v
            else:
                uni_a[code[e] >> 2, code[e] & 3] = v
        bi_k, bi_v = table(bi, 2)
        tri_k, tri_v = table(tri, 3)
        floats = [d["l1"], d["l2"], d["l3"], d["uni"]["total"]]
        if np.array(floats, dtype=np.float64).tolist() != floats or not all(type(f) is float for f in floats):
            raise ValueError("SnowNLP's segmenter weights are not plain floats")
        return {"chars": np.array(chars, dtype=str), "uni": uni_a, "bi_keys": bi_k, "bi_counts": bi_v,
                "tri_keys": tri_k, "tri_counts": tri_v, "floats": np.array(floats)}

    @classmethod
    def load(cls, path: Path | None = None, cache: Path | str | bool = True) -> "SegModel":
        """From the cache when it holds this model file's arrays, else from SnowNLP's marshal file (and
        then written to the cache). cache=False never reads or writes one."""
        path = path or snownlp_dir() / "seg" / "seg.marshal.3"
        raw = path.read_bytes()
        digest = hashlib.sha256(raw).hexdigest()
        cached = None
        if cache is not False:
            cached = (cache_dir() if cache is True else Path(cache)) / f"snownlp-seg-{digest[:32]}-v{FORMAT}.npz"
            try:
                with np.load(cached, allow_pickle=False) as z:
                    arrays = {k: z[k] for k in z.files}
                if str(arrays.pop("source")) == digest:
                    return cls(arrays)
            except (OSError, KeyError, ValueError, EOFError):
                pass
        try:
            d = marshal.loads(gzip.decompress(raw))
        except OSError:
            d = marshal.loads(raw)
        arrays = cls.arrays_from_snownlp(d)
        del d
        if cached is not None:
            _write_cache(cached, {**arrays, "source": np.array(digest)})
        return cls(arrays)

    # -- the 64 log-probabilities of a character trigram

    @staticmethod
    def _entries(keys: np.ndarray, counts: np.ndarray, base: np.ndarray, width: int):
        """The keys in [base[i], base[i] + width): (i, key - base[i], count) as three arrays."""
        lo = np.searchsorted(keys, base)
        hi = np.searchsorted(keys, base + width)
        n = hi - lo
        total = int(n.sum())
        rows = np.repeat(np.arange(len(base)), n)
        idx = np.arange(total) - np.repeat(np.cumsum(n) - n, n) + np.repeat(lo, n)
        return rows, keys[idx] - base[rows], counts[idx]

    @staticmethod
    def _blocks(keys: np.ndarray, counts: np.ndarray, base: np.ndarray, width: int) -> np.ndarray:
        """counts[base[i] + j] for j < width (0 where absent), as an (m, width) array."""
        m = len(base)
        out = np.zeros((m, width), dtype=np.int64)
        lo = np.searchsorted(keys, base)
        hi = np.searchsorted(keys, base + width)
        n = hi - lo
        total = int(n.sum())
        if total:
            rows = np.repeat(np.arange(m), n)
            idx = np.arange(total) - np.repeat(np.cumsum(n) - n, n) + np.repeat(lo, n)
            out[rows, keys[idx] - base[rows]] = counts[idx]
        return out

    def tables(self, grams: list[str]) -> list[tuple | None]:
        """For each 1-3 character string (the characters at i-2, i-1, i; shorter at a run's start, where
        SnowNLP uses ('', 'BOS')), the tuple LP[(a*4 + b)*4 + s] = SnowNLP's log_prob((c1, a), (c2, b),
        (c3, s)); None when c3 is unknown to the model (SnowNLP's not_found branch). Vectorised over the
        grams; each term and sum is SnowNLP's (uni + bi) + tri, in float64, and the logarithm is math.log,
        as in SnowNLP. Most trigrams were never seen in training: their tri term is 0, and x + 0 == x, so
        LP does not depend on a and the 16 values of log(uni + bi) are repeated; the few (a, b, s) with a
        trigram count are computed apart."""
        out: list[tuple | None] = [None] * len(grams)
        known = self.known
        idx = [i for i, g in enumerate(grams) if g[-1] in known]
        if not idx:
            return out
        cid, BOS, W = self.cid, self.BOS, self.W
        m = len(idx)
        ids = np.array([[BOS] * (3 - len(grams[i])) + [cid.get(c, 0) for c in grams[i]] for i in idx],
                       dtype=np.int64)
        c1, c2, c3 = ids[:, 0], ids[:, 1], ids[:, 2]
        u3 = self.uni[c3]                                                            # (m, s)
        u2 = self.uni[c2]                                                            # (m, b)
        bi = self._blocks(self.bi_keys, self.bi_counts, np.concatenate([(c2 * W + c3) * 16, (c1 * W + c2) * 16]), 16)
        b23, b12 = bi[:m].reshape(m, 4, 4), bi[m:].reshape(m, 4, 4)                 # (m, b, s), (m, a, b)
        # uni = l1 * freq(s3) = l1 * (float(count) / total)
        uni_t = self.l1 * (u3.astype(np.float64) / self.uni_total)                  # (m, s)
        # bi = div(l2 * count(s2, s3), count(s2)) = float(l2 * count) / count(s2), or 0 when count(s2) is 0
        den = np.broadcast_to(u2[:, :, None], b23.shape)
        bi_t = np.zeros(b23.shape)
        np.divide(self.l2 * b23, den, out=bi_t, where=den != 0)
        x16 = uni_t[:, None, :] + bi_t                                               # (m, b, s): uni + bi
        # tri = div(l3 * count(s1, s2, s3), count(s1, s2)), only where the trigram count is not 0
        rows, off, cnt = self._entries(self.tri_keys, self.tri_counts, ((c1 * W + c2) * W + c3) * 64, 64)
        exceptions: dict[int, list] = {}
        if len(rows):
            a, b, s = off >> 4, (off >> 2) & 3, off & 3
            den = b12[rows, a, b]
            tri_t = np.zeros(len(rows))
            np.divide(self.l3 * cnt, den, out=tri_t, where=den != 0)
            xs = x16[rows, b, s] + tri_t                                             # (uni + bi) + tri
            for r, o, v in zip(rows.tolist(), off.tolist(), xs.tolist()):
                exceptions.setdefault(r, []).append((o, _NEG_INF if v == 0 else log(v)))
        for r, row in enumerate(x16.reshape(m, 16).tolist()):
            lp = [_NEG_INF if v == 0 else log(v) for v in row] * 4                   # log(0): SnowNLP's -inf
            for o, v in exceptions.get(r, ()):
                lp[o] = v
            out[idx[r]] = tuple(lp)
        return out


def _write_cache(path: Path, arrays: dict[str, np.ndarray]) -> None:
    from sentiment.artifacts import write_atomic

    # the keys are array names, never savez's own `allow_pickle`: numpy's stubs cannot tell
    if not write_atomic(path, lambda f: np.savez(f, **arrays)):  # type: ignore[arg-type]
        return
    for old in path.parent.glob("snownlp-seg-*.npz"):      # another snownlp version's, or an older layout
        if old != path:
            try:
                old.unlink()
            except OSError:
                pass


def _viterbi(run: str, memo: dict, build) -> list[int]:
    """Tags (0..3 = b/m/e/s) of one run of Chinese characters, as SnowNLP's y09_2047 tag() picks them.
    State (b, s) = tags at i-1 and i; V[b*4 + s] its score; at i >= 2 the candidates are (a, b) for
    a = b, m, e, s in that order (SnowNLP's order of `now`), the first maximum winning."""
    n = len(run)
    L = memo.get(run[0], _MISSING)
    if L is _MISSING:
        L = build(run[0])
    # position 0: one predecessor (BOS, BOS); states (BOS, s)
    if L is None:
        v = [0.0, 0.0, 0.0, 0.0]
    else:
        v = [0.0 + L[0], 0.0 + L[1], 0.0 + L[2], 0.0 + L[3]]
    if n == 1:
        best = max(range(4), key=v.__getitem__)     # first maximum, in SnowNLP's order b, m, e, s
        return [best]
    # position 1: states (b, s), the one predecessor (BOS, b)
    g = run[0:2]
    L = memo.get(g, _MISSING)
    if L is _MISSING:
        L = build(g)
    if L is None:
        V = [v[b] for b in range(4) for s in range(4)]
    else:
        V = [v[b] + L[b * 4 + s] for b in range(4) for s in range(4)]
    bps: list[Any] = [None, None]   # back-pointers from position 2 on (tuples made by the generated _step)
    for i in range(2, n):
        g = run[i - 2:i + 1]
        L = memo.get(g, _MISSING)
        if L is _MISSING:
            L = build(g)
        V, bp = _step(V, L)
        bps.append(bp)
    # the final state: the first maximum in SnowNLP's order of `now`, s outer, b inner
    best_i, best_p = 0, None
    for s in range(4):
        for b in range(4):
            p = V[b * 4 + s]
            if best_p is None or p > best_p:
                best_i, best_p = b * 4 + s, p
    tags = [0] * n
    b, s = divmod(best_i, 4)
    tags[n - 1], tags[n - 2] = s, b
    for i in range(n - 1, 1, -1):
        a = bps[i][b * 4 + s]
        tags[i - 2] = a
        b, s = a, b
    return tags


def _make_step():
    """One Viterbi step for positions >= 2, unrolled: 16 states x 4 candidates, strict '>' so the first
    candidate in SnowNLP's order wins ties. L None = the character is unknown: every state (b, s) takes the
    score of its last candidate, (a, b) with a = 3 ('s'), as SnowNLP's overwrite does."""
    lines = ["def _step(V, L):",
             "    (" + ", ".join(f"v{a}{b}" for a in range(4) for b in range(4)) + ") = V",
             "    if L is None:",
             "        return ([" + ", ".join(f"v3{b}" for b in range(4) for s in range(4)) + "], _UNKNOWN)"]
    for b in range(4):
        for s in range(4):
            lines.append(f"    p = v0{b} + L[{(0 * 4 + b) * 4 + s}]; k = 0")
            for a in range(1, 4):
                lines.append(f"    q = v{a}{b} + L[{(a * 4 + b) * 4 + s}]")
                lines.append(f"    if q > p: p = q; k = {a}")
            lines.append(f"    n{b}{s} = p; k{b}{s} = k")
    names = [f"{b}{s}" for b in range(4) for s in range(4)]
    lines.append("    return ([" + ", ".join("n" + x for x in names) + "], (" + ", ".join("k" + x for x in names) + "))")
    ns = {"_UNKNOWN": (3,) * 16}
    exec("\n".join(lines), ns)  # noqa: S102 - generated from constants above
    return ns["_step"]


_step = _make_step()


def _words_from_tags(run: str, tags: list[int]) -> list[str]:
    """snownlp.seg.seg.Seg.seg: 'e' closes a word, 'b'/'s' start one, 'm' continues."""
    words, tmp = [], ""
    for c, t in zip(run, tags):
        if t == 2:
            words.append(tmp + c)
            tmp = ""
        elif t == 0 or t == 3:
            if tmp:
                words.append(tmp)
            tmp = c
        else:
            tmp += c
    if tmp:
        words.append(tmp)
    return words


# --------------------------------------------------------------------------------------------- classifier


class SnowSentiment:
    """snownlp.sentiment.classify, ported. Thread-safe enough for the analyzer: the memos only grow (and are
    swapped for empty ones when full); a lost update costs a recomputation, never a wrong value."""

    def __init__(self, seg: SegModel | None = None, cache: Path | str | bool = True):
        base = snownlp_dir()
        self.seg = seg or SegModel.load(cache=cache)
        stop = set()
        fr = codecs.open(str(base / "normal" / "stopwords.txt"), "r", "utf-8")   # as snownlp.normal reads it
        for word in fr:
            stop.add(word.strip())
        fr.close()
        self.stop = frozenset(stop)
        d = _load_marshal(base / "sentiment" / "sentiment.marshal.3")
        self.total = d["total"]
        # per class, in the model's order (the order of SnowNLP's sums): (name, counts, none, total)
        self.classes = [(k, v["d"], v["none"], v["total"]) for k, v in d["d"].items()]
        self.prior = [log(total) - log(self.total) for _, _, _, total in self.classes]
        self._memo: dict = {}
        self._word_memo: dict = {}

    # -- segmentation

    def _build(self, gram: str):
        memo = self._memo
        if len(memo) >= MEMO_LIMIT:
            self._memo = memo = {}
        tab = self.seg.tables([gram])[0]
        memo[gram] = tab
        return tab

    def _prefetch(self, runs: list[str]) -> None:
        """Compute the tables of a text's unseen trigrams in one vectorised batch."""
        memo = self._memo
        grams = {r[max(0, i - 2):i + 1] for r in runs for i in range(len(r))}
        new = [g for g in grams if g not in memo]
        if not new:
            return
        if len(memo) + len(new) > MEMO_LIMIT:
            self._memo = memo = {}
            new = list(grams)          # the text's grams that were in the old memo too
        for chunk in range(0, len(new), 4096):
            part = new[chunk:chunk + 4096]
            memo.update(zip(part, self.seg.tables(part)))

    def words(self, sent: str) -> list[str]:
        """snownlp.seg.seg(sent)."""
        pieces = RE_ZH.split(sent)
        runs = pieces[1::2]             # the captured Chinese runs, never empty and never stripped away
        if runs:
            self._prefetch(runs)
        words: list[str] = []
        for j, s in enumerate(pieces):
            if j % 2:
                words += _words_from_tags(s, _viterbi(s, self._memo, self._build))
            else:
                s = s.strip()
                if not s:
                    continue
                for word in s.split():
                    word = word.strip()
                    if word:
                        words.append(word)
        return words

    def handle(self, sent: str) -> list[str]:
        """snownlp.sentiment.Sentiment.handle: segment, then drop stop words."""
        stop = self.stop
        return [w for w in self.words(sent) if w not in stop]

    # -- classification

    def _word_logs(self, word: str) -> tuple:
        memo = self._word_memo
        r = memo.get(word)
        if r is None:
            # log(self.d[k].freq(word)) = log(float(get(word)[1]) / total)
            r = tuple(log(float(d.get(word, none)) / total) for _, d, none, total in self.classes)
            if len(word) <= 64:
                if len(memo) >= WORD_MEMO_LIMIT:
                    self._word_memo = memo = {}
                memo[word] = r
        return r

    def classify(self, sent: str) -> float:
        """snownlp.sentiment.classify(sent): the probability that sent is positive."""
        words = self.handle(sent)
        tmp = list(self.prior)
        k_range = range(len(tmp))
        for word in words:
            logs = self._word_logs(word)
            for k in k_range:
                tmp[k] += logs[k]
        ret: str | int = 0
        prob: float = 0
        for k in k_range:
            now: float = 0
            try:
                for other in k_range:
                    now += exp(tmp[other] - tmp[k])
                now = 1 / now
            except OverflowError:
                now = 0
            if now > prob:
                ret, prob = self.classes[k][0], now
        if ret == "pos":
            return prob
        return 1 - prob


_lock = threading.Lock()
_model: SnowSentiment | None = None


def model() -> SnowSentiment:
    """The process's port, loaded on first use (forked workers share the parent's)."""
    global _model
    if _model is None:
        with _lock:
            if _model is None:
                _model = SnowSentiment()
    return _model


def classify(sent: str) -> float:
    return model().classify(sent)


def main() -> None:
    """`python -m sentiment.snow_port`: convert SnowNLP's segmenter file into the cache now (make install
    runs it), so the first scoring process does not pay the conversion."""
    import time  # noqa: PLC0415

    started = time.perf_counter()
    model().classify("预热一下模型")
    print(f"SnowNLP port ready in {time.perf_counter() - started:.1f} s; cache: {cache_dir()}")


if __name__ == "__main__":
    main()
