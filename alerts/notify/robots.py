"""What the chat channels share (DingTalk, WeCom and Feishu robots, Slack's incoming webhooks): a message
within the channel's size, sent in numbered parts when it is longer, and sends within the channel's rate
(alerts/notify/limits.py).

`ChatNotifier.send` builds the request bodies, then:
- when the rate would make the message wait longer than what is left of `limits.max_wait` (a budget for
  the whole run, so a burst of alerts cannot hold the alert stage for long), it sends nothing and answers
  Deferred: the dispatcher keeps the alert pending and a later run sends it (nothing dropped, nothing
  counted as a failed attempt);
- otherwise it sends the parts in order, waiting between them as the rate asks;
- when a part fails or the service says "too fast" (DingTalk 130101, WeCom 45009, Feishu 9499/11232/11233,
  HTTP 429), it answers with how many parts went out, so the next try of the same delivery starts with
  the next part instead of posting the first ones again; "too fast" also blocks the robot's window for
  `limits.throttled_wait`, so the rest of the run does not knock again.
The robots answer HTTP 200 with an error code in the JSON body; `robot_outcome` reads it."""
from __future__ import annotations

import hashlib
import json
from abc import abstractmethod
from typing import ClassVar, TypeVar

import httpx

from alerts.notify.base import Alert, Deferred, Delivered, Failed, Notifier, Outcome, Retryable
from alerts.notify.http import UrlOptions
from alerts.notify.limits import ChannelLimits, SendWindow

class ChatOptions(UrlOptions):
    """Keys every chat channel takes besides its own: `limits`, the channel's size and rate."""

    limits: ChannelLimits


O = TypeVar("O", bound=ChatOptions)


def robot_outcome(result, *, code_keys: tuple[str, ...], too_fast: set[int], retry_after: float,
                  service: str) -> Outcome:
    if not isinstance(result, httpx.Response):
        return result
    try:
        data = result.json()
    except ValueError:
        return Failed(f"{service}: answer is not JSON: {result.text[:200]!r}")
    code = next((data[k] for k in code_keys if k in data), None)
    if code in (0, None):
        return Delivered(f"{service}: ok")
    message = data.get("errmsg") or data.get("msg") or data.get("StatusMessage") or ""
    error = f"{service}: error {code}: {message}"
    return Deferred(f"{error} (too fast: waiting)", retry_after=retry_after) if code in too_fast else Failed(error)


def json_bytes(body: object) -> bytes:
    """The request body as sent: compact UTF-8 JSON, so its size is what the service counts."""
    return json.dumps(body, ensure_ascii=False, separators=(",", ":")).encode("utf-8")


class ChatNotifier(Notifier[O]):
    """A channel with a size and a rate. Subclasses say how an alert becomes bodies and how one is posted;
    their options carry `limits` (a ChannelLimits)."""

    service: ClassVar[str]

    def __init__(self, name: str, options: O, *, min_severity: str = "general"):
        super().__init__(name, options, min_severity=min_severity)
        # recent sends to this robot; the dispatcher swaps in the one it keeps in the database
        self.window = SendWindow()
        self.waited = 0.0   # seconds this notifier has waited for the rate (one is built per run)

    @property
    def limits(self) -> ChannelLimits:
        return self.options.limits

    def window_key(self) -> str | None:
        # the robot is its URL (its token is in it): notifiers posting to one robot share one window;
        # only a hash is kept, never the token
        return "rate:" + hashlib.sha256(self.options.url.encode()).hexdigest()[:32]

    def use_window(self, window: SendWindow) -> None:
        self.window = window

    def window_state(self) -> dict | None:
        """The window as the dispatcher keeps it: sends older than the longest rate window are dropped."""
        return self.window.state(self.wall(), self.limits.rate)

    @abstractmethod
    def bodies(self, alert: Alert) -> list[dict]:
        """The request bodies for this alert, each within the channel's size: one, or numbered parts."""

    @abstractmethod
    def post(self, body: dict) -> Outcome:
        """Send one body."""

    def send(self, alert: Alert) -> Outcome:
        bodies = self.bodies(alert)
        digest = hashlib.sha256(b"\0".join(json_bytes(b) for b in bodies)).hexdigest()[:16]
        resume = alert.resume or {}
        done = resume.get("parts", 0) if resume.get("digest") == digest else 0
        done = done if isinstance(done, int) and 0 <= done < len(bodies) else 0
        progress = {"parts": done, "digest": digest} if done else None
        rates, todo, now = self.limits.rate, len(bodies) - done, self.wall()
        last = self.window.schedule(todo, now, rates)[-1]
        # a run waits at most max_wait in all for this channel's rate, besides the parts of one message
        # waiting for each other (which a message must, when it has more parts than a window takes)
        allowed = max(0.0, self.limits.max_wait.total_seconds() - self.waited) + SendWindow.span(todo, rates)
        if last - now > allowed:
            why = ("the robot said too fast" if self.window.blocked_until > now
                   else f"rate {', '.join(map(str, rates))} used up")
            return Deferred(f"{self.service}: {why}; {todo} message(s) wait {last - now:.0f}s", progress=progress,
                            retry_after=max(1.0, last - now - allowed))
        for index in range(done, len(bodies)):
            at = self.window.schedule(1, self.wall(), rates)[0]
            if at > self.wall():
                pause = at - self.wall()
                self.waited += pause
                self.sleep(pause)
            self.window.record(max(self.wall(), at))   # a send that fails may still count at the robot
            outcome = self.post(bodies[index])
            if isinstance(outcome, Delivered):
                continue
            if isinstance(outcome, Deferred):
                self.window.block(self.wall() + outcome.retry_after)
            if isinstance(outcome, Retryable) and index:
                outcome.progress = {"parts": index, "digest": digest}
                outcome.error += f" (after {index} of {len(bodies)} parts)"
            return outcome
        return Delivered(f"{self.service}: ok" + (f", {len(bodies)} parts" if len(bodies) > 1 else ""))
