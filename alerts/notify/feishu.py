"""Feishu / Lark custom bot (飞书自定义机器人), rich-text "post" message.

With `secret` (签名校验), the body carries `timestamp` (seconds) and
sign = base64(HMAC-SHA256(key="<timestamp>\\n<secret>", msg="")), as Feishu documents. Rich text is
structured JSON (text and link nodes), so post text cannot inject markup. Rate-limit codes are retried."""
from __future__ import annotations

import base64
import hashlib
import hmac

from pydantic import Field

from alerts.notify.base import Alert, Notifier, Outcome
from alerts.notify.http import OptionalSecret, UrlOptions, request
from alerts.notify.render import MAX_TEXT, figures_line, heading, is_digest, link_label, safe_link
from alerts.notify.robots import robot_outcome


class FeishuOptions(UrlOptions):
    secret: OptionalSecret = Field(default=None, description="签名校验 secret")


def sign(secret: str, timestamp: str) -> str:
    digest = hmac.new(f"{timestamp}\n{secret}".encode(), b"", hashlib.sha256).digest()
    return base64.b64encode(digest).decode()


def _text(value: str) -> dict:
    return {"tag": "text", "text": value}


def post_content(alert: Alert) -> list[list[dict]]:
    rows = [[_text(line)] for line in alert.summary.splitlines()]
    if not is_digest(alert):
        rows.append([_text(f"类别 category: {alert.category or '-'}; 严重度 severity: {alert.severity}")])
    if alert.figures and not is_digest(alert):
        rows.append([_text(figures_line(alert))])
    for e in alert.evidence:
        row = [_text("• " + " ".join((e.get("text") or "").split())[:MAX_TEXT]
                     + (f" — {e['author']}" if e.get("author") else "")
                     + (f" ({e['reach']} followers)" if e.get("reach") else "") + " ")]
        link = safe_link(e.get("url"))
        if link:
            row.append({"tag": "a", "text": "原文 source", "href": link})
        rows.append(row)
    if safe_link(alert.url):
        rows.append([{"tag": "a", "text": link_label(alert), "href": safe_link(alert.url)}])
    return rows


class FeishuNotifier(Notifier[FeishuOptions]):
    kind = "feishu"
    Options = FeishuOptions

    def send(self, alert: Alert) -> Outcome:
        body: dict = {"msg_type": "post", "content": {"post": {"zh_cn": {
            "title": heading(alert)[:100], "content": post_content(alert)}}}}
        if self.options.secret is not None:
            stamp = str(int(self.wall()))
            body = {"timestamp": stamp, "sign": sign(self.options.secret.get_secret_value(), stamp), **body}
        result = request("POST", self.options.url, self.options, json=body, sleep=self.sleep)
        return robot_outcome(result, code_keys=("code", "StatusCode"), retry_codes={9499, 11232, 11233},
                             service="Feishu")
