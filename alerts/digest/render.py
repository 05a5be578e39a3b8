"""Digest data → its renderings: the full email (text part, HTML part with the charts as inline images
referenced by cid:, carried as Alert.document for alerts/notify/email.py), and the short form for chat
channels (`headline`, `figures`).

Collected text is hostile. Both templates go through Jinja2 with autoescape on for HTML; links are
rendered only when they are http(s); nothing is ever marked safe."""
from __future__ import annotations

import base64
import re
from dataclasses import dataclass
from datetime import timedelta
from email.utils import make_msgid
from typing import Optional
from urllib.parse import urlsplit

from jinja2 import Environment, PackageLoader, StrictUndefined, select_autoescape

from alerts.digest.chart import COLORS
from alerts.digest.data import DigestData
from alerts.digest.labels import CATEGORIES, HEALTH, LABELS, SEVERITY, STATES

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
    charts: dict[str, tuple[str, bytes]]   # "hourly" / "trend" -> (cid without angle brackets, PNG); empty ones absent

    def document(self) -> dict:
        """The full rendering an email channel sends (Alert.document): JSON, so the notification log keeps
        it and a retry sends exactly what the first try did."""
        return {"subject": self.subject, "text": self.text, "html": self.html,
                "images": [{"cid": cid, "filename": f"repwatch-{name}.png", "subtype": "png",
                            "data": base64.b64encode(png).decode("ascii")} for name, (cid, png) in self.charts.items()]}


def draw_charts(data: DigestData) -> dict[str, bytes]:
    from alerts.digest.chart import hourly_chart, trend_chart

    drawn = {"hourly": hourly_chart(data), "trend": trend_chart(data)}
    return {name: png for name, png in drawn.items() if png is not None}


def render(data: DigestData, *, locale: str = "zh", prefix: str = "[repwatch]", base_url: Optional[str] = None,
           charts: Optional[dict[str, bytes]] = None) -> RenderedDigest:
    """The digest as text and HTML. `charts` (name -> PNG) are drawn unless given; the ones with nothing
    to show are left out, and the text says so instead."""
    if charts is None:
        charts = draw_charts(data)
    cids = {name: make_msgid(idstring=name, domain="repwatch.digest")[1:-1] for name in charts}
    text = LABELS[locale]
    tz_name = getattr(data.tz, "key", str(data.tz))
    scope = [f"{text['targets']}: {', '.join(sorted(data.scope.targets))}"] if data.scope.targets else []
    scope += [f"{text['sources']}: {', '.join(sorted(data.scope.sources))}"] if data.scope.sources else []
    context = dict(
        d=data, L=text, locale=locale, new_ids={i.id for i in data.incidents}, cids=cids, colors=COLORS, tz=tz_name,
        scope=scope, base_url=http_url(base_url),
        cat=lambda c: CATEGORIES[locale].get(c or "other", c), sev=lambda s: SEVERITY[locale].get(s, s),
        health=lambda h: HEALTH[locale].get(h, h), state=lambda s: STATES[locale].get(s, s),
        local=lambda dt: dt.astimezone(data.tz).strftime("%m-%d %H:%M") if dt else text["never"],
        span=lambda v: span(locale, v), http_url=http_url, snippet=snippet, pct=pct, delta=delta,
        delta_pt=delta_pt, trend=trend,
    )
    subject = text["subject"].format(prefix=scoped_prefix(data, prefix), day=data.day.isoformat(),
                                     mentions=data.today.mentions, negative_share=pct(data.today.negative_share))
    return RenderedDigest(subject.strip(), _env.get_template("digest.txt.j2").render(context),
                          _env.get_template("digest.html.j2").render(context),
                          {name: (cids[name], png) for name, png in charts.items()})


def scoped_prefix(data: DigestData, prefix: str) -> str:
    # Scope next to the prefix: Python folds a long subject with a trailing space before an encoded
    # word at the end, which readers then show as a double space.
    return f"{prefix} [{', '.join(sorted(data.scope.targets))}]" if data.scope.targets else prefix


def headline(data: DigestData, locale: str) -> list[str]:
    """The day at a glance in a few lines, for chat channels (the short form of the digest)."""
    L = LABELS[locale]
    lines = [
        f"{L['mentions']}: {data.today.mentions} ({delta(data.today.mentions, data.yesterday.mentions)}); "
        f"{L['negative_share']}: {pct(data.today.negative_share)}; {L['complaints']}: {data.today.complaints}",
        f"{L['new_tickets']}: {data.tickets.new}; {L['open_tickets']}: {data.tickets.open}; "
        f"{L['overdue_tickets']}: {data.tickets.overdue}",
        f"{L['incidents']}: {data.incidents_total}; {L['spikes']}: {data.spikes_total}",
    ]
    broken = [s.name for s in data.sources if s.health in ("failing", "degraded")]
    if broken:
        lines.append(f"{L['source_health']}: " + ", ".join(f"{n} ({HEALTH[locale].get('failing')})" for n in broken[:5]))
    if data.quiet:
        lines.append(L["quiet"])
    return lines


def figures(data: DigestData) -> dict:
    """The same figures with stable keys, for machines (the webhook's `figures`)."""
    share = data.today.negative_share
    return {"mentions": data.today.mentions, "negative": data.today.negative,
            "negative_share": None if share is None else round(share, 4), "complaints": data.today.complaints,
            "new_tickets": data.tickets.new, "open_tickets": data.tickets.open, "overdue_tickets": data.tickets.overdue,
            "incidents": data.incidents_total, "spikes": data.spikes_total}
