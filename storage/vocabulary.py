"""The shared vocabulary: severities, complaint categories, ticket states, and their zh/en labels.

Every stage speaks these words (sentiment grades, alerts route and escalate, the web and the digest
display), so they are defined once, here in storage, the one package every stage may import.
Adding a category is one edit to CATEGORIES and its two labels below (plus routing in the config)."""
from __future__ import annotations

from datetime import datetime
from typing import Literal


# -- severity (DOMAIN.md 分级): "none" is what a non-complaint gets ---------------------------------------
SEVERITIES = ("general", "important", "urgent")          # complaint grades, mildest first
SEVERITY_LEVELS = ("none",) + SEVERITIES                  # every value an Analysis can carry
SEVERITY_RANK = {s: i for i, s in enumerate(SEVERITY_LEVELS)}   # none 0 < general 1 < important 2 < urgent 3
PRIORITY = {"urgent": 1, "important": 2, "general": 3}   # ticket priority: 1 is worked first
Severity = Literal["general", "important", "urgent"]
SeverityLevel = Literal["none", "general", "important", "urgent"]


def severity_rank(severity: str | None) -> int:
    """Unknown or missing severities rank below 'none' would, so they never win a comparison."""
    return SEVERITY_RANK.get(severity or "", 0)


def severities_at_least(minimum: str) -> list[str]:
    return [s for s in SEVERITY_LEVELS if SEVERITY_RANK[s] >= SEVERITY_RANK[minimum]]


def more_severe(a: str | None, b: str | None) -> str | None:
    return a if severity_rank(a) >= severity_rank(b) else b


# -- categories (DOMAIN.md): what a complaint is about ------------------------------------------------
CATEGORIES = ("product", "service", "price", "delivery", "after_sales", "communication", "promise")
OTHER = "other"     # shown where a complaint has no category; never stored as a category
Category = Literal["product", "service", "price", "delivery", "after_sales", "communication", "promise"]

# -- the ticket process (DOMAIN.md's seven steps as states) -------------------------------------------
TICKET_STATES = ("new", "triaged", "assigned", "investigating", "waiting_customer", "resolved", "followed_up",
                 "closed")
OPEN_STATES = TICKET_STATES[:-1]
PAUSED_STATES = ("waiting_customer",)                      # the SLA clock stops while the team waits
RESOLVED_STATES = ("resolved", "followed_up", "closed")   # the resolution SLA is met in these
TicketState = Literal["new", "triaged", "assigned", "investigating", "waiting_customer", "resolved", "followed_up",
                      "closed"]

# -- labels: Chinese first (what the team reads), English beside it ----------------------------------
LABELS: dict[str, dict[str, dict[str, str]]] = {
    "severity": {
        "zh": {"urgent": "紧急", "important": "重要", "general": "一般", "none": "无"},
        "en": {"urgent": "urgent", "important": "important", "general": "general", "none": "none"},
    },
    "category": {
        "zh": {"product": "产品质量", "service": "服务态度", "price": "价格收费", "delivery": "交付物流",
               "after_sales": "售后", "communication": "信息沟通", "promise": "承诺未兑现", OTHER: "其他"},
        "en": {"product": "product", "service": "service", "price": "price", "delivery": "delivery",
               "after_sales": "after-sales", "communication": "communication", "promise": "broken promise",
               OTHER: "other"},
    },
    "state": {
        "zh": {"new": "新建", "triaged": "已分类", "assigned": "已分派", "investigating": "调查中",
               "waiting_customer": "等待客户", "resolved": "已解决", "followed_up": "已回访", "closed": "已关闭", "reopened": "重新打开"},
        "en": {"new": "new", "triaged": "triaged", "assigned": "assigned", "investigating": "investigating",
               "waiting_customer": "waiting for customer", "resolved": "resolved", "followed_up": "followed up", "closed": "closed", "reopened": "reopened"},
    },
    # a source's health (collectors/health.py decides it; the web and the digest show it)
    "health": {
        "zh": {"ok": "正常", "degraded": "异常", "failing": "失败", "silent": "沉默", "unknown": "未知",
               "not_run": "当日未运行"},
        "en": {"ok": "ok", "degraded": "degraded", "failing": "failing", "silent": "silent", "unknown": "unknown",
               "not_run": "not run that day"},
    },
    # what an incident's signals say (sentiment/ finds `kind:word`, alerts/ adds bare reasons such as
    # `reach` or `spread`); the web, the alert emails and the robots all show them through signal_label()
    "signal": {
        "zh": {"repeat": "反复出现", "unresolved": "长期未解决", "long_wait": "久等未果", "media": "媒体曝光",
               "legal": "法律", "regulator": "监管投诉", "warning": "公开劝退", "head_office": "要求总部处理",
               "safety": "安全", "intensity": "情绪强烈", "company": "指向商家", "target": "指向对象",
               "reach": "影响面", "rating": "低评分", "engagement": "互动激增", "spread": "扩散",
               "surge": "投诉激增", "dismissed": "已驳回", "error": "分析出错"},
        "en": {"repeat": "repeat", "unresolved": "unresolved", "long_wait": "long wait", "media": "media",
               "legal": "legal", "regulator": "regulator", "warning": "warning others", "head_office": "head office",
               "safety": "safety", "intensity": "strong feeling", "company": "names a company", "target": "target",
               "reach": "reach", "rating": "low rating", "engagement": "engagement surge", "spread": "spreading",
               "surge": "complaints rising", "dismissed": "dismissed", "error": "analysis error"},
    },
}
SEVERITY_ZH = LABELS["severity"]["zh"]
CATEGORY_ZH = LABELS["category"]["zh"]
STATE_ZH = LABELS["state"]["zh"]


def label(kind: str, key: str | None, locale: str = "zh") -> str:
    """The word for a key in one language; an unknown key shows as itself, so a value from a newer
    stage still displays."""
    if not key:
        return "-"
    return LABELS[kind][locale].get(key, key)


def signal_label(signal: str, locale: str = "zh") -> str:
    """A signal as people read it: `company:京东` is '指向商家·京东', a bare `reach` is '影响面'. Signals
    named after a category (`delivery:没到`) show the category's word. Unknown kinds show as they are."""
    kind, _, word = signal.partition(":")
    name = LABELS["signal"][locale].get(kind) or LABELS["category"][locale].get(kind)
    if not name:
        return signal
    return f"{name}·{word}" if word else name


# -- event time: when a post happened ---------------------------------------------------------------
def event_time(published: datetime | None, collected: datetime) -> datetime:
    """When the post happened, as far as we can trust it: a missing date, or one later than we saw the
    post (a wrong clock or a future-dated item), means 'when collected'. Used for incidents, spread,
    the digest and the evidence, so they all agree."""
    return published if published is not None and published <= collected else collected


def event_time_sql(published, collected):
    """event_time() as a SQL expression over two columns. Queries use the stored, indexed
    mention.happened_at (written by event_time() on every insert); this serves the one backfill of
    rows stored before that column existed (migration 0009). SQLAlchemy is imported here, not at the top:
    the analyzer reads this module's word lists and must not pay for loading SQLAlchemy."""
    from sqlalchemy import and_, case

    return case((and_(published.is_not(None), published <= collected), published), else_=collected)
