"""Digest data → an email: multipart/alternative with a text part and an HTML part that carries the
chart as an inline image (multipart/related, referenced by cid:).

Collected text is hostile. Both templates go through Jinja2 with autoescape on for HTML; links are
rendered only when they are http(s); nothing is ever marked safe."""
from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, timedelta
from email.message import EmailMessage
from email.utils import format_datetime, make_msgid
from typing import Optional
from urllib.parse import urlsplit

from jinja2 import Environment, PackageLoader, StrictUndefined, select_autoescape

from alerts.digest.data import DigestData
from alerts.digest.labels import CATEGORIES, HEALTH, LABELS, SEVERITY, STATES
from alerts.notify.headers import clean_header

_env = Environment(loader=PackageLoader("alerts.digest", "templates"),
                   autoescape=select_autoescape(enabled_extensions=("html.j2",), default_for_string=True),
                   trim_blocks=True, lstrip_blocks=True, undefined=StrictUndefined, keep_trailing_newline=True)
_SPACE = re.compile(r"\s+")


def http_url(url: Optional[str]) -> Optional[str]:
    """The URL when it is plain http(s) with a host; None for javascript:, data:, relative and the rest."""
    if not url:
        return None
    try:
        parts = urlsplit(url.strip())
    except ValueError:
        return None
    return url.strip() if parts.scheme.lower() in ("http", "https") and parts.netloc else None


def snippet(text: Optional[str], limit: int = 140) -> str:
    """One line: newlines in a post must not forge lines of the digest's text part."""
    flat = _SPACE.sub(" ", text or "").strip()
    return flat if len(flat) <= limit else flat[: limit - 1] + "…"


def pct(value: Optional[float]) -> str:
    return "–" if value is None else f"{100 * value:.0f}%"


def delta(now: float, before: float) -> str:
    diff = now - before
    return "±0" if diff == 0 else f"{diff:+,.0f}".replace("-", "−")


def delta_pt(now: Optional[float], before: Optional[float]) -> str:
    if now is None or before is None:
        return "–"
    diff = 100 * (now - before)
    return "±0 pt" if abs(diff) < 0.05 else f"{diff:+.1f} pt".replace("-", "−")


def trend(now: Optional[float], before: Optional[float]) -> str:
    """up | down | flat, for colouring: for every headline figure here, up is bad news."""
    if now is None or before is None or now == before:
        return "flat"
    return "up" if now > before else "down"


def span(locale: str, value: timedelta) -> str:
    hours = int(value.total_seconds() // 3600)
    text = LABELS[locale]
    return text["days"].format(n=hours // 24) if hours >= 48 else text["hours"].format(n=max(hours, 0))


@dataclass
class RenderedDigest:
    subject: str
    text: str
    html: str
    chart: bytes
    cid: str          # without angle brackets, as used in the HTML: src="cid:..."


def render(data: DigestData, *, locale: str = "zh", prefix: str = "[repwatch]", base_url: Optional[str] = None,
           chart: Optional[bytes] = None) -> RenderedDigest:
    if chart is None:
        from alerts.digest.chart import render_chart

        chart = render_chart(data, locale)
    cid = make_msgid(idstring="chart", domain="repwatch.digest")[1:-1]
    text = LABELS[locale]
    tz_name = getattr(data.tz, "key", str(data.tz))
    scope = [f"{text['targets']}: {', '.join(sorted(data.scope.targets))}"] if data.scope.targets else []
    scope += [f"{text['sources']}: {', '.join(sorted(data.scope.sources))}"] if data.scope.sources else []
    context = dict(
        d=data, L=text, locale=locale, new_ids={i.id for i in data.incidents}, cid=cid, tz=tz_name, scope=scope, base_url=http_url(base_url),
        cat=lambda c: CATEGORIES[locale].get(c or "other", c), sev=lambda s: SEVERITY[locale].get(s, s),
        health=lambda h: HEALTH[locale].get(h, h), state=lambda s: STATES[locale].get(s, s),
        local=lambda dt: dt.astimezone(data.tz).strftime("%m-%d %H:%M") if dt else text["never"],
        span=lambda v: span(locale, v), http_url=http_url, snippet=snippet, pct=pct, delta=delta,
        delta_pt=delta_pt, trend=trend,
    )
    if data.scope.targets:
        # Scope next to the prefix: Python folds a long subject with a trailing space before an encoded
        # word at the end, which readers then show as a double space.
        prefix = f"{prefix} [{', '.join(sorted(data.scope.targets))}]"
    subject = text["subject"].format(prefix=prefix, day=data.day.isoformat(), mentions=data.today.mentions,
                                     negative_share=pct(data.today.negative_share))
    return RenderedDigest(subject.strip(), _env.get_template("digest.txt.j2").render(context),
                          _env.get_template("digest.html.j2").render(context), chart, cid)


def build_message(rendered: RenderedDigest, *, sender: str, to: str, now: datetime, key: str) -> EmailMessage:
    msg = EmailMessage()
    # non-ASCII is RFC 2047-encoded by the email policy; every value is cleaned first (headers.py)
    msg["Subject"] = clean_header(rendered.subject)
    msg["From"] = clean_header(sender)
    msg["To"] = clean_header(to)
    msg["Date"] = format_datetime(now)
    msg["Message-ID"] = make_msgid(idstring="digest", domain=sender.rpartition("@")[2] or "repwatch")
    msg["X-Repwatch-Key"] = clean_header(key)
    msg.set_content(rendered.text)
    msg.add_alternative(rendered.html, subtype="html")
    html_part = list(msg.iter_parts())[1]
    html_part.add_related(rendered.chart, maintype="image", subtype="png", cid=f"<{rendered.cid}>",
                          disposition="inline", filename="repwatch-digest.png")
    return msg
