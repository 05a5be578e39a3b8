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
from datetime import datetime, timedelta
from heapq import nlargest
from pathlib import Path
from typing import Iterable

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
                import jieba.analyse as ja   # lazy: the dictionary load costs about a second

                table = dict(ja.TFIDF().idf_freq)
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


_JIEBA_READY = False   # jieba initialised (its dictionary loaded) in this process


def _jieba():
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


def tokens(text: str) -> list[str]:
    """Words worth comparing: jieba's segmentation, without punctuation, numbers, stop words and
    single characters (one character alone is rarely about *which* issue)."""
    out = []
    for w in _jieba().lcut(fold(text), HMM=HMM):
        w = w.strip()
        if len(w) < 2 or w in STOP or _NUM.match(w) or not _KEEP.search(w):
            continue
        out.append(w)
    return out


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
    skip = {w for d in drop for w in tokens(d)}
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

    def to_json(self) -> dict:
        return {"c": {w: round(v, 4) for w, v in self.centroid.items()},
                "f": {w: round(v, 4) for w, v in self.first.items()}, "n": self.size}

    @classmethod
    def from_json(cls, id: int, target, category, last_seen, data: dict | None) -> "GroupState":
        data = data or {}
        return cls(id, target, category, last_seen, dict(data.get("c", {})), dict(data.get("f", {})),
                   int(data.get("n", 0)))


def _norm(v: dict[str, float]) -> float:
    return math.sqrt(sum(x * x for x in v.values())) or 1.0


def _dot(a: dict[str, float], b: dict[str, float]) -> float:
    if len(a) > len(b):
        a, b = b, a
    return sum(x * b.get(w, 0.0) for w, x in a.items())


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

    # -- state --------------------------------------------------------------------------------
    def add_state(self, state: GroupState) -> None:
        old = self.states.get(state.id)
        if old is not None:
            self._unindex(old)
        else:
            self.per_target[state.target] = self.per_target.get(state.target, 0) + 1
        self.states[state.id] = state
        norm = _norm(state.centroid)
        for w, x in state.centroid.items():
            self.postings.setdefault((state.target, w), {})[state.id] = x / norm
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
            self.per_target[state.target] -= 1

    def expire(self, now: datetime) -> int:
        """Forget incidents quiet for longer than either window (they can no longer be joined)."""
        horizon = max(self.settings.window, self.settings.dup_window)
        old = [s.id for s in self.states.values() if s.last_seen is not None and s.last_seen < now - horizon]
        for i in old:
            self.drop(i)
        return len(old)

    # -- matching -----------------------------------------------------------------------------
    def match(self, vec: dict[str, float], target: str | None, category,
              when: datetime | None) -> Match:
        """The incident a post belongs to. `category` is the post's category, or all its categories."""
        st = self.settings
        scores: dict[int, float] = {}
        shared: dict[int, int] = {}
        cover: dict[int, float] = {}
        # a word in the centroids of many of this target's open incidents (the platform's name, the
        # shop's usual dish) says which target, not which issue: it is no anchor, and does not count
        common = min(st.max_postings, max(st.common_min, st.common_share * self.per_target.get(target, 0)))
        for w, x in vec.items():
            ids = self.postings.get((target, w))
            if not ids or len(ids) > common:
                continue
            anchor = st.cover > 0 and term_idf(w) >= st.anchor_idf
            for cid, cw in ids.items():
                scores[cid] = scores.get(cid, 0.0) + x * cw
                shared[cid] = shared.get(cid, 0) + 1
                if anchor:
                    cover[cid] = 0.0
        if not scores:
            return Match(None, 0.0)
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
        # near-duplicates first: they share most terms, so they are among the best-scored candidates
        best = Match(None, 0.0)
        top = nlargest(st.recheck, scores.items(), key=lambda kv: (kv[1], -kv[0]))
        for cid, score in top:
            c = self.states[cid]
            if not _compatible(c.category, category):
                continue
            quiet = when - c.last_seen if when is not None and c.last_seen is not None else timedelta(0)
            if quiet > st.dup_window:
                continue
            dup = _dot(vec, c.first) / _norm(c.first) if c.first else 0.0
            if dup >= st.duplicate:
                m = Match(cid, dup, True)
            elif (max(score, dup if st.lead else 0.0) >= st.threshold and quiet <= st.window
                  and shared[cid] >= min(st.min_shared, len(vec))):
                m = Match(cid, max(score, dup if st.lead else 0.0))
            else:
                continue
            if (m.duplicate, m.score, -cid) > (best.duplicate, best.score, -(best.id or 0)):
                best = m
        return best

    def absorb(self, incident_id: int, vec: dict[str, float], target: str | None, category: str | None,
               when: datetime | None) -> GroupState:
        """Add a post's vector to an incident (a new one when `incident_id` is not known yet)."""
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
        state.size += 1
        if state.category is None:
            state.category = category
        if when is not None and (state.last_seen is None or when > state.last_seen):
            state.last_seen = when
        self.add_state(state)
        return state

    def group(self, text: str, target: str | None = None, category: str | None = None,
              when: datetime | None = None, new_id: int | None = None, tags: bool = True) -> tuple[int, Match]:
        """Place one post: returns (incident id, match). Used offline (`repwatch group`, the bench);
        the pipeline calls match() and absorb() around its database writes."""
        vec = vector(text, drop=(target,) if target else (), tags=tags)
        self._placed += 1
        if when is not None and self._placed % 1000 == 0:
            self.expire(when)
        m = self.match(vec, target, category, when)
        incident_id = m.id
        if incident_id is None:
            incident_id = new_id if new_id is not None else self._next
        self.absorb(incident_id, vec, target, category, when)
        return incident_id, m
