"""Plain, Markdown and Slack renderings of an alert for the chat notifiers.

Post text is hostile input: in Markdown its link, image and emphasis syntax is neutralised (so a
post cannot smuggle a phishing link into the team's chat), and only http(s) links are rendered."""
from __future__ import annotations

import re
from datetime import datetime
from urllib.parse import quote

from alerts.notify.base import Alert
from storage.timefmt import local_time
from storage.vocabulary import SEVERITY_ZH

SEVERITY_MARK = {"urgent": "🔴", "important": "🟠", "general": "⚪"}
_MD = str.maketrans({"[": "［", "]": "］", "<": "＜", ">": "＞", "*": "＊", "_": "＿", "`": "｀", "#": "＃",
                     "!": "！", "|": "｜", "\\": "＼", "~": "～"})
MAX_TEXT = 200


def safe_link(url: str | None) -> str | None:
    if not url or not re.match(r"^https?://", url, re.I):
        return None
    return quote(url, safe=":/?#=&%+@,;.-_~")


def md(text: str | None, limit: int = MAX_TEXT) -> str:
    text = " ".join((text or "").split())
    if len(text) > limit:
        text = text[: limit - 1] + "…"
    return text.translate(_MD)


def is_digest(alert: Alert) -> bool:
    """A daily digest's short form: its title, a few lines of figures and a link; no category or severity."""
    return alert.kind == "digest"


def link_label(alert: Alert) -> str:
    return "打开看板 open dashboard" if is_digest(alert) else "打开工单 open ticket"


def heading(alert: Alert) -> str:
    if is_digest(alert):
        return f"📊 {alert.title}"
    return f"{SEVERITY_MARK.get(alert.severity, '')}[{SEVERITY_ZH.get(alert.severity, alert.severity)}] {alert.title}"


DEADLINE_LABEL = {"first_response": "首次响应截止 respond by", "resolution": "解决截止 resolve by"}


def deadline(alert: Alert) -> tuple[str, str] | None:
    """('首次响应截止 respond by', '2026-12-01 13:45 CST'): the ticket's next SLA deadline in the team's
    timezone, labelled with it (storage.timefmt, the one time formatter); None when the alert has none (no ticket, or its clock is paused)."""
    if not alert.deadline or not alert.deadline.get("due"):
        return None
    try:
        due = datetime.fromisoformat(alert.deadline["due"])
    except (TypeError, ValueError):
        return None
    kind = alert.deadline.get("kind", "first_response")
    try:
        when = local_time(due, alert.tz)
    except (KeyError, ValueError):      # a zone this machine does not know: still a labelled time
        when = local_time(due, "UTC")
    return DEADLINE_LABEL.get(kind, kind), when


def deadline_line(alert: Alert) -> str | None:
    found = deadline(alert)
    return f"{found[0]}: {found[1]}" if found else None


def figures_line(alert: Alert) -> str:
    return "; ".join(f"{k}: {v}" for k, v in alert.figures.items())


def plain(alert: Alert) -> str:
    lines = [heading(alert), alert.summary]
    if alert.category:
        lines.append(f"类别 category: {alert.category}; 严重度 severity: {alert.severity}")
    if due := deadline_line(alert):
        lines.append(due)
    if alert.figures and not is_digest(alert):
        lines.append(figures_line(alert))
    for e in alert.evidence:
        who = f" — {e.get('author')}" + (f" ({e['reach']} followers)" if e.get("reach") else "") if e.get("author") else ""
        lines.append(f"- {' '.join((e.get('text') or '').split())[:MAX_TEXT]}{who} {safe_link(e.get('url')) or ''}".rstrip())
    if safe_link(alert.url):
        lines.append(f"{link_label(alert)}: {safe_link(alert.url)}")
    return "\n".join(lines)


def markdown(alert: Alert) -> str:
    lines = [f"### {md(heading(alert), 300)}", "", "  \n".join(md(line, 500) for line in alert.summary.splitlines()), ""]
    if not is_digest(alert):
        lines.append(f"**类别 category**: {md(alert.category or '-')}  \n**严重度 severity**: {alert.severity}"
                     + (f"  \n**{due[0]}**: {due[1]}" if (due := deadline(alert)) else ""))
    if alert.figures and not is_digest(alert):
        lines.append("")
        lines += [f"- {md(str(k), 40)}: {md(str(v), 120)}" for k, v in alert.figures.items()]
    if alert.evidence:
        lines += ["", "**证据 evidence**"]
        for e in alert.evidence:
            link = safe_link(e.get("url"))
            who = f" — {md(e.get('author'), 60)}" if e.get("author") else ""
            reach = f" ({e['reach']} followers)" if e.get("reach") else ""
            lines.append(f"> {md(e.get('text'))}{who}{reach}" + (f" [原文 source]({link})" if link else ""))
    if safe_link(alert.url):
        lines += ["", f"[{link_label(alert)}]({safe_link(alert.url)})"]
    return "\n".join(lines)


def slack_escape(text: str | None, limit: int = MAX_TEXT) -> str:
    text = " ".join((text or "").split())[:limit]
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def slack_link(url: str | None, label: str) -> str | None:
    link = safe_link(url)
    return f"<{link.replace('|', '%7C').replace('>', '%3E')}|{slack_escape(label, 60)}>" if link else None
