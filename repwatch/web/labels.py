"""What the team reads on screen: Chinese first, with the English key (DOMAIN.md's terms)."""
from __future__ import annotations

from storage.vocabulary import CATEGORIES, CATEGORY_ZH as CATEGORY, SEVERITY_RANK, SEVERITY_ZH as SEVERITY
from storage.vocabulary import LABELS as VOCABULARY, STATE_ZH as STATE
from storage.vocabulary import SEVERITIES as _MILDEST_FIRST
from storage.vocabulary import signal_label   # one translation for the web, the emails and the robots

SEVERITIES = tuple(reversed(_MILDEST_FIRST))   # the queue's filters list the most burning first
__all__ = ["CATEGORIES", "CATEGORY", "SEVERITIES", "SEVERITY", "SEVERITY_RANK", "STATE", "HEALTH", "pair", "signal_label"]

HEALTH = VOCABULARY["health"]["zh"]

EVENT = {
    "opened": "开单", "evidence": "新证据", "state": "状态变更", "reopened": "重新打开", "assign": "分派",
    "note": "备注", "follow_up": "回访结果", "silence": "静默", "escalated": "升级", "escalation": "升级",
    "correction": "更正", "reply": "答复客户", "merged": "合并", "merged_into": "已合并到",
}


def pair(table: dict[str, str], key: str | None) -> str:
    """'紧急 urgent'; unknown keys show as they are, so new values from other stages still display."""
    if not key:
        return "-"
    zh = table.get(key)
    return f"{zh} {key}" if zh else key
