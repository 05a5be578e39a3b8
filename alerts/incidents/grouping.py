"""Online grouping by meaning: a post joins the incident it is about, or starts a new one.

Representation (chosen by measurement, bench/incidents.py): word-level TF-IDF over jieba tokens, the
IDF taken from the table jieba ships (so it is fixed, needs no fitting and no download, and is the
same tomorrow as today). Words jieba's table does not know (shop names, product models, new slang,
hashtags) weigh like rare words: they are the anchors that tell one incident from another, so they
get the top of the IDF range. Each incident keeps a centroid: the sum of its posts' unit vectors,
cut to its `keep` heaviest terms. A post is compared with the incidents sharing one of its anchor
terms (an inverted index from term to incidents: candidate retrieval, never a scan), restricted to
the same watch target, a compatible category and the time window; it joins the most similar one
when the cosine with the centroid reaches `threshold`, or when it is a near-duplicate of the
incident's first post (cosine `duplicate` or more) - reposts join at once. Otherwise it starts a new
incident.

Everything an incident needs to be matched later is in `GroupState` (terms, target, category, last
seen), which the pipeline stores on the Incident row, so a restart rebuilds the index from the
database without re-reading a single post, and history is never re-clustered.

Meaning beyond words (issue 16, measured in bench/incidents.py): when the caller passes a sentence
vector with a post (multilingual-e5-small, computed by the wiring in repwatch/ through sentiment.encoder;
this package never imports the encoder), each incident also keeps the sum of its posts' unit vectors, and a
post joins the incident whose normalised centroid has cosine `meaning` or more with it, whether or not they
share a word. A join on words alone then also needs cosine `floor`, so two complaints that share a generic
word but mean different things stay apart. Candidates by meaning come from one matrix of the active
centroids: `prepare(vectors)` scores a batch of posts against all of them in one matrix product, and the
incidents changed since are rescored exactly as each post is placed, so a batch gives what one post at a time
would. Without vectors (no encoder, `repwatch group --no-encoder`) the grouping is the word-level one alone.

The grouper is pure (no database, no clock): the pipeline (alerts/incidents/index.py), `repwatch group`
and bench/incidents.py run this same code.
"""
from __future__ import annotations

import gzip
import math
import re
import threading
import unicodedata
from dataclasses import dataclass, field
from functools import lru_cache
from datetime import datetime, timedelta
from heapq import nlargest
from pathlib import Path
from typing import Iterable, Sequence

import numpy as np

_LOCK = threading.Lock()
_IDF: dict[str, float] | None = None
_IDF_MAX = 14.0
HMM = False   # jieba's HMM would find words its dictionary lacks, but measured worse (bench/incidents.py):
             # it makes junk words across word boundaries (铁里, 送外, 卖点) that outweigh real ones

_LINK = re.compile(r"https?:\S*|www\.\S+")   # also the "http:" a truncated Weibo link leaves
_OLD_LINK = re.compile(r"https?://\S+|www\.\S+")
CLEAN_WEIBO = True   # bench/incidents.py turns it off to reproduce the first round (emoticons kept as words)
_EMOTICON = re.compile(r"\[[^\[\]\s]{1,8}\]")   # Weibo's [嘻嘻] [good] [威武]: a mood, never which issue
_MENTION = re.compile(r"@[\w\u4e00-\u9fff\-_]{1,30}")
_KEEP = re.compile(r"[\w\u4e00-\u9fff]")
_HASHTAG_ZH = re.compile(r"#([^#\n]{1,40})#")
_HASHTAG_EN = re.compile(r"(?<![\w&/])#([a-z\u4e00-\u9fff][\w\u4e00-\u9fff\-]{1,39})")
_NUM = re.compile(r"^[\d.,:%]+$")
_LATIN = re.compile(r"^[a-z][a-z0-9\-]*$")
_MODEL = re.compile(r"^(?=.*[a-z])(?=.*\d)[a-z0-9\-]{3,}$")   # product models: iphone15, a1234, rtx4090
HASHTAG_WEIGHT = 2.0   # a topic tag weighs as two of the rarest words: the post's strongest anchor
UNKNOWN_IDF = 11.95   # the median of jieba's table: a word jieba's HMM found, as rare as a typical word

# Function words, pronouns, particles, reporting verbs and the words every complaint shares
# (they say that something is a complaint, not which one).
STOP = set("""
的 了 是 我 你 他 她 它 们 我们 你们 他们 她们 这 那 这个 那个 这些 那些 这样 那样 这么 那么 怎么 什么 为什么 啊 吧 呢 吗 嘛 呀 哦 哈 哈哈 哈哈哈
嗯 哎 唉 呵呵 还 就 都 也 又 在 和 与 及 或 而 但 但是 可是 因为 所以 如果 虽然 然后 而且 并且 不过 只是 还是 就是 不是 没有 没 不 很 太 非常 真 真的 真是
特别 已经 一直 一个 一下 一些 一样 一次 有 有点 有些 会 能 可以 要 想 让 把 被 给 对 从 到 向 跟 比 说 看 看看 觉得 知道 现在 今天 昨天 明天 时候 自己 大家 人家
一点 还有 之后 之前 以后 以前 里 上 下 中 后 前 再 才 却 呀 啦 哇 咯 么 之 其 此 该 每 各 某 个 位 次 年 月 日 号 点 分 多 少 好 很多 其实 居然 竟然 简直
转发 回复 评论 微博 视频 图片 链接 网页 全文 原文 via 分享 收藏 关注 转 抱歉 此 doge 哈哈哈哈 心 泪 怒 抓狂 衰 围观 顶 赞 求 求转 扩散 转起
投诉 差评 垃圾 太差 无语 失望 生气 气死 坑 坑人 恶心 客服 商家 用户 顾客 消费者 问题 东西 情况 事情 感觉 这种 那种 一家 这家 那家
下单 订单 收到 味道 好吃 难吃 不好 不错 下次 不会 再也 这次 以后 以前 评价 好评 打电话 电话 第一次 体验 购买 质量 时候
详情 话题 来自 http https 一般 还行 实在 完全 真心 直接 可能 由于 不知 是不是 为什么 开心 心塞 全部 中间 任何 还好 而且 其他 别的 一次 两次 几次 好几次
""".split())


SOCIAL_IDF = Path(__file__).resolve().parents[1] / "data" / "idf_social.tsv.gz"   # alerts/data/
USE_SOCIAL = True   # bench/incidents.py turns it off to measure jieba's table alone


def _idf() -> dict[str, float]:
    """Word -> IDF, loaded once per process: jieba's table (counted on news-like text), lowered to
    log(N / df) where a word is common in social posts and reviews (alerts/data/idf_social.tsv.gz, built
    by scripts/build_idf.py from ~100k public Weibo posts and reviews). In news 外卖 or 骑手 is rare
    (IDF 12.1, 10.5); in complaints it is in every other post and must not anchor an incident."""
    global _IDF
    if _IDF is None:
        with _LOCK:
            if _IDF is None:
                table = _jieba_idf()
                if USE_SOCIAL:   # shipped with the package: a missing file is an error, not a silent fallback
                    with gzip.open(SOCIAL_IDF, "rt", encoding="utf-8") as f:
                        total = int(f.readline())
                        for line in f:
                            word, df = line.rstrip("\n").split("\t")
                            social = math.log(total / int(df))
                            known = table.get(word, UNKNOWN_IDF)
                            table[word] = min(known, (known + social) / 2)
                _IDF = table
    return _IDF


def _jieba_idf() -> dict[str, float]:
    """jieba's IDF table (jieba/analyse/idf.txt, "word idf" per line), read straight from the file: what
    jieba.analyse.TFIDF().idf_freq holds, without importing jieba.analyse, which also loads jieba.posseg's
    tag dictionary and reads the table twice (about 2 s of CPU in the alert stage, against 0.2 s)."""
    import jieba

    table: dict[str, float] = {}
    with open(Path(jieba.__file__).parent / "analyse" / "idf.txt", encoding="utf-8") as f:
        for line in f:
            word, _, weight = line.strip().rpartition(" ")
            if word:
                table[word] = float(weight)
    return table


def term_idf(word: str) -> float:
    """The IDF a term weighs with (the rules of vector() below): hashtags and product models as the
    rarest words, words no table knows as a typical rare word."""
    if word.startswith("#"):
        return _IDF_MAX
    weight = _idf().get(word)
    if weight is None:
        return _IDF_MAX if _MODEL.match(word) else UNKNOWN_IDF
    if _LATIN.match(word) and len(word) <= 2:
        return min(weight, 4.0)
    return weight


def hashtags(text: str) -> list[str]:
    """Topic tags: Weibo's #话题# (closed by a second #) and #tag as on Twitter, folded, as `#tag` terms.
    Posts about one hot topic by many people carry its tag whatever else they say."""
    folded = unicodedata.normalize("NFKC", text or "").casefold()
    out = []
    for m in _HASHTAG_ZH.finditer(folded):
        tag = re.sub(r"\s+", "", m.group(1))
        if tag:
            out.append("#" + tag)
    rest = _HASHTAG_ZH.sub(" ", folded)
    out.extend("#" + m.group(1) for m in _HASHTAG_EN.finditer(rest))
    return list(dict.fromkeys(out))


_TOKENIZER = None   # a jieba Tokenizer the wiring passed (use_tokenizer); None: jieba's default one
_JIEBA_READY = False   # jieba's default tokenizer initialised (its dictionary loaded) in this process


def use_tokenizer(tokenizer) -> None:
    """Segment with this jieba Tokenizer (same dictionary, HMM off: the same words). The wiring passes the
    analyzer's, so a process that analyzes and groups loads jieba's dictionary once, not twice (0.45 s of CPU
    and its memory in `repwatch run`); this package may not import sentiment/ itself."""
    global _TOKENIZER
    if tokenizer is not _TOKENIZER:
        _run_tokens.cache_clear()   # runs cut by the other tokenizer
    _TOKENIZER = tokenizer


def _jieba():
    if _TOKENIZER is not None:
        return _TOKENIZER
    import jieba

    global _JIEBA_READY
    if not _JIEBA_READY:
        import logging

        jieba.setLogLevel(logging.WARNING)
        jieba.initialize()
        _JIEBA_READY = True
    return jieba


def fold(text: str) -> str:
    text = unicodedata.normalize("NFKC", text or "").casefold()
    if not CLEAN_WEIBO:
        return _MENTION.sub(" ", _OLD_LINK.sub(" ", text))
    return _MENTION.sub(" ", _EMOTICON.sub(" ", _LINK.sub(" ", text)))


# jieba's own split (jieba.re_han_default): it cuts each run of these characters on its own, and yields
# everything between runs one character at a time (never a word here). So a text's words are its runs'
# words, and a run's words can be kept: reposts and templated posts repeat most runs (a repost with another
# order number differs in one), and jieba was about 40% of the alert stage.
_RUN = re.compile("[\u4E00-\u9FD5a-zA-Z0-9+#&\\._%\\-]+")


def tokens(text: str) -> list[str]:
    """Words worth comparing: jieba's segmentation, without punctuation, numbers, stop words and
    single characters (one character alone is rarely about *which* issue)."""
    out: list[str] = []
    for run in _RUN.findall(fold(text)):
        out.extend(_run_tokens(run))
    return out


@lru_cache(maxsize=65536)
def _run_tokens(run: str) -> tuple[str, ...]:
    out = []
    for w in _jieba().lcut(run, HMM=HMM):
        w = w.strip()
        if len(w) < 2 or w in STOP or _NUM.match(w) or not _KEEP.search(w):
            continue
        out.append(w)
    return tuple(out)


@lru_cache(maxsize=1024)
def _name_tokens(name: str) -> tuple[str, ...]:
    """A watch target's words, segmented once: every post about the target leaves them out (vector's `drop`)."""
    return tuple(tokens(name))


def vector(text: str, extra: Iterable[str] = (), drop: Iterable[str] = (), tags: bool = True) -> dict[str, float]:
    """Unit TF-IDF vector of a text. `extra` are anchor terms known from elsewhere and weigh as the
    rarest words; `drop` are texts whose words do not count (the watch target's own name: every post
    about the target says it, and target is compared on its own)."""
    original = text
    drop = [fold(d).strip() for d in drop if d and d.strip()]
    if drop:
        text = fold(text)
        for d in sorted(drop, key=len, reverse=True):
            text = text.replace(d, " ")
    skip = {w for d in drop for w in _name_tokens(d)}
    tf: dict[str, int] = {}
    for w in tokens(text):
        if w in skip:
            continue
        tf[w] = tf.get(w, 0) + 1
    vec: dict[str, float] = {}
    for w, n in tf.items():
        # unknown to the tables: a name, a model, a new word - an anchor
        vec[w] = (1.0 + math.log(n)) * term_idf(w)
    if tags:
        for tag in hashtags(original):
            if tag[1:] not in skip and tag[1:] not in drop:
                vec[tag] = _IDF_MAX * HASHTAG_WEIGHT
    for w in extra:
        if w:
            vec[w] = vec.get(w, 0.0) + _IDF_MAX
    norm = math.sqrt(sum(v * v for v in vec.values())) or 1.0
    return {w: v / norm for w, v in vec.items()}


def label(terms: dict[str, float], n: int = 3) -> str:
    """The incident at a glance: its heaviest terms, e.g. 拉肚子 · 过期三明治 · 门店."""
    return " · ".join(w for w, _ in nlargest(n, terms.items(), key=lambda kv: (kv[1], kv[0])))


@dataclass
class GroupSettings:
    threshold: float = 0.3      # cosine with the centroid (or the first post) to join (CED tune split)
    duplicate: float = 0.8      # cosine with the first post: a near-duplicate or repost, joins at once
    window: timedelta = timedelta(days=7)    # an incident quiet longer than this is not joined by meaning
    dup_window: timedelta = timedelta(days=30)   # ... nor by a near-duplicate after this long
    keep: int = 30              # terms kept per incident centroid
    min_shared: int = 1         # words in common needed to join by meaning (2 measured: CED tune F1 0.142 -> 0.101)
    lead: bool = True           # also join on the cosine with the first post alone (measured: +0.01 F1)
    recheck: int = 20           # best-scored candidates checked for category, window and duplicate
    common_share: float = 0.1   # ... nor one in more than this share of the target's open incidents
    common_min: int = 5         # (counted once the target has more than common_min / common_share)
    max_postings: int = 300     # a term in the centroids of more open incidents than this is no anchor
    cover: float = 0.2          # share of the post's weight (squared unit vector) on terms the incident
                                # holds, to join when one of them is an anchor; 0 turns it off
    anchor_idf: float = 8.0     # a shared term at least this rare (or a hashtag) is an anchor
    meaning: float = 0.45       # cosine of centred sentence vectors (post, incident centroid) to join by meaning;
                                # above 1 turns joining by vectors off (CED tune split, bench/incidents.py)
    floor: float = 0.3          # a join on words needs at least this cosine of sentence vectors, when both have one
    words: bool = True          # join on words (TF-IDF) at all; off: by sentence vectors alone (a bench row)
    coarse_min: int = 20_000    # a target's incidents with vectors before a post is scored against a few lists of
                                # them (a coarse index), not against all (bench/incidents.py: cost and recall)
    probe: int = 24             # lists of the coarse index scored per post (of about sqrt(n): 316 at 100,000)
    average: bool = False       # score by meaning = the post's mean cosine with the incident's posts instead of its
                                # cosine with their normalised centroid (measured: a little worse on CED, bench)


@dataclass
class GroupState:
    """What one incident needs to be matched: stored on the Incident row (Incident.terms)."""

    id: int
    target: str | None
    category: str | None
    last_seen: datetime | None
    centroid: dict[str, float] = field(default_factory=dict)   # sum of member unit vectors, top `keep`
    first: dict[str, float] = field(default_factory=dict)      # the first post's vector, top `keep`
    size: int = 0
    vec: np.ndarray | None = None   # sum of its posts' centred unit sentence vectors (float32), None: none known
    nvec: int = 0                   # how many posts' vectors are in that sum
    first_norm: float = 1.0         # the norm of `first`, kept by the grouper (it is the divisor of every dup check)

    def vec_bytes(self) -> bytes | None:
        """The sentence-vector centroid as stored (Incident.centroid): float32, the unnormalised sum, so
        adding a post after a restart gives what it would have without one."""
        return to_bytes(self.vec, "<f4")

    def to_json(self) -> dict:
        return {"c": {w: round(v, 4) for w, v in self.centroid.items()},
                "f": {w: round(v, 4) for w, v in self.first.items()}, "n": self.size, "v": self.nvec}

    @classmethod
    def from_json(cls, id: int, target, category, last_seen, data: dict | None,
                  vec: bytes | None = None) -> "GroupState":
        data = data or {}
        return cls(id, target, category, last_seen, dict(data.get("c", {})), dict(data.get("f", {})),
                   int(data.get("n", 0)), from_bytes(vec, "<f4"), int(data.get("v", data.get("n", 0) if vec else 0)))


CENTER = Path(__file__).resolve().parents[1] / "data" / "e5_center.npy"   # alerts/data/, scripts/build_center.py
USE_CENTER = True   # bench/incidents.py turns it off to measure raw cosines
_CENTER: np.ndarray | None = None


def centred(vec) -> np.ndarray:
    """A post's unit sentence vector with the direction every Chinese post shares taken away, unit again.
    e5's raw vectors all lean one way (two unrelated complaints have cosine 0.83-0.89), so an incident's
    centroid drifts towards that common direction as it grows and becomes close to every new complaint;
    after centring, unrelated posts are near 0 and the centroid keeps what its posts have in common.
    The direction is the mean vector of ordinary Weibo posts (alerts/data/e5_center.npy), fixed, so
    stored centroids stay comparable."""
    global _CENTER
    e = np.asarray(vec, dtype=np.float32)
    if not USE_CENTER:
        return e
    if _CENTER is None:
        with _LOCK:
            if _CENTER is None:   # shipped with the package: a missing file is an error, not a silent fallback
                _CENTER = np.load(CENTER).astype(np.float32)
    x = e - _CENTER
    norm = float(np.linalg.norm(x))
    return x / norm if norm else x


def encoder_text(text: str, target: str | None) -> str:
    """The text a post's sentence vector is computed from: without the watch target's own name, as vector()
    leaves it out of the words. Every post about 快送外卖 says 快送外卖, and the name alone lifts the cosine of
    two different complaints about it from 0.25 to 0.5 (centred), as high as a rewording of one complaint."""
    if not target or not target.strip():
        return text
    return re.sub(re.escape(target.strip()), " ", text, flags=re.IGNORECASE)


def from_bytes(raw: bytes | None, dtype: str = "<f2") -> np.ndarray | None:
    """A stored vector (a post's float16, an incident's float32 centroid) as float32, None when absent."""
    if not raw:
        return None
    return np.frombuffer(raw, dtype=dtype).astype(np.float32)


def to_bytes(vec, dtype: str = "<f2") -> bytes | None:
    """A vector as stored: by default a post's unit sentence vector (MentionVector.vector), float16, 768 bytes
    for 384 numbers (the cosines it gives differ from float32's by less than 0.001); "<f4" for an incident's
    centroid. None stays None."""
    return None if vec is None else np.asarray(vec, dtype=dtype).tobytes()


def _norm(v: dict[str, float]) -> float:
    return math.sqrt(sum(x * x for x in v.values())) or 1.0


def _dot(a: dict[str, float], b: dict[str, float]) -> float:
    if len(a) > len(b):
        a, b = b, a
    return sum([x * b[w] for w, x in a.items() if w in b])   # in a's order: the same sum on every run


def _top(scores: dict[int, float], n: int) -> list[int]:
    """The `n` best-scored ids, best first, ties to the lower id: heapq.nlargest's answer, found by sorting the
    scores alone (in C) for the n-th best and ordering only the ids at or above it."""
    if len(scores) > n:
        bar = sorted(scores.values(), reverse=True)[n - 1] if n > 0 else math.inf
        return sorted((c for c, v in scores.items() if v >= bar), key=lambda c: (-scores[c], c))[:n]
    return sorted(scores, key=lambda c: (-scores[c], c))


def _compatible(incident: str | None, post) -> bool:
    """An unknown category on either side fits anything; a post may carry several categories."""
    if incident is None or not post:
        return True
    return incident == post if isinstance(post, str) else incident in post


@dataclass
class Match:
    id: int | None       # the incident joined, None for a new one
    score: float         # cosine with that incident's centroid (or first post, for a duplicate)
    duplicate: bool = False
    meaning: float | None = None   # cosine of the sentence vectors with the incident's centroid, when known


LISTS = 1.0   # lists of the coarse index per square root of the rows (bench/incidents.py: cost and recall)


class Prepared:
    """A batch of posts scored against the active centroids of one watch target at once (_Vectors.prepare):
    each post's lists probed, and its hits - the rows (list, slot) with cosine `cut` or more, and the cosine -
    post i's being entries start[i]:start[i + 1] of the hit arrays."""

    def __init__(self, probes: np.ndarray, cut: float, start: np.ndarray, lists: np.ndarray, slots: np.ndarray,
                 scores: np.ndarray, token: int):
        self.probes, self.cut, self.token = probes, cut, token
        self.start, self.lists, self.slots, self.scores = start, lists, slots, scores


class Batch:
    """A batch of posts scored against the centroids of their own watch targets (Grouper.prepare): post i's
    scores are row `at[i][1]` of `at[i][0]`; `vecs[i]` its centred sentence vector."""

    def __init__(self, at: dict[int, tuple[Prepared, int]], vecs: np.ndarray):
        self.at, self.vecs = at, vecs


def post_vector(emb, pre: tuple[Batch, int] | None) -> np.ndarray | None:
    """A post's centred sentence vector, centred once: taken from its batch (prepare() centred the batch's
    rows), else centred now; None without a vector."""
    if pre is not None:
        return pre[0].vecs[pre[1]]
    return None if emb is None else centred(emb)


class _Block:
    """The unit centroids of one list of the index, contiguous (one float32 matrix growing by doubling), with
    each row's incident and the length of its vector sum (row × factor is the sum)."""

    def __init__(self, dim: int, capacity: int):
        self.mat = np.zeros((capacity, dim), dtype=np.float32)
        self.factor = np.zeros(capacity, dtype=np.float32)
        self.ids: list[int] = []

    def append(self, incident_id: int, unit: np.ndarray, norm: float) -> int:
        slot = len(self.ids)
        if slot == len(self.mat):
            self.mat = np.concatenate([self.mat, np.zeros_like(self.mat)])
            self.factor = np.concatenate([self.factor, np.zeros_like(self.factor)])
        self.mat[slot], self.factor[slot] = unit, norm
        self.ids.append(incident_id)
        return slot


class _Vectors:
    """The incidents of one watch target that have sentence vectors, as unit centroids. The index owns the
    vector sums: a row × its factor is the incident's sum (GroupState.vec is released once indexed, so 100k
    incidents hold their vectors once, not twice).

    Up to `coarse_min` incidents, one list: a post is scored against every centroid (exact). Beyond, a coarse
    index (inverted file): the centroids are split by the nearest of `lists` coarse centroids (spherical
    k-means on the rows themselves, retrained when the count has grown fourfold), each list contiguous, and
    a post is scored against the lists of its `probe` nearest coarse centroids only - a few percent of the
    rows. A centroid that moves as its incident grows is moved to its nearest list. `dirty` holds the rows
    changed since the last prepare() (slots, by list), whose scores in that batch are stale."""

    def __init__(self, coarse_min: int = 20_000, probe: int = 24):
        self.coarse_min, self.probe = coarse_min, probe
        self.blocks: list[_Block] = []
        self.coarse: np.ndarray | None = None   # (lists, dim) unit coarse centroids, None: one list, exact
        self.trained = 0                         # rows when the coarse centroids were last trained
        self.where: dict[int, tuple[int, int]] = {}   # incident -> (list, slot)
        self.dirty: dict[int, set[int]] = {}   # list -> its slots changed since the last prepare()
        self.token = 0

    def put(self, incident_id: int, vec: np.ndarray, scale: float | None = None) -> None:
        """Index an incident's vector sum: as a unit centroid, or divided by `scale` (its number of posts:
        the dot product with a post is then its mean cosine with the incident's posts)."""
        norm = float(np.linalg.norm(vec)) if scale is None else float(scale)
        if not norm:
            return self.remove(incident_id)
        unit = np.asarray(vec, dtype=np.float32) / norm
        if not self.blocks:
            self.blocks.append(_Block(len(unit), 1024))
        at = self.where.get(incident_id)
        home = 0 if self.coarse is None else int(np.argmax(self.coarse @ unit))
        if at is not None and at[0] == home:
            block = self.blocks[home]
            block.mat[at[1]], block.factor[at[1]] = unit, norm
            self.dirty.setdefault(home, set()).add(at[1])
            return
        if at is not None:
            self.remove(incident_id)
        slot = self.blocks[home].append(incident_id, unit, norm)
        self.where[incident_id] = (home, slot)
        self.dirty.setdefault(home, set()).add(slot)

    def sum_of(self, incident_id: int) -> np.ndarray | None:
        at = self.where.get(incident_id)
        if at is None:
            return None
        block = self.blocks[at[0]]
        return block.mat[at[1]] * block.factor[at[1]]

    def remove(self, incident_id: int) -> None:
        """Out of its list; the list's last row moves into its slot, so every list stays contiguous."""
        at = self.where.pop(incident_id, None)
        if at is None:
            return
        lst, slot = at
        block = self.blocks[lst]
        last = len(block.ids) - 1
        if slot != last:
            moved = block.ids[last]
            block.mat[slot], block.factor[slot], block.ids[slot] = block.mat[last], block.factor[last], moved
            self.where[moved] = (lst, slot)
        block.ids.pop()
        self.dirty.setdefault(lst, set()).update((slot, last))

    def cosine(self, incident_id: int, e: np.ndarray) -> float | None:
        at = self.where.get(incident_id)
        return None if at is None else float(self.blocks[at[0]].mat[at[1]] @ e)

    def layout(self) -> None:
        """Train the coarse centroids when the rows first reach `coarse_min` and again each time they have
        grown fourfold, and put every row in its list (called before scoring, never while a batch is placed
        from its scores)."""
        n = len(self.where)
        if n < self.coarse_min or (self.coarse is not None and n < 4 * self.trained):
            return
        ids = sorted(self.where)   # in incident order: the same rows give the same lists after a restart
        units = np.stack([self.blocks[lst].mat[slot] for lst, slot in (self.where[i] for i in ids)])
        norms = np.array([self.blocks[lst].factor[slot] for lst, slot in (self.where[i] for i in ids)], np.float32)
        self.coarse = kmeans(units, min(n, max(64, int(LISTS * math.sqrt(n)))))
        home = _nearest(units, self.coarse)
        self.blocks = [_Block(units.shape[1], 16) for _ in range(len(self.coarse))]
        self.where = {}
        for i, incident_id in enumerate(ids):
            self.where[incident_id] = (int(home[i]), self.blocks[home[i]].append(incident_id, units[i], norms[i]))
        self.trained = n
        self.token += 1   # any earlier batch's scores name rows that have moved

    def _probes(self, vecs: np.ndarray) -> np.ndarray:
        """Each post's lists to score: all of one list, or its `probe` nearest coarse centroids."""
        if self.coarse is None:
            return np.zeros((len(vecs), 1), dtype=np.int64)
        k = min(self.probe, len(self.coarse))
        near = vecs @ self.coarse.T
        return np.argsort(-near, axis=1, kind="stable")[:, :k]

    def above(self, e: np.ndarray, cut: float, pre: tuple[Prepared, int] | None) -> dict[int, float]:
        """Incidents whose centroid has cosine `cut` or more with `e`, in the lists it probes: from the batch's
        scores for rows unchanged since prepare(), computed afresh for the rest."""
        if not self.where:
            return {}
        out: dict[int, float] = {}
        if pre is None or pre[0].token != self.token or pre[0].cut != cut:
            self.layout()
            for lst in self._probes(e[None, :])[0]:
                block = self.blocks[lst]
                scores = block.mat[:len(block.ids)] @ e
                out.update((block.ids[r], float(scores[r])) for r in np.flatnonzero(scores >= cut))
            return out
        batch, i = pre
        dirty = self.dirty
        lo, hi = batch.start[i], batch.start[i + 1]
        for lst, r, x in zip(batch.lists[lo:hi].tolist(), batch.slots[lo:hi].tolist(), batch.scores[lo:hi].tolist()):
            if lst not in dirty or r not in dirty[lst]:   # unchanged since prepare(): its score stands
                out[self.blocks[lst].ids[r]] = x
        for lst in batch.probes[i] if dirty else ():
            block = self.blocks[lst]
            fresh = [r for r in dirty.get(int(lst), ()) if r < len(block.ids)]
            if fresh:   # rescored in one product: a list may have had every post of the batch so far
                scores = block.mat[fresh] @ e
                out.update((block.ids[fresh[j]], float(scores[j])) for j in np.flatnonzero(scores >= cut))
        return out

    def prepare(self, vecs: np.ndarray, cut: float) -> Prepared:
        """Score a batch against the lists each post probes, one matrix product per list for all the posts
        probing it, and keep the hits (cosine `cut` or more) by post."""
        self.layout()
        self.token += 1
        self.dirty = {}
        probes = self._probes(vecs)
        flat = probes.ravel()
        order = np.argsort(flat, kind="stable")
        posts_of = order // probes.shape[1]   # the posts probing each list, list by list
        bounds = np.flatnonzero(np.diff(flat[order])) + 1
        found: list[tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]] = []
        for chunk in np.split(np.arange(len(order)), bounds) if len(order) else ():
            lst = int(flat[order[chunk[0]]])
            if lst >= len(self.blocks) or not self.blocks[lst].ids:
                continue
            block, idx = self.blocks[lst], posts_of[chunk]
            scores = vecs[idx] @ block.mat[:len(block.ids)].T
            r, c = np.nonzero(scores >= cut)
            if len(r):
                found.append((idx[r], np.full(len(r), lst), c, scores[r, c]))
        if found:
            post, lists, slots, hits = (np.concatenate(x) for x in zip(*found))
            by_post = np.argsort(post, kind="stable")
            post, lists, slots, hits = post[by_post], lists[by_post], slots[by_post], hits[by_post]
        else:
            post = lists = slots = np.zeros(0, np.int64)
            hits = np.zeros(0, np.float32)
        start = np.searchsorted(post, np.arange(len(vecs) + 1))
        return Prepared(probes, cut, start, lists, slots, hits, self.token)

    def nbytes(self) -> int:
        coarse = 0 if self.coarse is None else self.coarse.nbytes
        return coarse + sum(b.mat.nbytes + b.factor.nbytes for b in self.blocks)


def _nearest(units: np.ndarray, centres: np.ndarray, chunk: int = 8192) -> np.ndarray:
    return np.concatenate([np.argmax(units[i:i + chunk] @ centres.T, axis=1) for i in range(0, len(units), chunk)])


def kmeans(units: np.ndarray, k: int, rounds: int = 5, sample: int = 16_384) -> np.ndarray:
    """Spherical k-means: `k` unit centres of unit rows, from evenly spaced rows (deterministic), on at most
    `sample` evenly spaced rows. Coarse on purpose: it only decides which rows a post is scored against."""
    step = max(1, len(units) // sample)
    x = units[::step]
    centres = x[np.linspace(0, len(x) - 1, k).astype(np.int64)].copy()
    for _ in range(rounds):
        home = _nearest(x, centres)
        order = np.argsort(home, kind="stable")
        used, starts = np.unique(home[order], return_index=True)
        sums = np.zeros_like(centres)
        sums[used] = np.add.reduceat(x[order], starts, axis=0)
        norms = np.linalg.norm(sums, axis=1)
        keep = norms > 0   # an empty centre stays where it was
        centres[keep] = sums[keep] / norms[keep, None]
    return centres


class Grouper:
    """Incidents open for joining, with an inverted index from (target, term) to the incidents whose
    centroid holds that term and its weight there (divided by the centroid's norm), so the cosine
    with every candidate is summed straight from the postings, term by term, without a scan."""

    def __init__(self, settings: GroupSettings | None = None):
        self.settings = settings or GroupSettings()
        self.states: dict[int, GroupState] = {}
        self.postings: dict[tuple[str | None, str], dict[int, float]] = {}
        self.per_target: dict[str | None, int] = {}
        self._next = 1
        self._placed = 0
        self.vectors: dict[str | None, _Vectors] = {}   # per watch target: a post is only matched within its own

    # -- state --------------------------------------------------------------------------------
    def add_state(self, state: GroupState) -> None:
        old = self.states.get(state.id)
        if old is not None:
            self._unindex(old)
        else:
            self.per_target[state.target] = self.per_target.get(state.target, 0) + 1
        self.states[state.id] = state
        state.first_norm = _norm(state.first)
        norm = _norm(state.centroid)
        for w, x in state.centroid.items():
            self.postings.setdefault((state.target, w), {})[state.id] = x / norm
        if state.vec is not None:
            self._vectors(state.target).put(state.id, state.vec, max(state.nvec, 1) if self.settings.average else None)
            state.vec = None   # the index holds it now (vec_sum() gives it back)
        elif state.nvec == 0:
            self._vectors(state.target).remove(state.id)
        self._next = max(self._next, state.id + 1)

    def _unindex(self, state: GroupState) -> None:
        for w in state.centroid:
            ids = self.postings.get((state.target, w))
            if ids is not None:
                ids.pop(state.id, None)
                if not ids:
                    del self.postings[(state.target, w)]

    def drop(self, incident_id: int) -> None:
        state = self.states.pop(incident_id, None)
        if state is not None:
            self._unindex(state)
            self._vectors(state.target).remove(incident_id)
            self.per_target[state.target] -= 1

    def expire(self, now: datetime) -> int:
        """Forget incidents quiet for longer than either window (they can no longer be joined)."""
        horizon = max(self.settings.window, self.settings.dup_window)
        old = [s.id for s in self.states.values() if s.last_seen is not None and s.last_seen < now - horizon]
        for i in old:
            self.drop(i)
        return len(old)

    # -- matching -----------------------------------------------------------------------------
    def _vectors(self, target: str | None) -> _Vectors:
        found = self.vectors.get(target)
        if found is None:
            found = self.vectors[target] = _Vectors(self.settings.coarse_min, self.settings.probe)
        return found

    def layout(self) -> None:
        """Lay out the coarse index of every target now (after loading many incidents at once: a restart),
        instead of at the first post scored; about a second of CPU for 100,000 incidents."""
        for v in self.vectors.values():
            v.layout()

    def vector_bytes(self) -> int:
        return sum(v.nbytes() for v in self.vectors.values())

    def vec_sum(self, incident_id: int) -> np.ndarray | None:
        """An incident's sum of centred sentence vectors (what Incident.centroid stores), None if it has none."""
        state = self.states.get(incident_id)
        if state is None:
            return None
        if state.vec is not None:
            return state.vec
        return self._vectors(state.target).sum_of(incident_id)

    def centroid_bytes(self, incident_id: int) -> bytes | None:
        return to_bytes(self.vec_sum(incident_id), "<f4")

    def prepare(self, vecs: np.ndarray | Sequence, targets: Sequence[str | None] | None = None) -> Batch:
        """Score a batch of posts' sentence vectors against every active centroid of their watch targets,
        one matrix product per target; pass (the result, i) as `pre` when placing post i of the batch.
        Incidents that change meanwhile are rescored exactly, so the batch places each post as one at a
        time would."""
        batch = np.asarray(vecs, dtype=np.float32)
        if USE_CENTER and len(batch):
            batch = np.stack([centred(v) for v in batch])
        targets = list(targets) if targets is not None else [None] * len(batch)
        rows: dict[str | None, list[int]] = {}
        for i, t in enumerate(targets):
            rows.setdefault(t, []).append(i)
        at: dict[int, tuple[Prepared, int]] = {}
        for t, idx in rows.items():
            prepared = self._vectors(t).prepare(batch[idx], self.settings.meaning)
            for j, i in enumerate(idx):
                at[i] = (prepared, j)
        return Batch(at, batch)

    def match(self, vec: dict[str, float], target: str | None, category,
              when: datetime | None, emb: np.ndarray | None = None,
              pre: tuple[Batch, int] | None = None) -> Match:
        """The incident a post belongs to. `category` is the post's category, or all its categories;
        `emb` its centred unit sentence vector (centred()), when the caller has one."""
        st = self.settings
        shared: dict[int, int] = {}   # terms in common per candidate, counted only when min_shared asks for it
        scores: dict[int, float] = self._word_scores(vec, target, shared) if st.words else {}
        need = min(st.min_shared, len(vec))
        by_meaning: dict[int, float] = {}
        if emb is not None and st.meaning <= 1.0:
            scored = pre[0].at.get(pre[1]) if pre is not None else None
            by_meaning = self._vectors(target).above(emb, st.meaning, scored)
        if not scores and not by_meaning:
            return Match(None, 0.0)
        # near-duplicates first: they share most terms, so they are among the best-scored candidates
        best = Match(None, 0.0)
        top = _top(scores, st.recheck)
        top += [cid for cid in _top(by_meaning, st.recheck) if cid not in scores]
        for cid in top:
            c = self.states[cid]
            if not _compatible(c.category, category):
                continue
            quiet = when - c.last_seen if when is not None and c.last_seen is not None else timedelta(0)
            if quiet > st.dup_window:
                continue
            meaning = by_meaning.get(cid)
            if meaning is None and emb is not None:
                meaning = self._vectors(target).cosine(cid, emb)
            dup = _dot(vec, c.first) / c.first_norm if st.words and c.first else 0.0
            words = max(scores.get(cid, 0.0), dup if st.lead else 0.0)
            if dup >= st.duplicate:
                m = Match(cid, dup, True, meaning)
            elif quiet > st.window:
                continue
            elif meaning is not None and meaning >= st.meaning:
                # ranked with joins on words on one scale: `threshold` of words counts as `meaning`
                m = Match(cid, max(meaning, self._on_meaning_scale(words)), False, meaning)
            elif (cid in scores and words >= st.threshold and (need <= 1 or shared.get(cid, 0) >= need)
                  and (meaning is None or meaning >= st.floor)):
                m = Match(cid, self._on_meaning_scale(words), False, meaning)
            else:
                continue
            if (m.duplicate, m.score, -cid) > (best.duplicate, best.score, -(best.id or 0)):
                best = m
        return best

    def _on_meaning_scale(self, words: float) -> float:
        st = self.settings
        if st.meaning > 1.0:
            return words
        return st.meaning + (words - st.threshold) * (1 - st.meaning) / (1 - st.threshold)

    def _word_scores(self, vec: dict[str, float], target: str | None,
                     shared: dict[int, int] | None = None) -> dict[int, float]:
        """Cosine of the post's TF-IDF vector with each incident sharing a term with it (from the postings),
        raised to the threshold and above where the post's weight lies on an anchored incident's terms.
        With `min_shared` above 1, `shared` receives how many of the post's terms each candidate holds (in
        the same pass over the postings)."""
        st = self.settings
        scores: dict[int, float] = {}
        get = scores.get   # bound once: the hot loop of grouping on words
        cover: dict[int, float] = {}
        counts = shared if st.min_shared > 1 else None   # terms in common, kept only when min_shared asks
        # a word in the centroids of many of this target's open incidents (the platform's name, the
        # shop's usual dish) says which target, not which issue: it is no anchor, and does not count
        common = self._common(target)
        for w, x in vec.items():
            ids = self.postings.get((target, w))
            if not ids or len(ids) > common:
                continue
            anchor = st.cover > 0 and term_idf(w) >= st.anchor_idf
            for cid, cw in ids.items():
                scores[cid] = get(cid, 0.0) + x * cw
            if anchor:
                cover.update(dict.fromkeys(ids, 0.0))
            if counts is not None:
                for cid in ids:
                    counts[cid] = counts.get(cid, 0) + 1
        if cover:
            # how much of what the post says the incident already holds, for incidents sharing an anchor:
            # a short post ("又拉肚子了，过期三明治") says little, all of it about the incident, while
            # its cosine with a centroid of thirty terms stays low
            for w, x in vec.items():   # the few anchored candidates looked up in each posting list
                ids = self.postings.get((target, w))
                if ids and len(ids) <= common:
                    xx = x * x
                    for cid in cover:
                        if cid in ids:
                            cover[cid] += xx
            for cid, covered in cover.items():
                if covered >= st.cover:
                    scores[cid] = max(scores[cid], st.threshold + (covered - st.cover) * (1 - st.threshold))
        return scores

    def _common(self, target: str | None) -> float:
        st = self.settings
        return min(st.max_postings, max(st.common_min, st.common_share * self.per_target.get(target, 0)))

    def absorb(self, incident_id: int, vec: dict[str, float], target: str | None, category: str | None,
               when: datetime | None, emb: np.ndarray | None = None) -> GroupState:
        """Add a post's vectors (terms, and its centred sentence vector when known: centred()) to an incident (a
        new one when `incident_id` is not known yet)."""
        keep = self.settings.keep
        state = self.states.get(incident_id)
        if state is None:
            state = GroupState(incident_id, target, category, when,
                               first=dict(nlargest(keep, vec.items(), key=lambda kv: (kv[1], kv[0]))))
        else:
            self._unindex(state)
        merged = dict(state.centroid)
        for w, x in vec.items():
            merged[w] = merged.get(w, 0.0) + x
        state.centroid = dict(nlargest(keep, merged.items(), key=lambda kv: (kv[1], kv[0])))
        if emb is not None:
            e = np.asarray(emb, dtype=np.float32)
            known = self.vec_sum(incident_id) if incident_id in self.states else None
            state.vec = e.copy() if known is None else known + e
            state.nvec += 1
        state.size += 1
        if state.category is None:
            state.category = category
        if when is not None and (state.last_seen is None or when > state.last_seen):
            state.last_seen = when
        self.add_state(state)
        return state

    def group(self, text: str, target: str | None = None, category: str | None = None,
              when: datetime | None = None, new_id: int | None = None, tags: bool = True,
              emb: np.ndarray | None = None, pre: tuple[Batch, int] | None = None) -> tuple[int, Match]:
        """Place one post: returns (incident id, match). Used offline (`repwatch group`, the bench);
        the pipeline calls match() and absorb() around its database writes."""
        vec = vector(text, drop=(target,) if target else (), tags=tags) if self.settings.words else {}
        self._placed += 1
        if when is not None and self._placed % 1000 == 0:
            self.expire(when)
        e = post_vector(emb, pre)   # centred once, for both the match and the centroid
        m = self.match(vec, target, category, when, e, pre)
        incident_id = m.id
        if incident_id is None:
            incident_id = new_id if new_id is not None else self._next
        self.absorb(incident_id, vec, target, category, when, e)
        return incident_id, m

    def group_batch(self, posts: Sequence[dict], embs: np.ndarray | None = None,
                    tags: bool = True) -> list[tuple[int, Match]]:
        """Place posts in order ({text, target?, category?, when?, new_id?}), with their sentence vectors
        (one row each) scored against the centroids in one matrix product: the same result as group()
        one at a time."""
        pre = self.prepare(embs, [p.get("target") for p in posts]) if embs is not None and len(posts) else None
        return [self.group(p["text"], p.get("target"), p.get("category"), p.get("when"), p.get("new_id"), tags,
                           None if embs is None else embs[i], None if pre is None else (pre, i))
                for i, p in enumerate(posts)]

