"""Who is asking and what they may do: FastAPI dependencies shared by pages and the API.

Pages authenticate by session cookie; the API by `Authorization: Bearer rw_...` or the same cookie.
Cookie-authenticated writes must carry the CSRF token (form field or X-CSRF-Token header); token
requests need none, since a browser never attaches a bearer token on its own."""
from __future__ import annotations

from datetime import datetime

from fastapi import Depends, Request

from repwatch.web.security import CSRF_FIELD, CSRF_HEADER, SAFE_METHODS, csrf_valid
from repwatch.web.users import Principal, principal_for_token, principal_for_user_id


class NotAuthenticated(Exception):
    """No valid session or token: pages redirect to /login, the API answers 401."""


class Forbidden(Exception):
    def __init__(self, message: str):
        super().__init__(message)
        self.message = message


class CsrfFailed(Exception):
    """A write without the session's CSRF token: possibly a forged cross-site request."""


def is_api(request: Request) -> bool:
    return request.url.path.startswith("/api/")


def _bearer(request: Request) -> str | None:
    header = request.headers.get("authorization", "")
    scheme, _, token = header.partition(" ")
    return token.strip() if scheme.lower() == "bearer" and token.strip() else None


def session_expired(session: dict, now: datetime, lifetime) -> bool:
    started = session.get("login_at")
    try:
        return started is None or now - datetime.fromisoformat(started) > lifetime
    except (TypeError, ValueError):
        return True


def principal(request: Request) -> Principal:
    """The caller, or NotAuthenticated. Looked up on every request, so disabling a user, changing a
    role, logging out or changing the password takes effect at once rather than when the cookie
    expires: the signed cookie alone proves nothing once the user's session_version has moved on."""
    if getattr(request.state, "principal", None) is not None:
        return request.state.principal
    app = request.app.state
    now = app.clock.now()
    who = None
    token = _bearer(request) if is_api(request) else None
    with app.db.session() as s:
        if token is not None:
            who = principal_for_token(s, token, now)
        elif "uid" in request.session:
            if session_expired(request.session, now, app.settings.session_lifetime):
                request.session.clear()
            else:
                who = principal_for_user_id(s, int(request.session["uid"]), request.session.get("ver"))
                if who is None:   # ended elsewhere (logout, new password, disabled): forget it here too
                    request.session.clear()
    if who is None:
        raise NotAuthenticated()
    request.state.principal = who
    return who


def require(role: str):
    def dependency(who: Principal = Depends(principal)) -> Principal:
        if not who.can(role):
            raise Forbidden(f"this needs the {role} role; you are {who.role}")
        return who

    return dependency


async def csrf_protect(request: Request, who: Principal = Depends(principal)) -> None:
    if request.method in SAFE_METHODS or who.via_token:
        return
    sent = request.headers.get(CSRF_HEADER)
    content_type = request.headers.get("content-type", "")
    if sent is None and content_type.startswith(("application/x-www-form-urlencoded", "multipart/form-data")):
        field = (await request.form()).get(CSRF_FIELD)
        sent = field if isinstance(field, str) else None   # a file under the token's name is no token
    if not csrf_valid(request.session, sent):
        raise CsrfFailed()


viewer = Depends(require("viewer"))
agent = Depends(require("agent"))
admin = Depends(require("admin"))
csrf = Depends(csrf_protect)
