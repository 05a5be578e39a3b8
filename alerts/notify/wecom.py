"""WeCom group robot (企业微信群机器人), Markdown message. The webhook URL carries the robot's key;
there is no signing. Error 45009 (over the rate limit: 20 messages a minute) is retried later."""
from __future__ import annotations

from pydantic import Field

from alerts.notify.base import Alert, Notifier, Outcome
from alerts.notify.http import UrlOptions, request
from alerts.notify.render import markdown
from alerts.notify.robots import robot_outcome

MAX_BYTES = 4096   # WeCom's limit for markdown content


class WeComOptions(UrlOptions):
    mention: list[str] = Field(default_factory=list, description="user ids to <@mention> on urgent alerts")


def clip_bytes(text: str, limit: int) -> str:
    data = text.encode("utf-8")
    if len(data) <= limit:
        return text
    return data[: limit - 3].decode("utf-8", errors="ignore") + "…"


class WeComNotifier(Notifier[WeComOptions]):
    kind = "wecom"
    Options = WeComOptions

    def send(self, alert: Alert) -> Outcome:
        text = markdown(alert)
        if alert.severity == "urgent" and self.options.mention:
            text += "\n" + " ".join(f"<@{u}>" for u in self.options.mention)
        body = {"msgtype": "markdown", "markdown": {"content": clip_bytes(text, MAX_BYTES)}}
        result = request("POST", self.options.url, self.options, json=body, sleep=self.sleep)
        return robot_outcome(result, code_keys=("errcode",), retry_codes={45009}, service="WeCom")
