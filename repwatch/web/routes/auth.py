"""Log in, log out, change your own password. The login form carries a CSRF token too (a forged
login would sign the victim in as the attacker); failed logins are throttled."""
from __future__ import annotations

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import RedirectResponse

from repwatch.web.deps import csrf, principal, viewer
from repwatch.web.render import flash, page
from repwatch.web.security import csrf_token, csrf_valid, safe_next
from repwatch.web.users import UserError, authenticate, end_sessions, set_password
from storage.models import User

router = APIRouter(include_in_schema=False)


def _address(request: Request) -> str:
    # uvicorn puts the proxy's X-Forwarded-For here when the proxy is in web.forwarded_allow_ips
    return request.client.host if request.client else "unknown"


@router.get("/login")
def login_form(request: Request, next: str = "/"):
    csrf_token(request.session)
    return page(request, "login.html", next=safe_next(next), error=None, who=None)


@router.post("/login")
def login(request: Request, username: str = Form("", max_length=100), password: str = Form("", max_length=1000),
          next: str = Form("/"), csrf_token_field: str = Form("", alias="csrf_token")):
    state = request.app.state
    target = safe_next(next)
    if not csrf_valid(request.session, csrf_token_field):
        return page(request, "login.html", 403, next=target, who=None,
                    error="表单已过期，请重试 The form expired; please try again.")
    until = state.throttle.blocked_until(username, _address(request))
    if until is not None:
        wait = max(1, int((until - state.clock.now()).total_seconds() // 60) + 1)
        return page(request, "login.html", 429, next=target, who=None,
                    error=f"登录失败次数过多，请 {wait} 分钟后再试 Too many failed logins; try again in {wait} min.")
    with state.db.session() as s:
        user = authenticate(s, username, password)
        uid, version = (user.id, user.session_version) if user else (None, None)
    if uid is None:
        state.throttle.failed(username, _address(request))
        return page(request, "login.html", 401, next=target, who=None,
                    error="用户名或密码错误 Wrong user name or password.")
    state.throttle.succeeded(username, _address(request))
    # A fresh session on login: a token planted before login (session fixation) is worth nothing.
    request.session.clear()
    request.session.update(uid=uid, ver=version, login_at=state.clock.now().isoformat())
    csrf_token(request.session)
    return RedirectResponse(target, status_code=303)


@router.post("/logout", dependencies=[csrf])
def logout(request: Request, who=Depends(principal)):
    """Ends the user's sessions on the server, not just this browser's cookie: a copy of the cookie
    (saved, stolen, on another device) stops working too."""
    with request.app.state.db.session() as s:
        user = s.get(User, who.id)
        if user is not None and not who.via_token:
            end_sessions(user)
    request.session.clear()
    return RedirectResponse("/login", status_code=303)


@router.get("/account")
def account(request: Request, who=viewer):
    return page(request, "account.html")


@router.post("/account/password", dependencies=[csrf])
def change_password(request: Request, who=viewer, current: str = Form(..., max_length=1000),
                    new: str = Form(..., max_length=1000), repeat: str = Form(..., max_length=1000)):
    state = request.app.state
    with state.db.session() as s:
        if authenticate(s, who.name, current) is None:
            flash(request, "当前密码不对 The current password is wrong.", "error")
        elif new != repeat:
            flash(request, "两次输入的新密码不一致 The new passwords differ.", "error")
        else:
            try:
                user = s.get(User, who.id)
                set_password(user, new)   # ends every other session of this user
                s.flush()
                request.session["ver"] = user.session_version   # this browser stays logged in
                flash(request, "密码已更新 Password changed; your other sessions were logged out.")
            except UserError as exc:
                flash(request, str(exc), "error")
    return RedirectResponse("/account", status_code=303)
