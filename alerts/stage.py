"""The alert stage, one pass: graded complaints join incidents (near-duplicates, target, category);
incidents open, feed and reopen tickets; spread detection, engagement velocity and reach escalate
them; SLA timers escalate tickets nobody answers. Returns the alerts to deliver.

Runs in one transaction: a crash part-way leaves nothing half-done, and a rerun finds every step
already recorded (incident keys, linked mentions, ticket event keys, detector cursors)."""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, tzinfo

import numpy as np
from sqlalchemy import select
from sqlalchemy.orm import Session, defer

from alerts.incidents import spread
from alerts.incidents.escalate import engagement_surges, reach_severity
from alerts.incidents.evidence import attach_evidence, spread_of, top_posts, what
from alerts.incidents.index import IncidentIndex, join, raise_severity, vectors_of
from alerts.tickets.lifecycle import TicketChanges, ensure_ticket, on_mention
from alerts.notify.base import Alert
from alerts.settings import AlertSettings
from alerts.tickets.sla import check_sla
from storage.context import RunContext
from storage.timefmt import local_time
from storage.models import Analysis, Incident, IncidentMention, Mention, Ticket
from storage.vocabulary import severities_at_least

BATCH = 5000   # mentions joined per pass at most; the rest follow on the next run


@dataclass
class EvaluateReport:
    incidents_opened: int = 0
    tickets_opened: int = 0
    attached: int = 0
    reopened: int = 0
    escalated: int = 0
    spread_alarms: int = 0
    sla_breaches: int = 0
    alerts: list[Alert] = field(default_factory=list)


def _pending(session: Session, settings: AlertSettings):
    """Graded complaints not yet in any incident, oldest first. Reposts of the same text on other
    sources are included: they are how a complaint spreads, and they join the original's incident."""
    wanted = severities_at_least(settings.incidents.min_severity)
    linked = select(IncidentMention.mention_id)
    # the raw item and the model's per-category confidence are never read here: not decoded (JSON) for each
    stmt = (select(Analysis, Mention).options(defer(Mention.raw), defer(Analysis.confidence))
            .join(Mention, Mention.id == Analysis.mention_id)
            .where(Analysis.severity.in_(wanted), Mention.id.not_in(linked)).order_by(Mention.id).limit(BATCH))
    return list(session.execute(stmt).all())


def evaluate(session: Session, settings: AlertSettings, ctx: RunContext) -> EvaluateReport:
    now, base_url = ctx.now, ctx.base_url
    report = EvaluateReport()
    changes = TicketChanges()
    index = IncidentIndex(session, settings.incidents, now)
    # links and evidence events are kept back and written together (one statement each) at the end
    # of the loop, or earlier where a query in it reads them (TicketChanges.write_pending)
    index.links, changes.evidence = [], []
    open_tickets: dict[int, Ticket | None] = {}
    changes.open_tickets = open_tickets
    changes.write_links = lambda: index.write_links(session)
    # No autoflush while posts join: an incident changed by every post it absorbs (counts, grouping
    # state) is written once at the end instead of once per post. The loop's queries read rows that
    # Core statements wrote at once (incidents, memberships, tickets opened, events with a key); the
    # one that depends on ORM changes, a ticket's open_incident_id, flushes first (lifecycle.open_for).
    pending = _pending(session, settings)
    # sentence vectors the wiring stored (MentionVector): the batch is scored against every centroid at once
    embs = vectors_of(session, [mention.id for _, mention in pending])
    order = [mention.id for _, mention in pending if mention.id in embs]
    targets = {mention.id: (analysis.targets or [None])[0] for analysis, mention in pending}
    prepared = index.grouper.prepare(np.stack([embs[i] for i in order]), [targets[i] for i in order]) if order else None
    row_of = {mention_id: i for i, mention_id in enumerate(order)}
    with session.no_autoflush:
        for analysis, mention in pending:
            emb = embs.get(mention.id)
            pre = (prepared, row_of[mention.id]) if prepared is not None and emb is not None else None
            incident, created, added = join(session, index, analysis, mention, now, emb, pre)
            report.incidents_opened += created
            if created:   # a new incident has no ticket yet: on_mention need not ask
                open_tickets[incident.id] = None
                changes.fresh.add(incident.id)
            if not added:
                continue
            by_reach = reach_severity(incident.reach, settings.spread.reach)
            if by_reach:
                raise_severity(incident, by_reach, "reach")
            on_mention(session, incident, mention, analysis.signals, settings, now, base_url=base_url,
                       changes=changes)
        changes.write_pending(session)
    session.flush()

    for sa in spread.detect(session, settings, now, ctx.tz):
        report.spread_alarms += 1
        changes.alerts.extend(_spread_alerts(session, sa, settings, now, base_url, changes, ctx.tz))

    for surge in engagement_surges(session, settings.spread.engagement, now):
        surging = session.get(Incident, surge.incident_id)
        assert surging is not None   # found by the surge query just now
        raise_severity(surging, surge.severity, "engagement")
        ensure_ticket(session, surging, settings, now, base_url=base_url, changes=changes,
                      reason=f"engagement growing {surge.per_hour:g}/hour (mention {surge.mention_id})")

    sla_alerts = check_sla(session, now, base_url=base_url, tz=ctx.tz)
    report.sla_breaches = len(sla_alerts)
    report.tickets_opened, report.attached = changes.opened, changes.attached
    report.reopened, report.escalated = changes.reopened, changes.escalated
    report.alerts = attach_evidence(session, changes.alerts + sla_alerts, now, ctx.tz)
    return report


def _spread_alerts(session: Session, sa: spread.SeriesAlarm, settings: AlertSettings, now: datetime,
                   base_url: str | None, changes: TicketChanges, tz: tzinfo | None = None) -> list[Alert]:
    a = sa.alarm
    figures = {"count": _n(a.value), "expected": round(a.expected, 2), "score": a.score, "reason": a.reason,
               "bin": local_time(a.bin_time, tz)}   # the team's time, labelled
    if sa.incident_id is not None:
        incident = session.get(Incident, sa.incident_id)
        assert incident is not None   # the alarm's incident was read in this session
        raise_severity(incident, settings.spread.raise_to, "spread")
        authors, sources = spread_of(session, incident.id)
        ticket = ensure_ticket(session, incident, settings, now, base_url=base_url, changes=changes, force=True,
                               reason=f"spreading: {_n(a.value)} posts in one bin, {a.expected:.2f} expected")
        return [Alert(
            key=f"spread:incident:{incident.id}", kind="spike", repeatable=True, severity=incident.severity,
            title=incident.title[:120], category=incident.category, target=incident.target,
            incident_id=incident.id, ticket_id=ticket.id if ticket else None,
            url=f"{base_url.rstrip('/')}/tickets/{ticket.id}" if base_url and ticket else None,
            summary=(f"事件扩散 (spreading): {what(incident.target, incident.category)}"
                     f"{' · ' + incident.label if incident.label else ''} — {_n(a.value)} posts in "
                     f"{settings.spread.bin}, {a.expected:.2f} expected; {authors} authors on {len(sources)} sources"),
            figures=figures)]
    # A surge in one target × category: the incidents in the surge are "several customers with the same
    # issue" (DOMAIN.md: important), so they get tickets if they had none.
    incident_ids = sorted(set(session.scalars(select(IncidentMention.incident_id)
                                              .where(IncidentMention.mention_id.in_(sa.mention_ids or [-1])))))
    for incident_id in incident_ids:
        incident = session.get(Incident, incident_id)
        assert incident is not None   # linked to a mention just now
        raise_severity(incident, "important", "surge")
        ensure_ticket(session, incident, settings, now, base_url=base_url, changes=changes,
                      reason=f"part of a surge in {what(sa.target, sa.category)}")
    severity = "urgent" if a.value >= 3 * max(a.expected, 1.0) else "important"
    return [Alert(
        key=f"spread:{sa.series}", kind="spike", repeatable=True, severity=severity, target=sa.target,
        category=sa.category, title=f"投诉激增 Complaints rising: {what(sa.target, sa.category)}",
        summary=(f"{_n(a.value)} complaints in {settings.spread.bin} from {local_time(a.bin_time, tz)}, "
                 f"{a.expected:.2f} expected ({a.reason}); {len(incident_ids)} incidents"),
        evidence=top_posts(session, mention_ids=sa.mention_ids), figures={**figures, "incidents": len(incident_ids)})]


def _n(value: float):
    return int(value) if float(value).is_integer() else value
