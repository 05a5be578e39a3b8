"""Real servers on 127.0.0.1 for the offline demo and the tests: an HTTP server with a route table
(with ETag-aware responses) and an aiosmtpd SMTP sink. Nothing here is a mock: collectors and
notifiers talk to them over real sockets."""
from __future__ import annotations

import hashlib
import socket
import threading
import time
from dataclasses import dataclass, field
from email import message_from_bytes, policy
from email.message import EmailMessage
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Callable
from urllib.parse import urlsplit


@dataclass
class Response:
    body: bytes = b""
    status: int = 200
    headers: dict[str, str] = field(default_factory=dict)
    delay: float = 0.0          # seconds before answering (slow-server cases)
    etag: bool = False          # answer If-None-Match with 304


Route = Callable[["Request"], Response]


@dataclass
class Request:
    method: str
    path: str
    query: str
    headers: dict[str, str]
    body: bytes


class LoopbackHTTPServer:
    """`with LoopbackHTTPServer({"/feed.xml": lambda req: Response(b"...")}) as srv: srv.url("/feed.xml")`"""

    def __init__(self, routes: dict[str, Route | Response] | None = None, host: str = "127.0.0.1"):
        """`host` may be any loopback address (127.0.0.2, …): several servers then stand for several hosts."""
        self.host = host
        self.routes: dict[str, Route | Response] = dict(routes or {})
        self.requests: list[Request] = []
        outer = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args):  # keep test and demo output clean
                pass

            def _handle(self):
                parts = urlsplit(self.path)
                length = int(self.headers.get("Content-Length") or 0)
                req = Request(self.command, parts.path, parts.query, {k.lower(): v for k, v in self.headers.items()},
                              self.rfile.read(length) if length else b"")
                outer.requests.append(req)
                route = outer.routes.get(parts.path)
                if route is None:
                    resp = Response(b"not found", 404)
                else:
                    resp = route(req) if callable(route) else route
                if resp.delay:
                    time.sleep(resp.delay)
                headers = dict(resp.headers)
                status, body = resp.status, resp.body
                if resp.etag and status == 200:
                    tag = '"' + hashlib.sha256(body).hexdigest()[:20] + '"'
                    headers["ETag"] = tag
                    if req.headers.get("if-none-match") == tag:
                        status, body = 304, b""
                try:
                    self.send_response(status)
                    for k, v in headers.items():
                        self.send_header(k, v)
                    if "Content-Length" not in headers:
                        self.send_header("Content-Length", str(len(body)))
                    self.end_headers()
                    if self.command != "HEAD":
                        self.wfile.write(body)
                except (BrokenPipeError, ConnectionResetError):
                    pass  # the client gave up (size cap, timeout): that is the point of those tests

            do_GET = do_POST = do_PUT = do_HEAD = do_PATCH = _handle

        self.httpd = ThreadingHTTPServer((host, 0), Handler)
        self.httpd.daemon_threads = True
        self.port = self.httpd.server_address[1]
        # stop() waits until the loop next looks at its shutdown flag: every 50 ms rather than the default half
        # second, which a test paid on every server it stopped
        self._thread = threading.Thread(target=self.httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)

    def url(self, path: str = "/") -> str:
        return f"http://{self.host}:{self.port}{path}"

    def start(self) -> "LoopbackHTTPServer":
        self._thread.start()
        return self

    def stop(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()


def free_port() -> int:
    """aiosmtpd's Controller cannot take port 0, so pick a free port first."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class SMTPSink:
    """A real SMTP server (aiosmtpd) on loopback that keeps what it receives."""

    def __init__(self):
        self.messages: list[EmailMessage] = []
        self.envelopes: list = []
        self.port = free_port()
        self._controller = None

    async def handle_DATA(self, server, session, envelope):  # aiosmtpd handler hook
        self.envelopes.append(envelope)
        self.messages.append(message_from_bytes(envelope.original_content or envelope.content, policy=policy.default))
        return "250 OK"

    def start(self) -> "SMTPSink":
        from aiosmtpd.controller import Controller

        self._controller = Controller(self, hostname="127.0.0.1", port=self.port)
        self._controller.start()
        return self

    def stop(self) -> None:
        if self._controller:
            self._controller.stop()

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()
