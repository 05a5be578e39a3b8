"""What the team reads on screen: Chinese first, with the English key (DOMAIN.md's terms)."""
from __future__ import annotations

from storage.vocabulary import CATEGORIES, CATEGORY_ZH as CATEGORY, SEVERITY_RANK, SEVERITY_ZH as SEVERITY
from storage.vocabulary import LABELS as VOCABULARY, STATE_ZH as STATE
from storage.vocabulary import SEVERITIES as _MILDEST_FIRST

SEVERITIES = tuple(reversed(_MILDEST_FIRST))   # the queue's filters list the most burning first
__all__ = ["CATEGORIES", "CATEGORY", "SEVERITIES", "SEVERITY", "SEVERITY_RANK", "STATE", "HEALTH", "pair", "signal_label"]

HEALTH = VOCABULARY["health"]["zh"]

EVENT = {
    "opened": "开单", "evidence": "新证据", "state": "状态变更", "reopened": "重新打开", "assign": "分派",
    "note": "备注", "follow_up": "回访结果", "silence": "静默", "escalated": "升级", "escalation": "升级",
    "correction": "更正", "reply": "答复客户", "merged": "合并", "merged_into": "已合并到",
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
