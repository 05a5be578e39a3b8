"""Notifiers found by short name; built-ins are dotted paths imported on first use, third-party ones
come from the `repwatch.notifiers` entry-point group."""
from __future__ import annotations

import importlib
from importlib.metadata import entry_points

from alerts.notify.base import Notifier

BUILTINS: dict[str, str] = {
    "email": "alerts.notify.email:EmailNotifier",
    "webhook": "alerts.notify.webhook:WebhookNotifier",
    "dingtalk": "alerts.notify.dingtalk:DingTalkNotifier",
    "wecom": "alerts.notify.wecom:WeComNotifier",
    "feishu": "alerts.notify.feishu:FeishuNotifier",
    "slack": "alerts.notify.slack:SlackNotifier",
    "jira": "alerts.notify.jira:JiraNotifier",
    "zendesk": "alerts.notify.zendesk:ZendeskNotifier",
}
_loaded: dict[str, type[Notifier]] = {}


class UnknownNotifier(KeyError):
    def __str__(self) -> str:
        return self.args[0]


def _plugins() -> dict[str, str]:
    return {ep.name: ep.value for ep in entry_points(group="repwatch.notifiers")}


def known_notifiers() -> list[str]:
    return sorted(set(BUILTINS) | set(_loaded) | set(_plugins()))


def register(kind: str, cls_or_path: type[Notifier] | str) -> None:
    if isinstance(cls_or_path, str):
        BUILTINS[kind] = cls_or_path
        _loaded.pop(kind, None)
    else:
        _loaded[kind] = cls_or_path


def get_notifier(kind: str) -> type[Notifier]:
    if kind in _loaded:
        return _loaded[kind]
    path = BUILTINS.get(kind) or _plugins().get(kind)
    if path is None:
        raise UnknownNotifier(f"unknown notifier kind {kind!r}; known kinds: {', '.join(known_notifiers())}")
    module_name, _, attr = path.partition(":")
    cls = getattr(importlib.import_module(module_name), attr)
    _loaded[kind] = cls
    return cls
