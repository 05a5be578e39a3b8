"""WeCom group robot (企业微信群机器人), Markdown message. The webhook URL carries the robot's key;
there is no signing. A robot takes 20 messages a minute and 4,096 bytes of Markdown content a message
(2,048 for plain text, which is not used): `limits` keeps both (robots.py, limits.py). Error 45009 (API
freq out of limit) waits `limits.throttled_wait` and is tried again."""
from __future__ import annotations

from datetime import timedelta

from pydantic import Field

from alerts.notify.base import Alert, Outcome
from alerts.notify.http import request
from alerts.notify.limits import ByteLimits, Rate, split
from alerts.notify.render import markdown
from alerts.notify.robots import ChatNotifier, ChatOptions, robot_outcome

MAX_BYTES = 4096   # WeCom's limit for markdown content


class WeComLimits(ByteLimits):
    max_bytes: int = Field(default=MAX_BYTES, ge=200, le=MAX_BYTES, description="UTF-8 bytes of Markdown content "
                           "a message")
    rate: list[Rate] = Field(default_factory=lambda: [Rate(messages=20, per=timedelta(minutes=1))], min_length=1)

TOO_FAST = {45009}


class WeComOptions(ChatOptions):
    mention: list[str] = Field(default_factory=list, description="user ids to <@mention> on urgent alerts")
    limits: WeComLimits = Field(default_factory=WeComLimits)


class WeComNotifier(ChatNotifier[WeComOptions]):
    kind = "wecom"
    service = "WeCom"
    Options = WeComOptions

    def bodies(self, alert: Alert) -> list[dict]:
        mention = ""
        if alert.severity == "urgent" and self.options.mention:
            mention = "\n" + " ".join(f"<@{u}>" for u in self.options.mention)
        limit, size = self.limits.size()
        parts = split(markdown(alert), limit - size(mention), size=size, max_parts=self.limits.max_parts)
        parts[-1] += mention
        return [{"msgtype": "markdown", "markdown": {"content": part}} for part in parts]

    def post(self, body: dict) -> Outcome:
        result = request("POST", self.options.url, self.options, json=body, sleep=self.sleep)
        return robot_outcome(result, code_keys=("errcode",), too_fast=TOO_FAST, service=self.service,
                             retry_after=self.limits.throttled_wait.total_seconds())
