"""Slack incoming webhook, Block Kit message with a plain-text fallback. Post text is escaped the way
Slack documents (&, <, >), so it cannot form links or mentions. Slack answers "ok"; 4xx bodies name
the problem (invalid_token, channel_not_found, …) and are not retried; 5xx are; 429 waits Retry-After.

Slack takes about one message a second per webhook and 40,000 characters of text; a section block
3,000. An alert whose summary does not fit in its blocks goes out as text, split into numbered parts
when it passes `limits.max_chars` (robots.py, limits.py)."""
from __future__ import annotations

import httpx
from pydantic import Field

from alerts.notify.base import Alert, Delivered, Outcome
from alerts.notify.http import request
from alerts.notify.limits import SlackLimits, split
from alerts.notify.render import (SEVERITY_ZH, deadline_line, figures_line, heading, is_digest, plain, slack_escape,
                                  slack_link)
from alerts.notify.robots import ChatNotifier, ChatOptions

SECTION = 3000     # Slack's limit for a section block's text
SUMMARY = 2000     # the summary shown in blocks; a longer one goes out as text, whole


class SlackOptions(ChatOptions):
    limits: SlackLimits = Field(default_factory=SlackLimits)


def blocks(alert: Alert) -> list[dict]:
    due = deadline_line(alert)
    head: list[dict] = [{"type": "header", "text": {"type": "plain_text", "text": heading(alert)[:150]}},
                        {"type": "section", "text": {"type": "mrkdwn", "text": slack_escape(alert.summary, SUMMARY)}},
                        {"type": "context", "elements": [{"type": "mrkdwn", "text": slack_escape(
               f"category: {alert.category or '-'} · severity: {alert.severity} ({SEVERITY_ZH.get(alert.severity, '')})"
               + (f" · {due}" if due else "")
               + (f" · {figures_line(alert)}" if alert.figures else ""), 1000)}]}]
    out = head[: 2 if is_digest(alert) else 3]
    for e in alert.evidence:
        link = slack_link(e.get("url"), "source")
        who = f" — {slack_escape(e.get('author'), 60)}" if e.get("author") else ""
        out.append({"type": "section", "text": {"type": "mrkdwn", "text": f"> {slack_escape(e.get('text'))}{who}"
                                                 + (f" {link}" if link else "")}})
    link = slack_link(alert.url, "Open dashboard" if is_digest(alert) else "Open ticket")
    if link:
        out.append({"type": "section", "text": {"type": "mrkdwn", "text": link}})
    return out


def text_lines(alert: Alert) -> str:
    """The plain rendering, escaped line by line (newlines kept), whole."""
    return "\n".join(slack_escape(line, len(line)) for line in plain(alert).splitlines())


class SlackNotifier(ChatNotifier[SlackOptions]):
    kind = "slack"
    service = "Slack"
    Options = SlackOptions

    def bodies(self, alert: Alert) -> list[dict]:
        if len(" ".join(alert.summary.split())) <= SUMMARY:
            return [{"text": slack_escape(plain(alert), SECTION), "blocks": blocks(alert)}]
        limit, size = self.limits.size()
        return [{"text": part} for part in split(text_lines(alert), limit, size=size, max_parts=self.limits.max_parts)]

    def post(self, body: dict) -> Outcome:
        result = request("POST", self.options.url, self.options, json=body, sleep=self.sleep,
                         throttled=self.limits.throttled_wait.total_seconds())
        if isinstance(result, httpx.Response):
            return Delivered(f"Slack: {result.text[:40]}")
        return result
