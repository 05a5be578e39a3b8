"""When an alert may go out, and how alerts of one group become one message (Alertmanager's
group_wait and grouping; quiet hours, which urgent alerts override)."""
from __future__ import annotations

import hashlib
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from alerts.notify.base import Alert
from alerts.settings import DeliverySettings, QuietHours
from storage.vocabulary import severity_rank



def in_quiet_hours(when: datetime, quiet: QuietHours, tz: ZoneInfo) -> bool:
    start, end = quiet.bounds()
    local = when.astimezone(tz).time()
    if start <= end:
        return start <= local < end
    return local >= start or local < end      # spans midnight, e.g. 22:00–08:00


def quiet_end(when: datetime, quiet: QuietHours, tz: ZoneInfo) -> datetime:
    """The first moment at or after `when` outside quiet hours."""
    if not in_quiet_hours(when, quiet, tz):
        return when
    _, end = quiet.bounds()
    local = when.astimezone(tz)
    candidate = local.replace(hour=end.hour, minute=end.minute, second=0, microsecond=0)
    if candidate <= local:
        candidate += timedelta(days=1)
    return candidate.astimezone(when.tzinfo)


def due_time(alert: Alert, now: datetime, policy: DeliverySettings, tz: ZoneInfo) -> datetime:
    if alert.severity == "urgent":
        return now                         # urgent means hours, not days: no waiting, no quiet hours
    if alert.kind == "digest":
        return now                         # a digest keeps its own schedule (its `schedule:`)
    due = now + policy.group_wait
    if policy.quiet_hours is not None:
        due = quiet_end(due, policy.quiet_hours, tz)
    return due


def combine(alerts: list[Alert]) -> Alert:
    """One message for several alerts about the same incident (or target): the most severe leads."""
    if len(alerts) == 1:
        return alerts[0]
    ordered = sorted(alerts, key=lambda a: (-severity_rank(a.severity), a.key))
    lead = ordered[0]
    evidence, seen = [], set()
    for e in sorted((e for a in ordered for e in a.evidence), key=lambda e: -(e.get("reach") or 0)):
        ident = e.get("url") or e.get("text")
        if ident not in seen:
            seen.add(ident)
            evidence.append(e)
    digest = hashlib.sha256("\n".join(sorted(a.key for a in alerts)).encode()).hexdigest()[:16]
    return Alert(
        key=f"group:{lead.group}:{digest}", kind=lead.kind, title=lead.title, severity=lead.severity,
        summary="\n".join(a.summary for a in ordered), category=lead.category, url=lead.url,
        ticket_id=next((a.ticket_id for a in ordered if a.ticket_id), None), incident_id=lead.incident_id,
        evidence=evidence[:5], figures={**{k: v for a in reversed(ordered) for k, v in a.figures.items()},
                                        "alerts": len(alerts)}, target=lead.target,
        # the soonest deadline among them is the one the team must meet
        deadline=min((a.deadline for a in ordered if a.deadline and a.deadline.get("due")),
                     key=lambda d: d["due"], default=None),
        tz=next((a.tz for a in ordered if a.tz), None))
