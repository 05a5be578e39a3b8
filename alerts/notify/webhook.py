"""Generic JSON webhook: POST the alert as JSON.

With a `secret`, the request is signed like Stripe's webhooks: header `X-Repwatch-Timestamp: <unix
seconds>` and `X-Repwatch-Signature: sha256=<hex HMAC-SHA256 of "<timestamp>.<body>">`, so a receiver
can check both origin and freshness. `Idempotency-Key` names the delivery: the same when a send is tried
again (after a lost response, or a crash after the receiver took it), new when a still-firing alert is
announced again after repeat_interval; a receiver that keeps it drops the rare duplicate. The body's
`key` names the alert. Post text is passed as data;
evidence links that are not http(s) are dropped, so a receiver that renders them stays safe."""
from __future__ import annotations

import hashlib
import hmac
import json
from urllib.parse import quote

import httpx
from pydantic import Field

from alerts.notify.base import Alert, Delivered, Notifier, Outcome
from alerts.notify.http import OptionalSecret, UrlOptions, request
from alerts.notify.render import safe_link

PAYLOAD_VERSION = "1"


class WebhookOptions(UrlOptions):
    secret: OptionalSecret = Field(default=None, description="HMAC-SHA256 signing key")
    headers: dict[str, str] = Field(default_factory=dict, description="extra request headers")


def payload(alert: Alert) -> dict:
    return {"version": PAYLOAD_VERSION, "key": alert.key, "kind": alert.kind, "severity": alert.severity,
            "title": alert.title, "summary": alert.summary, "category": alert.category, "target": alert.target,
            "url": alert.url, "ticket_id": alert.ticket_id, "incident_id": alert.incident_id,
            "evidence": [{**e, "url": safe_link(e.get("url"))} for e in alert.evidence], "figures": alert.figures}


def sign(secret: str, timestamp: str, body: bytes) -> str:
    mac = hmac.new(secret.encode(), timestamp.encode() + b"." + body, hashlib.sha256)
    return "sha256=" + mac.hexdigest()


class WebhookNotifier(Notifier[WebhookOptions]):
    kind = "webhook"
    Options = WebhookOptions

    def send(self, alert: Alert) -> Outcome:
        body = json.dumps(payload(alert), ensure_ascii=False, sort_keys=True).encode("utf-8")
        headers = {**self.options.headers, "Content-Type": "application/json; charset=utf-8",
                   "Idempotency-Key": quote(alert.delivery or alert.key, safe=":/@")}   # headers are ASCII
        if self.options.secret is not None:
            stamp = str(int(self.wall()))
            headers["X-Repwatch-Timestamp"] = stamp
            headers["X-Repwatch-Signature"] = sign(self.options.secret.get_secret_value(), stamp, body)
        result = request("POST", self.options.url, self.options, content=body, headers=headers, sleep=self.sleep)
        if isinstance(result, httpx.Response):
            return Delivered(f"HTTP {result.status_code}")
        return result
