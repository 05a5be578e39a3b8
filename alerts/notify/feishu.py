"""Feishu / Lark custom bot (飞书自定义机器人), rich-text "post" message.

With `secret` (签名校验), the body carries `timestamp` (seconds) and
sign = base64(HMAC-SHA256(key="<timestamp>\\n<secret>", msg="")), as Feishu documents. Rich text is
structured JSON (text and link nodes), so post text cannot inject markup. A message is kept within
`limits.max_bytes` of JSON (30 KB, Feishu's message size): a longer alert goes out as several posts,
whole rows each, titled (1/3), (2/3)…; a row too long for one post is cut cleanly into several. The bot
takes 100 messages a minute and 5 a second; its rate-limit codes wait and are tried again."""
from __future__ import annotations

import base64
import hashlib
import hmac
import json
from datetime import timedelta
from functools import lru_cache

from pydantic import Field

from alerts.notify.base import Alert, Outcome
from alerts.notify.http import OptionalSecret, request
from alerts.notify.limits import TRIMMED, ByteLimits, Rate, pieces
from alerts.notify.render import MAX_TEXT, deadline_line, figures_line, heading, is_digest, link_label, safe_link
from alerts.notify.robots import ChatNotifier, ChatOptions, json_bytes, robot_outcome



class FeishuLimits(ByteLimits):
    max_bytes: int = Field(default=30_000, ge=200, le=30_720, description="UTF-8 bytes of JSON a message (the "
                           "whole request)")
    rate: list[Rate] = Field(default_factory=lambda: [Rate(messages=100, per=timedelta(minutes=1)),
                                                      Rate(messages=5, per=timedelta(seconds=1))], min_length=1)

TOO_FAST = {9499, 11232, 11233}
SIGNING = 96   # bytes the timestamp and sign add to a signed body


class FeishuOptions(ChatOptions):
    secret: OptionalSecret = Field(default=None, description="签名校验 secret")
    limits: FeishuLimits = Field(default_factory=FeishuLimits)


def sign(secret: str, timestamp: str) -> str:
    digest = hmac.new(f"{timestamp}\n{secret}".encode(), b"", hashlib.sha256).digest()
    return base64.b64encode(digest).decode()


def _text(value: str) -> dict:
    return {"tag": "text", "text": value}


def post_content(alert: Alert) -> list[list[dict]]:
    rows = [[_text(line)] for line in alert.summary.splitlines()]
    if not is_digest(alert):
        rows.append([_text(f"类别 category: {alert.category or '-'}; 严重度 severity: {alert.severity}")])
    if due := deadline_line(alert):
        rows.append([_text(due)])
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


def _post(title: str, rows: list[list[dict]]) -> dict:
    return {"msg_type": "post", "content": {"post": {"zh_cn": {"title": title, "content": rows}}}}


@lru_cache(maxsize=4096)
def _json_len(ch: str) -> int:
    """Bytes one character takes inside a JSON string (a quote or a control character is escaped)."""
    return len(json.dumps(ch, ensure_ascii=False).encode("utf-8")) - 2


def _json_size(text: str) -> int:
    return sum(_json_len(ch) for ch in text)


def _size(title: str, rows: list[list[dict]]) -> int:
    return len(json_bytes(_post(title, rows)))


def _fit_rows(rows: list[list[dict]], room: int) -> list[list[dict]]:
    """Rows, a row too long for one post cut into several (its links stay on the last)."""
    out = []
    for row in rows:
        if len(json_bytes(row)) + 1 <= room:
            out.append(row)
            continue
        links = [node for node in row if node.get("tag") != "text"]
        text = "".join(node.get("text", "") for node in row if node.get("tag") == "text")
        budget = room - len(json_bytes([_text(""), *links])) - 8
        cut = pieces(text, budget, size=_json_size)
        out += [[_text(piece)] for piece in cut[:-1]] + [[_text(cut[-1]), *links]]
    return out


class FeishuNotifier(ChatNotifier[FeishuOptions]):
    kind = "feishu"
    service = "Feishu"
    Options = FeishuOptions

    def bodies(self, alert: Alert) -> list[dict]:
        title, rows = heading(alert)[:100], post_content(alert)
        limit = self.limits.size()[0] - SIGNING
        if _size(title, rows) <= limit:
            return [_post(title, rows)]
        marked = f"{title[:88]} (99/99)"                 # the widest title a part can have
        room = limit - _size(marked, [])
        parts: list[list[list[dict]]] = [[]]
        for row in _fit_rows(rows, room):
            if parts[-1] and _size(marked, parts[-1] + [row]) > limit:
                parts.append([])
            parts[-1].append(row)
        if len(parts) > self.limits.max_parts:
            parts = parts[:self.limits.max_parts]
            note = [_text(TRIMMED.strip())]
            if safe_link(alert.url):
                note.append({"tag": "a", "text": "打开工单 open ticket", "href": safe_link(alert.url)})
            while parts[-1] and _size(marked, parts[-1] + [note]) > limit:
                parts[-1].pop()
            parts[-1].append(note)
        n = len(parts)
        return [_post(f"{title[:88]} ({i}/{n})", part) for i, part in enumerate(parts, 1)]

    def post(self, body: dict) -> Outcome:
        if self.options.secret is not None:
            stamp = str(int(self.wall()))
            body = {"timestamp": stamp, "sign": sign(self.options.secret.get_secret_value(), stamp), **body}
        result = request("POST", self.options.url, self.options, content=json_bytes(body),
                         headers={"Content-Type": "application/json; charset=utf-8"}, sleep=self.sleep)
        return robot_outcome(result, code_keys=("code", "StatusCode"), too_fast=TOO_FAST, service=self.service,
                             retry_after=self.limits.throttled_wait.total_seconds())
