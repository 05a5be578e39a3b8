"""What the team reads on screen: Chinese first, with the English key (DOMAIN.md's terms)."""
from __future__ import annotations

SEVERITIES = ("urgent", "important", "general")
SEVERITY_RANK = {"none": 0, "general": 1, "important": 2, "urgent": 3}
SEVERITY = {"urgent": "紧急", "important": "重要", "general": "一般", "none": "无"}

STATE = {
    "new": "新建", "triaged": "已分类", "assigned": "已分派", "investigating": "调查中",
    "resolved": "已解决", "followed_up": "已回访", "closed": "已关闭", "reopened": "重新打开",
}

CATEGORIES = ("product", "service", "price", "delivery", "after_sales", "communication", "promise")
CATEGORY = {
    "product": "产品质量", "service": "服务态度", "price": "价格收费", "delivery": "交付物流",
    "after_sales": "售后", "communication": "信息沟通", "promise": "承诺未兑现",
}

HEALTH = {"ok": "正常", "degraded": "降级", "failing": "故障", "silent": "沉默", "unknown": "未知"}

EVENT = {
    "opened": "开单", "evidence": "新证据", "state": "状态变更", "reopened": "重新打开", "assign": "分派",
    "note": "备注", "follow_up": "回访结果", "silence": "静默", "escalated": "升级", "escalation": "升级",
    "correction": "更正",
}

SIGNAL_KINDS = {
    "repeat": "反复出现", "unresolved": "长期未解决", "media": "媒体曝光", "legal": "法律",
    "regulator": "监管投诉", "warning": "公开劝退", "head_office": "要求总部处理", "safety": "安全",
    "intensity": "情绪强烈", "company": "指向商家", "reach": "影响面", "rating": "低评分",
}


def pair(table: dict[str, str], key: str | None) -> str:
    """'紧急 urgent'; unknown keys show as they are, so new values from other stages still display."""
    if not key:
        return "-"
    zh = table.get(key)
    return f"{zh} {key}" if zh else key


def signal_label(signal: str) -> str:
    """Signals are 'kind:word' (e.g. 'media:曝光'); show the kind in Chinese with the word."""
    kind, _, word = signal.partition(":")
    zh = SIGNAL_KINDS.get(kind) or CATEGORY.get(kind)
    return f"{zh}·{word}" if zh and word else signal
