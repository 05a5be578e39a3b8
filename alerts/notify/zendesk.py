"""Zendesk Support through its REST API.

Idempotent: the Zendesk ticket's `external_id` is `repwatch-ticket-<id>`. Before creating, the
tickets with that external_id are listed; alerts after the first become internal notes, each with a
`[repwatch:<alert key>]` marker checked before posting. Auth: `email` + `api_token`
(`{email}/token:{api_token}`, basic)."""
from __future__ import annotations

import httpx
from pydantic import Field, SecretStr

from alerts.notify.base import Alert, Delivered, Notifier, Outcome
from alerts.notify.http import UrlOptions, request
from alerts.notify.trackers import body, marker, record_key

PRIORITY = {"urgent": "urgent", "important": "high", "general": "normal"}


class ZendeskOptions(UrlOptions):
    email: str
    api_token: SecretStr
    tags: list[str] = Field(default_factory=lambda: ["repwatch"])
    priorities: dict[str, str] = Field(default_factory=lambda: dict(PRIORITY), description="severity → Zendesk priority")


class ZendeskNotifier(Notifier[ZendeskOptions]):
    kind = "zendesk"
    Options = ZendeskOptions

    def _call(self, method: str, path: str, **kw):
        o = self.options
        return request(method, o.url.rstrip("/") + path, o, auth=(f"{o.email}/token", o.api_token.get_secret_value()),
                       headers={"Accept": "application/json"}, sleep=self.sleep, **kw)

    def send(self, alert: Alert) -> Outcome:
        external_id = record_key(alert)
        found = self._call("GET", "/api/v2/tickets.json", params={"external_id": external_id})
        if not isinstance(found, httpx.Response):
            return found
        tickets = found.json().get("tickets") or []
        if not tickets:
            made = self._call("POST", "/api/v2/tickets.json", json={"ticket": {
                "subject": f"[{alert.severity}] {alert.title}"[:250], "comment": {"body": body(alert), "public": False},
                "priority": self.options.priorities.get(alert.severity, "normal"), "external_id": external_id,
                "tags": sorted(set(self.options.tags))}})
            if not isinstance(made, httpx.Response):
                return made
            ident = str(made.json()["ticket"]["id"])
            return Delivered(f"Zendesk ticket {ident} created", ref=ident)
        ident = str(tickets[0]["id"])
        comments = self._call("GET", f"/api/v2/tickets/{ident}/comments.json")
        if not isinstance(comments, httpx.Response):
            return comments
        if any(marker(alert) in (c.get("body") or "") for c in comments.json().get("comments") or []):
            return Delivered(f"Zendesk ticket {ident} already has this alert", ref=ident)
        updated = self._call("PUT", f"/api/v2/tickets/{ident}.json", json={"ticket": {
            "comment": {"body": body(alert), "public": False},
            "priority": self.options.priorities.get(alert.severity, "normal")}})
        if not isinstance(updated, httpx.Response):
            return updated
        return Delivered(f"Zendesk ticket {ident} updated", ref=ident)
