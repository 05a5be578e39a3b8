"""One contract, every notifier: each delivers to a real loopback server that checks the payload and the
signature, says Retryable for 5xx, timeouts and unreachable hosts, Failed for other 4xx, and keeps
hostile post text inert. Email is tested against the aiosmtpd sink."""
from __future__ import annotations

import json

import pytest

from alerts.notify.base import Alert, Delivered, Failed, Retryable
from alerts.notify.registry import get_notifier, known_notifiers
from repwatch.loopback import Response, free_port
from tests.alerts.services import SECRET, SERVICES, messages_text, options_for

HTTP_KINDS = sorted(SERVICES)


def alert(**kw) -> Alert:
    base = dict(
        key="ticket:7:opened", kind="ticket", title="快送外卖吃出头发，商家还不认", severity="urgent",
        summary="新工单 #7 (new ticket): 快送外卖 / 产品质量 product", category="product", ticket_id=7, incident_id=3,
        target="快送外卖", url="http://dash.example/tickets/7",
        evidence=[{"text": "快送外卖吃出头发，商家还不认，大家避雷", "url": "https://weibo.example/p/1", "author": "小王",
                   "reach": 52000}],
        figures={"count": 6, "expected": 0.4})
    return Alert(**{**base, **kw})


HOSTILE = {"text": "<script>alert(1)</script> [点我领红包](http://evil.example/x) ![](http://evil.example/i.png) <@U123>",
           "url": "javascript:alert(1)", "author": "[管理员](http://evil.example)", "reach": 10}




def build(kind: str, options: dict):
    cls = get_notifier(kind)
    notifier = cls(f"test-{kind}", cls.Options.model_validate(options))
    notifier.sleep = lambda seconds: None     # backoff waits are not what these tests measure
    return notifier


def test_every_builtin_is_registered_and_covered():
    assert set(known_notifiers()) >= {"email", *HTTP_KINDS}
    assert set(HTTP_KINDS) | {"email"} == {"email", "webhook", "dingtalk", "wecom", "feishu", "slack", "jira", "zendesk"}


@pytest.mark.parametrize("kind", HTTP_KINDS)
def test_delivers_with_payload_and_signature_checked_by_the_server(server, kind):
    svc = SERVICES[kind](server)
    outcome = build(kind, options_for(kind, svc)).send(alert())
    assert isinstance(outcome, Delivered), outcome
    texts = messages_text(kind, svc)
    assert len(texts) == 1
    for needle in ("快送外卖吃出头发", "urgent", "https://weibo.example/p/1", "52000", "product"):
        assert needle in texts[0], (kind, needle)
    if kind in ("jira", "zendesk"):
        assert outcome.ref and "[repwatch:ticket:7:opened]" in texts[0]


def test_webhook_body_is_the_documented_json_with_idempotency_key(server):
    svc = SERVICES["webhook"](server)
    build("webhook", options_for("webhook", svc)).send(alert())
    got = svc.accepted[0]
    assert got["headers"]["idempotency-key"] == "ticket:7:opened"
    assert got["json"]["version"] == "1" and got["json"]["figures"] == {"count": 6, "expected": 0.4}
    assert set(got["json"]) == {"version", "key", "kind", "severity", "title", "summary", "category", "target",
                                "url", "ticket_id", "incident_id", "evidence", "figures"}


@pytest.mark.parametrize("kind", ["webhook", "dingtalk", "feishu"])
def test_a_wrong_secret_is_refused_by_the_server_and_not_retried(server, kind):
    svc = SERVICES[kind](server)
    outcome = build(kind, {**options_for(kind, svc), "secret": "wrong"}).send(alert())
    assert isinstance(outcome, Failed) and svc.accepted == [] and svc.attempts() == 1


def test_dingtalk_mentions_people_only_on_urgent(server):
    svc = SERVICES["dingtalk"](server)
    n = build("dingtalk", options_for("dingtalk", svc))
    n.send(alert())
    n.send(alert(severity="important", key="x"))
    assert [m["at"]["atMobiles"] for m in svc.accepted] == [["13800000000"], []]
    assert "@13800000000" in svc.accepted[0]["markdown"]["text"]


@pytest.mark.parametrize("kind", HTTP_KINDS)
def test_hostile_post_text_stays_inert(server, kind):
    svc = SERVICES[kind](server)
    assert isinstance(build(kind, options_for(kind, svc)).send(alert(evidence=[HOSTILE])), Delivered)
    text = messages_text(kind, svc)[0]
    assert "javascript:" not in text
    if kind in ("dingtalk", "wecom"):         # Markdown: no link, image or mention can be formed
        assert "](http://evil" not in text and "<script>" not in text and "<@U123>" not in text
    if kind == "slack":                       # mrkdwn: <...> would be a link or a mention
        assert "<script>" not in text and "<@U123>" not in text and "<http://evil" not in text
    if kind == "feishu":                      # rich text: links only as explicit nodes we made
        links = [n["href"] for row in svc.accepted[0]["content"]["post"]["zh_cn"]["content"]
                 for n in row if n.get("tag") == "a"]
        assert links == ["http://dash.example/tickets/7"]


@pytest.mark.parametrize("kind", HTTP_KINDS)
def test_server_errors_are_retried_then_reported_retryable(server, kind):
    svc = SERVICES[kind](server)
    svc.fail_next = [503, 502, 500]
    outcome = build(kind, options_for(kind, svc)).send(alert())
    assert isinstance(outcome, Retryable) and "HTTP 500" in outcome.error
    assert svc.attempts() == 3 and not messages_text(kind, svc)


@pytest.mark.parametrize("kind", HTTP_KINDS)
def test_one_server_error_then_success_delivers_once(server, kind):
    svc = SERVICES[kind](server)
    svc.fail_next = [502]
    assert isinstance(build(kind, options_for(kind, svc)).send(alert()), Delivered)
    assert len(messages_text(kind, svc)) == 1


@pytest.mark.parametrize("kind", HTTP_KINDS)
def test_client_errors_fail_at_once(server, kind):
    svc = SERVICES[kind](server)
    svc.fail_next = [400]
    outcome = build(kind, options_for(kind, svc)).send(alert())
    assert isinstance(outcome, Failed) and "HTTP 400" in outcome.error and svc.attempts() == 1


@pytest.mark.parametrize("kind", HTTP_KINDS)
def test_unreachable_or_slow_hosts_are_retryable(server, kind):
    svc = SERVICES[kind](server)
    dead = options_for(kind, svc)
    dead["url"] = dead["url"].replace(f":{server.port}", f":{free_port()}")
    assert isinstance(build(kind, dead).send(alert()), Retryable)
    server.routes[svc.path if kind not in ("jira", "zendesk") else
                  ("/rest/api/2/search" if kind == "jira" else "/api/v2/tickets.json")] = Response(b"{}", delay=1.0)
    slow = {**options_for(kind, svc), "timeout": "0.2s", "retries": 0}
    outcome = build(kind, slow).send(alert())
    assert isinstance(outcome, Retryable) and "timed out" in outcome.error


@pytest.mark.parametrize("kind", ["jira", "zendesk"])
def test_trackers_never_duplicate_on_retry_and_comment_once_per_alert(server, kind):
    svc = SERVICES[kind](server)
    n = build(kind, options_for(kind, svc))
    first = n.send(alert())
    assert n.send(alert()).ref == first.ref                   # a retry of the same alert
    n.send(alert(key="ticket:7:sla:first_response:0", kind="escalation", summary="SLA breached"))
    n.send(alert(key="ticket:7:sla:first_response:0", kind="escalation", summary="SLA breached"))
    n.send(alert(key="ticket:8:opened", ticket_id=8))           # another ticket: another record
    records = list(svc.accepted.values())
    assert len(records) == 2
    notes = records[0]["comments"]
    if kind == "jira":
        assert records[0]["fields"]["labels"] == ["repwatch", "repwatch-ticket-7"]
        assert records[0]["fields"]["priority"] == {"name": "Highest"}
        assert len(notes) == 1 and "[repwatch:ticket:7:sla:first_response:0]" in notes[0]
    else:
        assert records[0]["external_id"] == "repwatch-ticket-7" and records[0]["priority"] == "urgent"
        assert len(notes) == 2 and "[repwatch:ticket:7:sla:first_response:0]" in notes[1]


def test_jira_issue_created_but_answer_lost_is_found_again_not_duplicated(server):
    svc = SERVICES["jira"](server)
    n = build("jira", {**options_for("jira", svc), "retries": 0})
    svc.lose_response = True
    assert isinstance(n.send(alert()), Retryable)
    again = n.send(alert())
    assert isinstance(again, Delivered) and again.ref == "CS-1" and list(svc.accepted) == ["CS-1"]


def test_email_contract_against_smtp_sink(smtp):
    n = build("email", {"from": "repwatch@example.com", "to": ["team@example.com"],
                        "smtp": {"host": "127.0.0.1", "port": smtp.port}})
    assert isinstance(n.send(alert(evidence=[HOSTILE, *alert().evidence])), Delivered)
    msg = smtp.messages[0]
    html = msg.get_body(("html",)).get_content()
    text = msg.get_body(("plain",)).get_content()
    assert "快送外卖吃出头发" in msg["Subject"] and "紧急" in msg["Subject"]
    assert "https://weibo.example/p/1" in html and "52000" in text
    assert "<script>" not in html and "javascript:" not in html
    assert msg["Message-ID"].endswith("@example.com>")
    # a dispatcher's delivery id makes the Message-ID, so a resend of one delivery is one message to mail systems
    for _ in range(2):
        n.send(alert(delivery="0123abcd"))
    assert [m["Message-ID"] for m in smtp.messages[1:]] == ["<0123abcd.repwatch@example.com>"] * 2
    dead = build("email", {"from": "a@example.com", "to": ["b@example.com"],
                           "smtp": {"host": "127.0.0.1", "port": free_port(), "timeout": 2}})
    assert isinstance(dead.send(alert()), Retryable)


def test_secrets_never_appear_in_errors(server):
    svc = SERVICES["dingtalk"](server)
    svc.fail_next = [500, 500, 500]
    outcome = build("dingtalk", options_for("dingtalk", svc)).send(alert())
    assert "tok-123" not in outcome.error and SECRET not in outcome.error
    assert json.dumps(options_for("dingtalk", svc))   # the test options themselves are plain data


INJECTION = "=?utf-8?q?x=0AReply-To:_attacker@evil.example?= =?utf-8?q?=0ABcc:_spy@evil.example?= 翻新机"


def test_email_headers_cannot_be_injected_through_a_post_title(smtp):
    # CVE-2024-6923: Pythons before 3.11.10 / 3.12.5 write a decoded line feed back out raw
    n = build("email", {"from": "repwatch@example.com", "to": ["team@example.com"],
                        "smtp": {"host": "127.0.0.1", "port": smtp.port}})
    assert isinstance(n.send(alert(title=INJECTION)), Delivered)
    raw = smtp.envelopes[0].original_content or smtp.envelopes[0].content
    headers = raw.replace(b"\r\n", b"\n").split(b"\n\n", 1)[0].decode("ascii")
    names = [line.split(":", 1)[0].lower() for line in headers.split("\n") if line and not line[0].isspace()]
    assert "reply-to" not in names and "bcc" not in names
    assert smtp.envelopes[0].rcpt_tos == ["team@example.com"]
    subject = smtp.messages[0]["Subject"]
    assert "\n" not in subject and "=?" not in subject and subject.startswith("[repwatch] [紧急] = ?utf-8?q?x=0AReply-To")


def test_email_subject_has_no_control_or_bidi_characters_and_text_part_is_not_escaped(smtp):
    n = build("email", {"from": "repwatch@example.com", "to": ["team@example.com"],
                        "smtp": {"host": "127.0.0.1", "port": smtp.port}})
    title = "退款\x00难\u202egnp.exe\x1b[31m 客服<script>"
    assert isinstance(n.send(alert(title=title, evidence=[HOSTILE])), Delivered)
    msg = smtp.messages[0]
    subject = msg["Subject"]
    assert not any(ch in subject for ch in "\x00\u202e\x1b") and "退款" in subject and "gnp.exe" in subject
    text = msg.get_body(("plain",)).get_content()
    html = msg.get_body(("html",)).get_content()
    assert "<script>alert(1)</script>" in text and "&lt;" not in text   # a text part has no markup to escape
    assert "<script>" not in html
