"""DingTalk group robot (钉钉自定义机器人), Markdown message.

With `secret` (加签), each request carries `timestamp` (ms) and `sign` query parameters:
sign = urlencode(base64(HMAC-SHA256(key=secret, msg="<timestamp>\\n<secret>"))), as DingTalk documents.
A robot takes 20 messages a minute (more, and DingTalk blocks it for 10 minutes) and 20,000 bytes of
text a message: `limits` keeps both (robots.py, limits.py). Error 130101 (sending too fast) waits
`limits.throttled_wait` and is tried again; other error codes fail with DingTalk's message."""
from __future__ import annotations

import base64
import hashlib
import hmac
from datetime import timedelta

from pydantic import Field

from alerts.notify.base import Alert, Outcome
from alerts.notify.http import OptionalSecret, request
from alerts.notify.limits import ByteLimits, Rate, split
from alerts.notify.render import heading, markdown
from alerts.notify.robots import ChatNotifier, ChatOptions, robot_outcome
from storage.types import Duration



class DingTalkLimits(ByteLimits):
    max_bytes: int = Field(default=20_000, ge=200, le=20_000, description="UTF-8 bytes of Markdown text a message")
    rate: list[Rate] = Field(default_factory=lambda: [Rate(messages=20, per=timedelta(minutes=1))], min_length=1)
    throttled_wait: Duration = timedelta(minutes=10)   # DingTalk blocks a robot 10 minutes past its rate

TOO_FAST = {130101}


class DingTalkOptions(ChatOptions):
    secret: OptionalSecret = Field(default=None, description="加签 secret, SEC…")
    at_mobiles: list[str] = Field(default_factory=list, description="phone numbers to @ on urgent alerts")
    limits: DingTalkLimits = Field(default_factory=DingTalkLimits)


def sign(secret: str, timestamp_ms: str) -> str:
    digest = hmac.new(secret.encode(), f"{timestamp_ms}\n{secret}".encode(), hashlib.sha256).digest()
    return base64.b64encode(digest).decode()


class DingTalkNotifier(ChatNotifier[DingTalkOptions]):
    kind = "dingtalk"
    service = "DingTalk"
    Options = DingTalkOptions

    def bodies(self, alert: Alert) -> list[dict]:
        mobiles = self.options.at_mobiles if alert.severity == "urgent" else []
        # DingTalk only notifies names written in the text: they close the last part, once it all arrived
        mention = "\n\n" + " ".join(f"@{m}" for m in mobiles) if mobiles else ""
        limit, size = self.limits.size()
        parts = split(markdown(alert), limit - size(mention), size=size, max_parts=self.limits.max_parts)
        title, n = heading(alert)[:60], len(parts)
        out = []
        for i, text in enumerate(parts, 1):
            last = i == n
            out.append({"msgtype": "markdown",
                        "markdown": {"title": title if n == 1 else f"{title[:50]} ({i}/{n})",
                                     "text": text + (mention if last else "")},
                        "at": {"atMobiles": mobiles if last else [], "isAtAll": False}})
        return out

    def post(self, body: dict) -> Outcome:
        params = {}
        if self.options.secret is not None:
            stamp = str(int(self.wall() * 1000))
            params = {"timestamp": stamp, "sign": sign(self.options.secret.get_secret_value(), stamp)}
        result = request("POST", self.options.url, self.options, json=body, params=params, sleep=self.sleep)
        return robot_outcome(result, code_keys=("errcode",), too_fast=TOO_FAST, service=self.service,
                             retry_after=self.limits.throttled_wait.total_seconds())
