"""DingTalk group robot (钉钉自定义机器人), Markdown message.

With `secret` (加签), each request carries `timestamp` (ms) and `sign` query parameters:
sign = urlencode(base64(HMAC-SHA256(key=secret, msg="<timestamp>\\n<secret>"))), as DingTalk documents.
Error 130101 (sending too fast) is retried later; other error codes fail with DingTalk's message."""
from __future__ import annotations

import base64
import hashlib
import hmac

from pydantic import Field

from alerts.notify.base import Alert, Notifier, Outcome
from alerts.notify.http import OptionalSecret, UrlOptions, request
from alerts.notify.render import heading, markdown
from alerts.notify.robots import robot_outcome


class DingTalkOptions(UrlOptions):
    secret: OptionalSecret = Field(default=None, description="加签 secret, SEC…")
    at_mobiles: list[str] = Field(default_factory=list, description="phone numbers to @ on urgent alerts")


def sign(secret: str, timestamp_ms: str) -> str:
    digest = hmac.new(secret.encode(), f"{timestamp_ms}\n{secret}".encode(), hashlib.sha256).digest()
    return base64.b64encode(digest).decode()


class DingTalkNotifier(Notifier[DingTalkOptions]):
    kind = "dingtalk"
    Options = DingTalkOptions

    def send(self, alert: Alert) -> Outcome:
        text = markdown(alert)
        mobiles = self.options.at_mobiles if alert.severity == "urgent" else []
        if mobiles:
            text += "\n\n" + " ".join(f"@{m}" for m in mobiles)   # DingTalk only notifies names in the text
        body = {"msgtype": "markdown", "markdown": {"title": heading(alert)[:60], "text": text},
                "at": {"atMobiles": mobiles, "isAtAll": False}}
        params = {}
        if self.options.secret is not None:
            stamp = str(int(self.wall() * 1000))
            params = {"timestamp": stamp, "sign": sign(self.options.secret.get_secret_value(), stamp)}
        result = request("POST", self.options.url, self.options, json=body, params=params, sleep=self.sleep)
        return robot_outcome(result, code_keys=("errcode",), retry_codes={130101}, service="DingTalk")
