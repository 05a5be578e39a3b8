"""Browser-side defences: security headers with a strict Content-Security-Policy, CSRF tokens, and
the rule that only http(s) URLs ever become links.

Every post on these pages was written by a stranger. Autoescaping stops markup; the CSP is the
second wall: no inline script, no third-party anything, so even an escaping mistake cannot run code."""
from __future__ import annotations

import hmac
import secrets
from urllib.parse import urlsplit

from starlette.types import ASGIApp, Message, Receive, Scope, Send

CSP = "; ".join([
    "default-src 'none'",
    "script-src 'self'",
    "style-src 'self'",
    "img-src 'self' data:",
    "connect-src 'self'",
    "font-src 'self'",
    "form-action 'self'",
    "frame-ancestors 'none'",
    "base-uri 'none'",
])
HEADERS = [
    (b"content-security-policy", CSP.encode()),
    (b"x-content-type-options", b"nosniff"),
    (b"x-frame-options", b"DENY"),
    # source links leave for third-party sites; they learn nothing about the dashboard's URLs
    (b"referrer-policy", b"no-referrer"),
    (b"cross-origin-opener-policy", b"same-origin"),
    (b"permissions-policy", b"camera=(), microphone=(), geolocation=()"),
]
SAFE_METHODS = {"GET", "HEAD", "OPTIONS"}
CSRF_FIELD = "csrf_token"
CSRF_HEADER = "x-csrf-token"


class SecurityHeaders:
    """Pure ASGI middleware (not BaseHTTPMiddleware) so streaming and errors pass through untouched."""

    def __init__(self, app: ASGIApp):
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                names = {k.lower() for k, _ in message.get("headers", [])}
                extra = [(k, v) for k, v in HEADERS if k not in names]
                if not scope["path"].startswith("/static/"):
                    # pages show live queue data; a shared or back-button cache must not keep them
                    extra.append((b"cache-control", b"no-store"))
                message["headers"] = list(message.get("headers", [])) + extra
            await send(message)

        await self.app(scope, receive, with_headers)


def csrf_token(session: dict) -> str:
    """The session's CSRF token, created on first use. One per session: forms in other tabs stay valid."""
    token = session.get("csrf")
    if not token:
        token = secrets.token_urlsafe(32)
        session["csrf"] = token
    return token


def csrf_valid(session: dict, sent: str | None) -> bool:
    expected = session.get("csrf")
    return bool(expected and sent) and hmac.compare_digest(str(expected), str(sent))


def safe_url(value: str | None) -> str | None:
    """The URL when it is plain http(s) with a host; None for javascript:, data:, relative and odd ones."""
    if not value or not isinstance(value, str):
        return None
    value = value.strip()
    if any(ch in value for ch in "\x00\r\n\t") or len(value) > 2000:
        return None
    try:
        parts = urlsplit(value)
    except ValueError:
        return None
    if parts.scheme.lower() not in ("http", "https") or not parts.netloc:
        return None
    return value


def safe_next(value: str | None) -> str:
    """Where to go after login: a path on this site only, never another origin (open redirect)."""
    if not value or not value.startswith("/") or value.startswith("//") or "\\" in value:
        return "/"
    if any(ch in value for ch in "\r\n\x00"):
        return "/"
    return value
