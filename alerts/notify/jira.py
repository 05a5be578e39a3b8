"""Jira (Cloud, Server or Data Center) through its REST API v2.

Idempotent: the issue carries the label `repwatch-ticket-<id>`. Before creating, a JQL search for
that label finds the issue an earlier attempt made; alerts after the first become comments, each
with a `[repwatch:<alert key>]` marker checked before posting. Auth: `email` + `api_token` (Cloud,
basic) or `api_token` alone (a Server/DC personal access token, bearer).
Jira Cloud's search index can lag a few seconds behind a create; retries are minutes apart."""
from __future__ import annotations

from typing import Optional

import httpx
from pydantic import Field, SecretStr

from alerts.notify.base import Alert, Delivered, Failed, Notifier, Outcome, Retryable
from alerts.notify.http import UrlOptions, request
from alerts.notify.trackers import body, marker, record_key


class JiraOptions(UrlOptions):
    project: str = Field(description="project key, e.g. CS")
    issue_type: str = "Task"
    email: Optional[str] = Field(default=None, description="with api_token: Jira Cloud basic auth")
    api_token: SecretStr
    labels: list[str] = Field(default_factory=lambda: ["repwatch"])
    priorities: dict[str, str] = Field(default_factory=dict, description="severity → Jira priority name, "
                                       "e.g. {urgent: Highest}; empty leaves Jira's default")
    search_path: str = Field(default="/rest/api/2/search", description="JQL search endpoint")


class JiraNotifier(Notifier[JiraOptions]):
    kind = "jira"
    Options = JiraOptions

    def _call(self, method: str, path: str, **kw):
        o = self.options
        token = o.api_token.get_secret_value()
        auth = (o.email, token) if o.email else None
        headers = {"Accept": "application/json", **({} if o.email else {"Authorization": f"Bearer {token}"})}
        return request(method, o.url.rstrip("/") + path, o, auth=auth, headers=headers, sleep=self.sleep, **kw)

    def _find(self, label: str):
        jql = f'project = "{self.options.project}" AND labels = "{label}" ORDER BY created ASC'
        found = self._call("GET", self.options.search_path,
                           params={"jql": jql, "fields": "key,description", "maxResults": 1})
        if not isinstance(found, httpx.Response):
            return found
        issues = found.json().get("issues") or []
        if not issues:
            return None
        return issues[0]["key"], ((issues[0].get("fields") or {}).get("description") or "")

    def send(self, alert: Alert) -> Outcome:
        label = record_key(alert)
        found = self._find(label)
        if isinstance(found, (Retryable, Failed)):
            return found
        if found is None:
            fields = {"project": {"key": self.options.project}, "summary": f"[{alert.severity}] {alert.title}"[:250],
                      "description": body(alert), "issuetype": {"name": self.options.issue_type},
                      "labels": sorted({*self.options.labels, label})}
            if alert.severity in self.options.priorities:
                fields["priority"] = {"name": self.options.priorities[alert.severity]}
            made = self._call("POST", "/rest/api/2/issue", json={"fields": fields})
            if not isinstance(made, httpx.Response):
                return made
            issue = made.json().get("key")
            return Delivered(f"Jira issue {issue} created", ref=issue)
        key, description = found
        if marker(alert) in description:
            return Delivered(f"Jira issue {key} was made for this alert", ref=key)
        comments = self._call("GET", f"/rest/api/2/issue/{key}/comment", params={"maxResults": 1000})
        if not isinstance(comments, httpx.Response):
            return comments
        if any(marker(alert) in (c.get("body") or "") for c in comments.json().get("comments") or []):
            return Delivered(f"Jira issue {key} already has this alert", ref=key)
        posted = self._call("POST", f"/rest/api/2/issue/{key}/comment", json={"body": body(alert)})
        if not isinstance(posted, httpx.Response):
            return posted
        return Delivered(f"Jira issue {key} commented", ref=key)
