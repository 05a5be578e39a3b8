"""A raw loopback HTTP server for faults http.server cannot produce on purpose: a body sent a byte a
second, a connection closed before Content-Length is reached, a chunked body cut off. Real sockets on
127.0.0.1, for the tests and for trying repwatch against a misbehaving site by hand."""
from __future__ import annotations

import socket
import threading
from typing import Callable

Behaviour = Callable[[socket.socket, threading.Event], None]


class RawHTTPServer:
    def __init__(self):
        self.routes: dict[str, Behaviour] = {}
        self.hits: list[str] = []   # request paths, in order
        self.stopping = threading.Event()
        self.sock = socket.create_server(("127.0.0.1", 0))
        self.sock.settimeout(0.2)
        self.port = self.sock.getsockname()[1]
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._thread.start()

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    def _serve(self) -> None:
        while not self.stopping.is_set():
            try:
                conn, _ = self.sock.accept()
            except (TimeoutError, socket.timeout):
                continue
            except OSError:
                return
            threading.Thread(target=self._handle, args=(conn,), daemon=True).start()

    def _handle(self, conn: socket.socket) -> None:
        with conn:
            conn.settimeout(5)
            try:
                head = b""
                while b"\r\n\r\n" not in head:
                    data = conn.recv(4096)
                    if not data:
                        return
                    head += data
                path = head.split(b" ", 2)[1].decode()
                self.hits.append(path)
                behaviour = self.routes.get(path.split("?")[0])
                if behaviour is None:
                    conn.sendall(b"HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")
                    return
                behaviour(conn, self.stopping)
            except OSError:
                pass   # the client gave up (deadline): that is what the tests check

    def stop(self) -> None:
        self.stopping.set()
        self.sock.close()
        self._thread.join(5)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.stop()


class Drip:
    """Headers at once, then the body one byte per `every` seconds: never trips a read timeout."""

    def __init__(self, body: bytes, every: float = 1.0):
        self.body, self.every = body, every
        self.sent = 0   # bytes of the body sent so far: shows when the client stopped listening

    def __call__(self, conn: socket.socket, stopping: threading.Event) -> None:
        body = self.body
        conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: application/rss+xml\r\n"
                     b"Content-Length: %d\r\n\r\n" % len(body))
        for i in range(len(body)):
            if stopping.wait(self.every):
                return
            conn.sendall(body[i:i + 1])
            self.sent = i + 1


def drip(body: bytes, every: float = 1.0) -> Drip:
    """Headers at once, then the body one byte per `every` seconds: never trips a read timeout."""
    return Drip(body, every)


def cut(head: bytes, body: bytes) -> Behaviour:
    """Send the head and the body, then close: with a larger Content-Length, or a chunked body
    without its last chunk, the response ends before it should."""
    def behaviour(conn: socket.socket, stopping: threading.Event) -> None:
        conn.sendall(head + b"\r\n\r\n" + body)
        conn.shutdown(socket.SHUT_WR)
    return behaviour
