"""The dashboard application: `create_app(db, config)` wires pages, API, sessions and defences.

Middleware order (outermost first): security headers on every answer, then the signed session
cookie (HttpOnly, SameSite=Lax, Secure when configured). Nothing but /login and /static answers
without a logged-in user or an API token: routers carry the login dependency, and a test walks
every route to prove it."""
from __future__ import annotations

import logging
import secrets
from importlib import resources

from fastapi import FastAPI, Request
from fastapi.exception_handlers import request_validation_exception_handler
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, RedirectResponse
from fastapi.staticfiles import StaticFiles
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.middleware.sessions import SessionMiddleware
from urllib.parse import quote

from repwatch import __version__
from repwatch.clock import Clock, SystemClock
from repwatch.web.deps import CsrfFailed, Forbidden, NotAuthenticated, is_api
from repwatch.web.render import build_env, page
from repwatch.web.security import SecurityHeaders
from repwatch.web.throttle import LoginThrottle

log = logging.getLogger("repwatch.web")
SESSION_COOKIE = "repwatch_session"


def create_app(db, config, clock: Clock | None = None) -> FastAPI:
    from repwatch.web.api import router as api_router
    from repwatch.web.routes import admin, auth, explore, incidents, queue, reports, ticket

    settings = config.web
    secret = settings.secret_key
    if secret is None:
        secret = secrets.token_urlsafe(48)
        log.warning("web.secret_key is not set: using a random key, so every session ends when the server restarts")
    app = FastAPI(title="repwatch", version=__version__, docs_url=None, redoc_url=None, openapi_url=None,
                  description="The reputation team's queue, evidence and ticket actions. Authenticate with "
                              "`Authorization: Bearer rw_...` (see `repwatch token create`).")
    app.state.db = db
    app.state.config = config
    app.state.settings = settings
    app.state.clock = clock or SystemClock()
    app.state.tz = config.tz
    app.state.templates = build_env(config.tz)
    app.state.throttle = LoginThrottle(app.state.clock, settings.login_max_failures, settings.login_lockout,
                                       settings.login_max_failures_per_address)

    static = resources.files("repwatch.web").joinpath("static")
    app.mount("/static", StaticFiles(directory=str(static)), name="static")
    for module in (auth, queue, ticket, incidents, explore, reports, admin):
        app.include_router(module.router)
    app.include_router(api_router)
    _error_pages(app)

    app.add_middleware(SessionMiddleware, secret_key=secret, session_cookie=SESSION_COOKIE,
                       max_age=int(settings.session_lifetime.total_seconds()), same_site="lax",
                       https_only=settings.cookie_secure)
    app.add_middleware(SecurityHeaders)
    app.add_middleware(TeamClock, tz=config.tz)
    return app


class TeamClock:
    """Every JSON answer gives times in the team's timezone (repwatch.web.api.schemas.When reads it)."""

    def __init__(self, app, tz):
        self.app, self.tz = app, tz

    async def __call__(self, scope, receive, send):
        from repwatch.web.api.schemas import TEAM_TZ

        token = TEAM_TZ.set(self.tz)
        try:
            await self.app(scope, receive, send)
        finally:
            TEAM_TZ.reset(token)


def _error_pages(app: FastAPI) -> None:
    """Errors answer in the caller's language: JSON under /api/, a page elsewhere."""

    @app.exception_handler(NotAuthenticated)
    async def not_authenticated(request: Request, exc: NotAuthenticated):
        if is_api(request):
            return JSONResponse({"detail": "login required: send Authorization: Bearer <token> or log in"},
                                status_code=401, headers={"WWW-Authenticate": "Bearer"})
        target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
        return RedirectResponse(f"/login?next={quote(target, safe='')}", status_code=303)

    @app.exception_handler(Forbidden)
    async def forbidden(request: Request, exc: Forbidden):
        if is_api(request):
            return JSONResponse({"detail": exc.message}, status_code=403)
        return page(request, "error.html", 403, title="无权限 Forbidden", message=exc.message)

    @app.exception_handler(CsrfFailed)
    async def csrf_failed(request: Request, exc: CsrfFailed):
        message = "missing or wrong CSRF token: reload the page and try again"
        if is_api(request):
            return JSONResponse({"detail": message + " (cookie-authenticated API writes need X-CSRF-Token)"},
                                status_code=403)
        return page(request, "error.html", 403, title="请求已拒绝 Request refused", message=message)

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException):
        if is_api(request) or request.url.path.startswith("/static/"):
            return JSONResponse({"detail": exc.detail}, status_code=exc.status_code, headers=exc.headers)
        return page(request, "error.html", exc.status_code, title=f"{exc.status_code}", message=str(exc.detail))

    @app.exception_handler(RequestValidationError)
    async def invalid(request: Request, exc: RequestValidationError):
        if is_api(request):  # FastAPI's own 422 body: the shape the OpenAPI document promises
            return await request_validation_exception_handler(request, exc)
        problems = [f"{'.'.join(str(p) for p in e['loc'])}: {e['msg']}" for e in exc.errors()]
        return page(request, "error.html", 400, title="请求无效 Bad request", message="; ".join(problems))
