"""Jinja2 with autoescape on for every template, and the filters pages use to show hostile text.

No filter here returns Markup built from unescaped input: `highlight` escapes each piece itself."""
from __future__ import annotations

import re
from datetime import datetime, timedelta
from importlib import resources
from zoneinfo import ZoneInfo

import jinja2
from fastapi import Request
from fastapi.responses import HTMLResponse
from markupsafe import Markup, escape

from repwatch.web import labels
from repwatch.web.security import CSRF_FIELD, csrf_token, safe_url
from storage.timefmt import STYLES, local_time


def _local(value: datetime | None, tz: ZoneInfo, fmt: str = "datetime") -> str:
    """`{{ t|local }}`, `{{ t|local("short") }}` (a style of storage.timefmt) or `{{ t|local("%H:%M:%S") }}`:
    the team's time, labelled with its zone, the same text as the CLI's."""
    if fmt in STYLES:
        return local_time(value, tz, fmt)
    return local_time(value, tz, fmt=fmt)


def span(delta: timedelta) -> str:
    """A short human duration: 3天4小时, 2小时5分, 12分."""
    minutes = int(abs(delta.total_seconds()) // 60)
    days, rest = divmod(minutes, 1440)
    hours, mins = divmod(rest, 60)
    if days:
        return f"{days}天{hours}小时" if hours else f"{days}天"
    if hours:
        return f"{hours}小时{mins}分" if mins else f"{hours}小时"
    return f"{mins}分"


def highlight(text: str | None, query: str | None) -> Markup:
    """Escape `text` and wrap the query's terms in <mark>. Splitting before escaping means a term can
    never land inside an entity or a tag."""
    text = text or ""
    terms = [t for t in (query or "").split() if t]
    if not terms:
        return escape(text)
    pattern = re.compile("|".join(re.escape(t) for t in sorted(terms, key=len, reverse=True)), re.IGNORECASE)
    out, last = [], 0
    for m in pattern.finditer(text):
        out.append(escape(text[last:m.start()]))
        out.append(Markup("<mark>%s</mark>") % m.group(0))
        last = m.end()
    out.append(escape(text[last:]))
    return Markup("").join(out)


def number(value) -> str:
    if value is None:
        return "-"
    if value >= 10_000:
        return f"{value / 10_000:.1f}万"
    return f"{value:,}"


def build_env(tz: ZoneInfo) -> jinja2.Environment:
    templates = resources.files("repwatch.web").joinpath("templates")
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(str(templates)),
        autoescape=True,  # every template, whatever its extension
        undefined=jinja2.StrictUndefined,
        trim_blocks=True, lstrip_blocks=True,
    )
    env.filters.update(
        local=lambda v, fmt="datetime": _local(v, tz, fmt),
        safe_url=safe_url, span=span, highlight=highlight, number=number,
        severity=lambda k: labels.pair(labels.SEVERITY, k), state=lambda k: labels.pair(labels.STATE, k),
        category=lambda k: labels.pair(labels.CATEGORY, k), health=lambda k: labels.pair(labels.HEALTH, k),
        event=lambda k: labels.pair(labels.EVENT, k), signal=labels.signal_label,
    )
    env.globals.update(labels=labels, CSRF_FIELD=CSRF_FIELD)
    return env


def page(request: Request, template: str, status_code: int = 200, **context) -> HTMLResponse:
    """Render a page with what every page needs: who is logged in, the CSRF token, flash messages."""
    state = request.app.state
    flashes = request.session.pop("flash", []) if "flash" in request.session else []
    context.setdefault("who", getattr(request.state, "principal", None))
    html = state.templates.get_template(template).render(
        request=request, csrf=csrf_token(request.session), flashes=flashes,
        now=state.clock.now(), settings=state.settings, path=request.url.path, **context)
    return HTMLResponse(html, status_code=status_code)


def flash(request: Request, message: str, kind: str = "ok") -> None:
    request.session["flash"] = request.session.get("flash", []) + [[kind, message]]
