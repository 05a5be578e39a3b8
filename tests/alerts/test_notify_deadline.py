"""A notifier's `timeout` is the total for one request: a server that answers a byte a second (never
tripping a read timeout) is cut off there and the alert stays retryable. Real sockets on loopback."""
from __future__ import annotations

import time

from alerts.notify.base import Retryable
from alerts.notify.http import HttpOptions, request
from repwatch.loopback_faults import RawHTTPServer


def drain(conn) -> None:
    """Read what is left of the request body, so closing does not reset the connection."""
    conn.settimeout(0.2)
    try:
        while conn.recv(65536):
            pass
    except OSError:
        pass
    conn.settimeout(5)


def test_trickling_webhook_answer_is_cut_off_at_the_timeout():
    answer = b'{"ok": true, "padding": "' + b"x" * 200 + b'"}'

    def trickle(conn, stopping):
        drain(conn)
        conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n" % len(answer))
        for i in range(len(answer)):
            if stopping.wait(0.2):   # 5 bytes a second: each read succeeds, the whole takes 45 s
                return
            conn.sendall(answer[i:i + 1])
            trickle.sent = i + 1
    trickle.sent = 0

    with RawHTTPServer() as server:
        server.routes["/hook"] = trickle
        started = time.monotonic()
        outcome = request("POST", server.url("/hook"), HttpOptions(timeout="1s", retries=0), json={"a": 1})
        elapsed = time.monotonic() - started
        assert trickle.sent < len(answer)
    assert isinstance(outcome, Retryable) and "timed out" in outcome.error
    assert elapsed < 15   # generous; the answer alone would take 45 s


def test_a_normal_answer_still_arrives_whole():
    def answer(conn, stopping):
        drain(conn)
        conn.sendall(b'HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 11\r\n\r\n{"ok": "1"}')

    with RawHTTPServer() as server:
        server.routes["/hook"] = answer
        response = request("POST", server.url("/hook"), HttpOptions(timeout="5s", retries=0), json={"a": 1})
    assert response.status_code == 200 and response.json() == {"ok": "1"}
