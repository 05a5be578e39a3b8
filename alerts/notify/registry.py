"""Notifiers found by short name (storage.plugins.Registry). Third-party notifiers register through the
`repwatch.notifiers` entry-point group, the same way as these built-ins."""
from __future__ import annotations

from typing import Any

from alerts.exceptions import UnknownNotifier
from alerts.notify.base import Notifier
from storage.plugins import Registry

# The abstract base is only used in issubclass() checks, never instantiated; mypy refuses any abstract
# class where type[...] is expected (python/mypy#4717).
NOTIFIERS: Registry[Notifier[Any]] = Registry("notifier", Notifier, "repwatch.notifiers", {  # type: ignore[type-abstract]
    "email": "alerts.notify.email:EmailNotifier",
    "webhook": "alerts.notify.webhook:WebhookNotifier",
    "dingtalk": "alerts.notify.dingtalk:DingTalkNotifier",
    "wecom": "alerts.notify.wecom:WeComNotifier",
    "feishu": "alerts.notify.feishu:FeishuNotifier",
    "slack": "alerts.notify.slack:SlackNotifier",
    "jira": "alerts.notify.jira:JiraNotifier",
    "zendesk": "alerts.notify.zendesk:ZendeskNotifier",
}, unknown=UnknownNotifier)

register = NOTIFIERS.register
known_notifiers = NOTIFIERS.known
get_notifier = NOTIFIERS.get

__all__ = ["NOTIFIERS", "UnknownNotifier", "get_notifier", "known_notifiers", "register"]
