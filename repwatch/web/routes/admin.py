"""Source health, silences, and (admin only) users and API tokens.

Sources are defined in schedules.yaml (config as code): the page shows every one with its health and
last run; admins run one now, or pause and resume it.
Silences: everyone sees them; admins create and expire them here (agents silence one incident
from its ticket page)."""
from __future__ import annotations

from datetime import datetime

from fastapi import APIRouter, Depends, Form, HTTPException, Request
from fastapi.responses import RedirectResponse
from sqlalchemy import select

from repwatch.web import actions
from repwatch.web.deps import admin, csrf, principal
from repwatch.web.render import flash, page
from repwatch.web.users import ROLES, UserError, create_token, create_user, end_sessions, new_password, set_password
from storage.models import ApiToken, CollectionRun, Silence, Source, User
from storage.types import parse_duration

router = APIRouter(dependencies=[Depends(principal)], include_in_schema=False)
RECENT_RUNS = 8


HEALTH_LEGEND = [
    ("ok", "the last run worked and brought what it usually does"),
    ("degraded", "1-2 failed runs in a row, or nothing where it used to bring many items"),
    ("failing", "3 or more failed runs in a row"),
    ("silent", "no new item for longer than its expected_period"),
    ("unknown", "configured, but it has not run yet"),
    ("disabled", "enabled: false in schedules.yaml"),
]


def _when(value: str | None) -> datetime | None:
    return datetime.fromisoformat(value) if value else None


@router.get("/sources")
def sources_page(request: Request):
    """Every configured source (those that have not run yet too, and stored ones no longer configured),
    with health, the last run and its problems in full; admins run one now, pause and resume it."""
    from repwatch.cli.sources_cmd import source_rows

    state = request.app.state
    rows = source_rows(state.db, state.config)
    for row in rows:
        for key in ("last_run_at", "last_success_at", "last_item_at"):
            row[key] = _when(row[key])
        if row["last_run"]:
            row["last_run"]["started_at"] = _when(row["last_run"]["started_at"])
    with state.db.session() as s:
        ids = dict(s.execute(select(Source.name, Source.id)).all())
        runs = {name: list(s.scalars(select(CollectionRun).where(CollectionRun.source_id == sid)
                                     .order_by(CollectionRun.id.desc()).limit(RECENT_RUNS)))
                for name, sid in ids.items()}
        return page(request, "sources.html", rows=rows, runs=runs, legend=HEALTH_LEGEND,
                    is_admin=request.state.principal.can("admin"))


def _configured(request: Request, name: str):
    try:
        return request.app.state.config.source(name)
    except KeyError as exc:
        raise HTTPException(404, str(exc.args[0])) from None


@router.post("/sources/{name}/run", dependencies=[admin, csrf])
def run_source_now(request: Request, name: str):
    """Collect this one source now, through the pipeline's collect_source (the same run, health and
    problems as `repwatch collect NAME`); its posts are scored and alerted on by the next run."""
    from repwatch.pipeline import collect_source

    state = request.app.state
    cfg = _configured(request, name)
    with state.db.session() as s:
        src = s.scalar(select(Source).where(Source.name == name))
        paused = bool(src and src.paused)
    if not cfg.enabled:
        flash(request, f"{name} is disabled in schedules.yaml (enabled: false)", "error")
    elif paused:
        flash(request, f"{name} is paused; resume it first", "error")
    else:
        report = collect_source(state.db, state.config, cfg, state.clock.now())
        flash(request, f"已运行 Ran {state.config.redact(report.line())}", "ok" if report.status != "failed" else "error")
    return RedirectResponse("/sources", status_code=303)


@router.post("/sources/{name}/pause", dependencies=[admin, csrf])
def pause_source(request: Request, name: str):
    return _set_paused(request, name, True)


@router.post("/sources/{name}/resume", dependencies=[admin, csrf])
def resume_source(request: Request, name: str):
    return _set_paused(request, name, False)


def _set_paused(request: Request, name: str, paused: bool):
    """Stored on the source row (created for a source that has not run yet); `repwatch run` and the
    scheduler skip a paused source (pipeline.paused_sources)."""
    from storage.writes import get_or_create_source

    state = request.app.state
    cfg = _configured(request, name)
    with state.db.session() as s:
        src = get_or_create_source(s, name, cfg.kind)
        src.paused = paused
        src.paused_by = request.state.principal.name if paused else None
        src.paused_at = state.clock.now() if paused else None
    flash(request, f"已暂停 Paused {name}: runs skip it until resumed" if paused else f"已恢复 Resumed {name}")
    return RedirectResponse("/sources", status_code=303)


@router.get("/silences")
def silences_page(request: Request):
    state = request.app.state
    now = state.clock.now()
    with state.db.session() as s:
        rows = list(s.scalars(select(Silence).order_by(Silence.ends_at.desc()).limit(200)))
        return page(request, "silences.html", active=[r for r in rows if r.starts_at <= now < r.ends_at],
                    ended=[r for r in rows if r.ends_at <= now][:50],
                    targets=[t.name for t in state.config.watch])


@router.post("/silences", dependencies=[admin, csrf])
def add_silence(request: Request, target: str = Form(""), incident_id: str = Form(""),
                duration: str = Form("24h", max_length=20), comment: str = Form("")):
    state = request.app.state
    try:
        length = parse_duration(duration)
    except ValueError as exc:
        flash(request, str(exc), "error")
        return RedirectResponse("/silences", status_code=303)
    try:
        with state.db.session() as s:
            actions.create_silence(s, request.state.principal, state.clock.now(), target=target,
                                   incident_id=int(incident_id) if incident_id.isdigit() and len(incident_id) < 10
                                   else None,
                                   duration=length, comment=comment)
        flash(request, "已添加静默 Silence added.")
    except actions.ActionError as exc:
        flash(request, str(exc), "error")
    return RedirectResponse("/silences", status_code=303)


@router.post("/silences/{silence_id}/expire", dependencies=[admin, csrf])
def expire(request: Request, silence_id: int):
    state = request.app.state
    try:
        with state.db.session() as s:
            actions.expire_silence(s, silence_id if 0 < silence_id < 2**31 else 0, state.clock.now())
        flash(request, "静默已结束 Silence ended.")
    except actions.ActionError as exc:
        flash(request, str(exc), "error")
    return RedirectResponse("/silences", status_code=303)


def _users_page(request: Request, secret: list[str] | None = None):
    state = request.app.state
    with state.db.session() as s:
        users = list(s.scalars(select(User).order_by(User.name)))
        tokens = list(s.execute(select(ApiToken, User.name).join(User, User.id == ApiToken.user_id)
                                .order_by(ApiToken.id)))
        return page(request, "users.html", users=users, tokens=tokens, roles=ROLES, secret=secret)


@router.get("/admin/users", dependencies=[admin])
def users_page(request: Request):
    return _users_page(request)


def _user_action(request: Request, fn, done: str):
    """Run fn in a unit of work. A new password or token is rendered straight into this response,
    shown once: it never goes into a redirect, a cookie or a log."""
    state = request.app.state
    try:
        with state.db.session() as s:
            shown = fn(s)
    except UserError as exc:
        flash(request, str(exc), "error")
        return RedirectResponse("/admin/users", status_code=303)
    flash(request, done)
    if shown:
        return _users_page(request, shown)
    return RedirectResponse("/admin/users", status_code=303)


def _user(s, user_id: int) -> User:
    user = s.get(User, user_id) if 0 < user_id < 2**31 else None
    if user is None:
        raise UserError(f"no user #{user_id}")
    return user


@router.post("/admin/users", dependencies=[admin, csrf])
def add_user(request: Request, name: str = Form(..., max_length=100), role: str = Form(...)):
    def fn(s):
        user, password = create_user(s, name, role)
        return [f"用户 user {user.name} 的初始密码 password", password]
    return _user_action(request, fn, "用户已创建 User created.")


@router.post("/admin/users/{user_id}", dependencies=[admin, csrf])
def change_user(request: Request, user_id: int, role: str = Form(""), disabled: str = Form(""),
                reset_password: str = Form("")):
    who = request.state.principal

    def fn(s):
        user = _user(s, user_id)
        if user.id == who.id and (role and role != "admin" or disabled == "yes"):
            raise UserError("you cannot demote or disable yourself (ask another admin)")
        if role:
            if role not in ROLES:
                raise UserError(f"unknown role {role!r}")
            user.role = role
        if disabled in ("yes", "no"):
            user.disabled = disabled == "yes"
            if user.disabled:
                end_sessions(user)   # re-enabling must not bring old cookies back to life
        if reset_password == "yes":
            password = new_password()
            set_password(user, password)
            return [f"用户 user {user.name} 的新密码 new password", password]
        return None
    return _user_action(request, fn, "已保存 Saved.")


@router.post("/admin/tokens", dependencies=[admin, csrf])
def add_token(request: Request, user_id: int = Form(...), name: str = Form(..., max_length=100)):
    def fn(s):
        _, token = create_token(s, _user(s, user_id), name)
        return [f"API token {name}", token]
    return _user_action(request, fn, "令牌已创建 Token created.")


@router.post("/admin/tokens/{token_id}/revoke", dependencies=[admin, csrf])
def revoke_token(request: Request, token_id: int):
    def fn(s):
        row = s.get(ApiToken, token_id) if 0 < token_id < 2**31 else None
        if row is None:
            raise UserError(f"no token #{token_id}")
        s.delete(row)
    return _user_action(request, fn, "令牌已吊销 Token revoked.")

