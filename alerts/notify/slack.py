"""Slack incoming webhook, Block Kit message with a plain-text fallback. Post text is escaped the way
Slack documents (&, <, >), so it cannot form links or mentions. Slack answers "ok"; 4xx bodies name
the problem (invalid_token, channel_not_found, …) and are not retried; 429 and 5xx are."""
from __future__ import annotations

import httpx

from alerts.notify.base import Alert, Delivered, Notifier, Outcome
from alerts.notify.http import UrlOptions, request
from alerts.notify.render import SEVERITY_ZH, figures_line, heading, is_digest, plain, slack_escape, slack_link


class SlackOptions(UrlOptions):
    pass


def blocks(alert: Alert) -> list[dict]:
    head: list[dict] = [{"type": "header", "text": {"type": "plain_text", "text": heading(alert)[:150]}},
           {"type": "section", "text": {"type": "mrkdwn", "text": slack_escape(alert.summary, 2000)}},
           {"type": "context", "elements": [{"type": "mrkdwn", "text": slack_escape(
               f"category: {alert.category or '-'} · severity: {alert.severity} ({SEVERITY_ZH.get(alert.severity, '')})"
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


class SlackNotifier(Notifier[SlackOptions]):
    kind = "slack"
    Options = SlackOptions

    def send(self, alert: Alert) -> Outcome:
        body = {"text": slack_escape(plain(alert), 3000), "blocks": blocks(alert)}
        result = request("POST", self.options.url, self.options, json=body, sleep=self.sleep)
        if isinstance(result, httpx.Response):
            return Delivered(f"Slack: {result.text[:40]}")
        return result
