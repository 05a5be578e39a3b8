"""Loopback stand-ins for the services the notifiers talk to. Each is a route table on a real HTTP
server that checks what the real service checks (signature, key, auth, message size, send rate) and
answers the way the real service answers, recording every message it accepts.

The robots keep their documented limits: DingTalk 20 messages a minute and 20,000 bytes of text, WeCom
20 a minute and 4,096 bytes of Markdown, Feishu 30 KB a message. Past the rate they answer "too fast"
(DingTalk 130101, WeCom 45009) on their own clock, `svc.clock`, which a test may share with the
notifier's to travel in time; `svc.too_fast_next` makes them say it for the next N messages anyway."""
from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
from dataclasses import dataclass, field
from urllib.parse import parse_qs

from repwatch.loopback import LoopbackHTTPServer, Request, Response

SECRET = "SEC-test-secret-0123456789"
TOKEN = "tok-123"


def ok_json(data, status=200) -> Response:
    return Response(json.dumps(data).encode(), status, {"Content-Type": "application/json"})


@dataclass
class Service:
    server: LoopbackHTTPServer
    path: str
    accepted: list = field(default_factory=list)     # what the service keeps (messages, issues)
    fail_next: list = field(default_factory=list)    # statuses to answer before behaving
    clock: object = time.time                        # the robot's own clock, for its rate limit
    too_fast_next: int = 0                           # answer "too fast" to this many messages first
    times: list = field(default_factory=list)        # when each accepted message arrived (svc.clock)

    def url(self) -> str:
        return self.server.url(self.path)

    def attempts(self) -> int:
        return sum(1 for r in self.server.requests if r.path.startswith(self.path))


def _failing(svc: Service):
    if svc.fail_next:
        status = svc.fail_next.pop(0)
        return Response(b'{"error": "boom"}', status, {"Content-Type": "application/json", "Retry-After": "0"})
    return None


def _too_fast(svc: Service, per_minute: int) -> bool:
    """The robot's own rate limit: more than `per_minute` in the last 60 s, or told to refuse."""
    if svc.too_fast_next:
        svc.too_fast_next -= 1
        return True
    now = svc.clock()
    return sum(1 for t in svc.times if t > now - 60) >= per_minute


def _accept(svc: Service, body) -> None:
    svc.accepted.append(body)
    svc.times.append(svc.clock())


def webhook(server) -> Service:
    svc = Service(server, "/hooks/repwatch")

    def route(req: Request) -> Response:
        if (bad := _failing(svc)) is not None:
            return bad
        stamp = req.headers.get("x-repwatch-timestamp", "")
        want = "sha256=" + hmac.new(SECRET.encode(), stamp.encode() + b"." + req.body, hashlib.sha256).hexdigest()
        if not hmac.compare_digest(req.headers.get("x-repwatch-signature", ""), want):
            return Response(b"bad signature", 401)
        svc.accepted.append({"json": json.loads(req.body), "headers": req.headers})
        return Response(b"", 204)

    server.routes[svc.path] = route
    return svc


def dingtalk(server) -> Service:
    svc = Service(server, "/robot/send")

    def route(req: Request) -> Response:
        if (bad := _failing(svc)) is not None:
            return bad
        q = {k: v[0] for k, v in parse_qs(req.query).items()}
        if q.get("access_token") != TOKEN:
            return ok_json({"errcode": 300001, "errmsg": "token is not exist"})
        want = base64.b64encode(hmac.new(SECRET.encode(), f"{q.get('timestamp')}\n{SECRET}".encode(),
                                         hashlib.sha256).digest()).decode()
        if q.get("sign") != want:
            return ok_json({"errcode": 310000, "errmsg": "sign not match"})
        body = json.loads(req.body.decode("utf-8", errors="strict"))
        if len(body["markdown"]["text"].encode()) > 20_000:   # the code is ours; the refusal is the point
            return ok_json({"errcode": 460101, "errmsg": "message too long, at most 20000 bytes"})
        if _too_fast(svc, 20):
            return ok_json({"errcode": 130101, "errmsg": "send too fast, exceed 20 times per minute"})
        _accept(svc, body)
        return ok_json({"errcode": 0, "errmsg": "ok"})

    server.routes[svc.path] = route
    svc.path_query = f"{svc.path}?access_token={TOKEN}"
    return svc


def wecom(server) -> Service:
    svc = Service(server, "/cgi-bin/webhook/send")

    def route(req: Request) -> Response:
        if (bad := _failing(svc)) is not None:
            return bad
        if parse_qs(req.query).get("key") != [TOKEN]:
            return ok_json({"errcode": 93000, "errmsg": "invalid webhook url"})
        body = json.loads(req.body.decode("utf-8", errors="strict"))
        if len(body["markdown"]["content"].encode()) > 4096:
            return ok_json({"errcode": 40058, "errmsg": "markdown.content exceed max length 4096"})
        if _too_fast(svc, 20):
            return ok_json({"errcode": 45009, "errmsg": "api freq out of limit"})
        _accept(svc, body)
        return ok_json({"errcode": 0, "errmsg": "ok"})

    server.routes[svc.path] = route
    svc.path_query = f"{svc.path}?key={TOKEN}"
    return svc


def feishu(server) -> Service:
    svc = Service(server, "/open-apis/bot/v2/hook/abc")

    def route(req: Request) -> Response:
        if (bad := _failing(svc)) is not None:
            return bad
        if len(req.body) > 30 * 1024:
            return ok_json({"code": 230025, "msg": "message content is too long"})
        body = json.loads(req.body.decode("utf-8", errors="strict"))
        want = base64.b64encode(hmac.new(f"{body.get('timestamp')}\n{SECRET}".encode(), b"",
                                         hashlib.sha256).digest()).decode()
        if body.get("sign") != want:
            return ok_json({"code": 19021, "msg": "sign match fail or timestamp is not within one hour"})
        if _too_fast(svc, 100):
            return ok_json({"code": 11232, "msg": "frequency limited"})
        _accept(svc, body)
        return ok_json({"code": 0, "msg": "success", "data": {}})

    server.routes[svc.path] = route
    return svc


def slack(server) -> Service:
    svc = Service(server, "/services/T000/B000/XXXX")

    def route(req: Request) -> Response:
        if (bad := _failing(svc)) is not None:
            return bad
        body = json.loads(req.body)
        if not body.get("text") or not isinstance(body.get("blocks", []), list) or len(body["text"]) > 40_000:
            return Response(b"invalid_payload", 400)
        if svc.too_fast_next:
            svc.too_fast_next -= 1
            return Response(b"rate_limited", 429, {"Retry-After": "30"})
        _accept(svc, body)
        return Response(b"ok", 200, {"Content-Type": "text/plain"})

    server.routes[svc.path] = route
    return svc


def _basic(req: Request) -> str:
    auth = req.headers.get("authorization", "")
    return base64.b64decode(auth[6:]).decode() if auth.startswith("Basic ") else ""


def jira(server) -> Service:
    """Issues with labels and comments; JQL understood as far as `labels = "x"`."""
    svc = Service(server, "/rest/api/2")
    issues: dict[str, dict] = {}
    svc.accepted = issues   # key -> {"fields", "comments"}

    def authed(req):
        return _basic(req) == f"bot@example.com:{TOKEN}"

    def search(req):
        if (bad := _failing(svc)) is not None:
            return bad
        if not authed(req):
            return Response(b'{"errorMessages":["unauthorized"]}', 401)
        jql = parse_qs(req.query)["jql"][0]
        label = jql.split('labels = "', 1)[1].split('"', 1)[0]
        found = [{"key": k, "fields": {"description": v["fields"]["description"]}}
                 for k, v in issues.items() if label in v["fields"]["labels"]]
        return ok_json({"issues": found[:1], "total": len(found)})

    def comments_route(key):
        def route(req):
            if req.method == "GET":
                return ok_json({"comments": [{"body": b} for b in issues[key]["comments"]]})
            issues[key]["comments"].append(json.loads(req.body)["body"])
            return ok_json({"id": str(len(issues[key]["comments"]))}, 201)
        return route

    def create(req):
        if (bad := _failing(svc)) is not None:
            return bad
        if not authed(req):
            return Response(b'{"errorMessages":["unauthorized"]}', 401)
        fields = json.loads(req.body)["fields"]
        if "summary" not in fields or "project" not in fields:
            return ok_json({"errors": {"summary": "required"}}, 400)
        key = f"{fields['project']['key']}-{len(issues) + 1}"
        issues[key] = {"fields": fields, "comments": []}
        server.routes[f"/rest/api/2/issue/{key}/comment"] = comments_route(key)
        if svc.lose_response:          # created, but the answer is lost on the way back
            svc.lose_response = False
            return Response(b"gateway timeout", 504)
        return ok_json({"id": str(len(issues)), "key": key}, 201)

    svc.lose_response = False
    server.routes["/rest/api/2/search"] = search
    server.routes["/rest/api/2/issue"] = create
    return svc


def zendesk(server) -> Service:
    svc = Service(server, "/api/v2")
    tickets: dict[int, dict] = {}
    svc.accepted = tickets

    def authed(req):
        return _basic(req) == f"bot@example.com/token:{TOKEN}"

    def comments_route(ident):
        def route(req):
            return ok_json({"comments": [{"body": b} for b in tickets[ident]["comments"]]})
        return route

    def update_route(ident):
        def route(req):
            if (bad := _failing(svc)) is not None:
                return bad
            t = json.loads(req.body)["ticket"]
            tickets[ident]["comments"].append(t["comment"]["body"])
            tickets[ident]["priority"] = t.get("priority", tickets[ident]["priority"])
            return ok_json({"ticket": {"id": ident}})
        return route

    def collection(req):
        if (bad := _failing(svc)) is not None:
            return bad
        if not authed(req):
            return Response(b'{"error":"Couldn\'t authenticate you"}', 401)
        if req.method == "GET":
            ext = parse_qs(req.query).get("external_id", [None])[0]
            return ok_json({"tickets": [{"id": i, "external_id": ext} for i, t in tickets.items()
                                        if t["external_id"] == ext], "count": 0})
        t = json.loads(req.body)["ticket"]
        ident = len(tickets) + 1
        tickets[ident] = {"subject": t["subject"], "external_id": t["external_id"], "priority": t["priority"],
                          "tags": t["tags"], "comments": [t["comment"]["body"]]}
        server.routes[f"/api/v2/tickets/{ident}/comments.json"] = comments_route(ident)
        server.routes[f"/api/v2/tickets/{ident}.json"] = update_route(ident)
        return ok_json({"ticket": {"id": ident}}, 201)

    server.routes["/api/v2/tickets.json"] = collection
    return svc


def options_for(kind: str, svc: Service) -> dict:
    """The notify: entry a team would write for this service (secrets included)."""
    fast = {"retries": 2, "backoff": "0s", "timeout": "5s"}
    base = svc.server.url("")
    return {
        "webhook": {"url": svc.url(), "secret": SECRET},
        "dingtalk": {"url": base + getattr(svc, "path_query", ""), "secret": SECRET, "at_mobiles": ["13800000000"]},
        "wecom": {"url": base + getattr(svc, "path_query", "")},
        "feishu": {"url": svc.url(), "secret": SECRET},
        "slack": {"url": svc.url()},
        "jira": {"url": base, "project": "CS", "email": "bot@example.com", "api_token": TOKEN,
                 "priorities": {"urgent": "Highest"}},
        "zendesk": {"url": base, "email": "bot@example.com", "api_token": TOKEN},
    }[kind] | fast


SERVICES = {"webhook": webhook, "dingtalk": dingtalk, "wecom": wecom, "feishu": feishu, "slack": slack,
            "jira": jira, "zendesk": zendesk}


def messages_text(kind: str, svc: Service) -> list[str]:
    """Everything a person would read, per accepted message, as one string each."""
    if kind in ("jira",):
        return [json.dumps(v, ensure_ascii=False) for v in svc.accepted.values()]
    if kind == "zendesk":
        return [json.dumps(v, ensure_ascii=False) for v in svc.accepted.values()]
    return [json.dumps(m, ensure_ascii=False) for m in svc.accepted]
