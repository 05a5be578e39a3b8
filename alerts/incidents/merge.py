"""People correct the grouping: two incidents that turn out to be one are merged; a mention that does
not belong is moved out into an incident of its own. Both keep the grouping state (Incident.terms,
label) in step, so later posts join the corrected incidents, and both write the tickets' audit trail."""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import delete, func, select, update
from sqlalchemy.orm import Session

from alerts.tickets.corrections import DISMISSED, Change, dismiss as close_as_not_a_complaint, label_mention
from alerts.exceptions import AlertError
from alerts.incidents.index import mention_text, raise_severity, store_state
from alerts.tickets.process import record
from storage.models import Analysis, Incident, IncidentMention, Mention, Ticket
from storage.vocabulary import event_time


class IncidentError(AlertError):
    """A merge or move-out that cannot be done (unknown incident, not a member, merging into itself)."""


def _get(session: Session, incident_id: int) -> Incident:
    incident = session.get(Incident, incident_id)
    if incident is None:
        raise IncidentError(f"no incident #{incident_id}")
    if incident.status == "merged":
        raise IncidentError(f"incident #{incident_id} was merged into #{incident.merged_into}")
    return incident


def _open_ticket(session: Session, incident_id: int) -> Ticket | None:
    return session.scalar(select(Ticket).where(Ticket.open_incident_id == incident_id))


def _refresh(session: Session, incident: Incident, keep: int = 30) -> None:
    """Counts, reach, first/last seen, grouping state and label recomputed from the members."""
    rows = session.execute(select(Mention).join(IncidentMention, IncidentMention.mention_id == Mention.id)
                           .where(IncidentMention.incident_id == incident.id).order_by(Mention.id)).scalars().all()
    incident.mention_count = len(rows)
    incident.reach = sum(m.author_followers or 0 for m in rows)
    if rows:
        times = [event_time(m.published_at, m.collected_at) for m in rows]
        incident.first_seen, incident.last_seen = min(times), max(times)
    store_state(session, incident)


def merge(session: Session, source_id: int, into_id: int, *, actor: str, now: datetime,
          reason: str | None = None) -> Incident:
    """Merge incident `source_id` into `into_id`: its mentions, reach, signals and severity join the
    surviving incident; it is marked merged; an open ticket of the merged incident is closed with a
    `merged` event pointing at the surviving ticket (or, when the survivor has none, carried over to it)."""
    if source_id == into_id:
        raise IncidentError("an incident cannot be merged into itself")
    src, dst = _get(session, source_id), _get(session, into_id)
    if src.target != dst.target:
        raise IncidentError(f"incident #{src.id} is about {src.target or 'no target'}, #{dst.id} about "
                            f"{dst.target or 'no target'}: only incidents about one target are merged")
    already = select(IncidentMention.mention_id).where(IncidentMention.incident_id == dst.id)
    session.execute(update(IncidentMention).where(IncidentMention.incident_id == src.id,
                                                  IncidentMention.mention_id.not_in(already))
                    .values(incident_id=dst.id))
    session.execute(delete(IncidentMention).where(IncidentMention.incident_id == src.id))
    dst.signals = sorted(set(dst.signals or []) | set(src.signals or []))
    raise_severity(dst, src.severity)
    dst.category = dst.category or src.category
    src.status, src.merged_into = "merged", dst.id
    src.mention_count, src.reach = 0, 0
    session.flush()
    _refresh(session, dst)

    note = f"incident #{src.id} merged into #{dst.id}" + (f": {reason}" if reason else "")
    src_ticket, dst_ticket = _open_ticket(session, src.id), _open_ticket(session, dst.id)
    if src_ticket is not None and dst_ticket is None:
        src_ticket.incident_id = dst.id
        src_ticket.open_incident_id = dst.id
        src_ticket.updated_at = now
        record(session, src_ticket, at=now, actor=actor, kind="merged", note=note,
               detail={"from_incident": src.id, "into_incident": dst.id})
    elif src_ticket is not None and dst_ticket is not None:
        record(session, src_ticket, at=now, actor=actor, kind="merged", note=note, from_state=src_ticket.state,
               to_state="closed", detail={"from_incident": src.id, "into_incident": dst.id,
                                          "into_ticket": dst_ticket.id})
        src_ticket.state, src_ticket.closed_at, src_ticket.open_incident_id = "closed", now, None
        src_ticket.updated_at = now
        record(session, dst_ticket, at=now, actor=actor, kind="merged", note=note,
               detail={"from_incident": src.id, "into_incident": dst.id, "from_ticket": src_ticket.id})
    elif dst_ticket is not None:
        record(session, dst_ticket, at=now, actor=actor, kind="merged", note=note,
               detail={"from_incident": src.id, "into_incident": dst.id})
    return dst


def move_out(session: Session, incident_id: int, mention_id: int, *, actor: str, now: datetime,
             reason: str | None = None) -> Incident:
    """Move one mention out of an incident into a new incident of its own. Returns the new incident."""
    src = _get(session, incident_id)
    link = session.scalar(select(IncidentMention).where(IncidentMention.incident_id == src.id,
                                                        IncidentMention.mention_id == mention_id))
    if link is None:
        raise IncidentError(f"mention {mention_id} is not in incident #{src.id}")
    if src.mention_count <= 1 or (session.scalar(select(func.count()).where(IncidentMention.incident_id == src.id)) or 0) <= 1:
        raise IncidentError(f"mention {mention_id} is all incident #{src.id} has")
    mention = session.get(Mention, mention_id)
    assert mention is not None   # its incident link exists, and links cascade with mentions
    analysis = session.scalar(select(Analysis).where(Analysis.mention_id == mention_id))
    when = event_time(mention.published_at, mention.collected_at)
    category = analysis.categories[0] if analysis and analysis.categories else src.category
    new = Incident(key=f"{src.target or '-'}/{category or 'other'}/m{mention_id}/out-of-{src.id}",
                   target=src.target, category=category, title=mention_text(mention)[:1000],
                   severity=analysis.severity if analysis else src.severity, signals=list(analysis.signals or [])
                   if analysis else [], first_seen=when, last_seen=when, mention_count=0, reach=0, status="open")
    session.add(new)
    session.flush()
    link.incident_id = new.id
    link.added_at = now
    session.flush()
    _refresh(session, src)
    _refresh(session, new)
    ticket = _open_ticket(session, src.id)
    if ticket is not None:
        record(session, ticket, at=now, actor=actor, kind="moved_out",
               note=f"mention {mention_id} moved out to incident #{new.id}" + (f": {reason}" if reason else ""),
               detail={"mention_id": mention_id, "from_incident": src.id, "to_incident": new.id})
    return new


def dismiss(session: Session, incident_id: int, *, actor: str, now: datetime, reason: str) -> Incident:
    """Not an incident worth handling (not a complaint, not about us, spam). The same as correcting its
    ticket to "not a complaint" (alerts.corrections): every post is labelled not a complaint with the
    reason - the training signal `repwatch train` reads - the incident is `dismissed` (the reason also
    kept in its signals as `dismissed:<reason>`) and an open ticket is closed. Later posts still join it
    (and stay dismissed), so the same noise does not come back as new incidents."""
    reason = (reason or "").strip()
    if not reason:
        raise IncidentError("say why the incident is dismissed")
    change = Change(complaint=False, reason=reason).validated()
    incident = _get(session, incident_id)
    ticket = _open_ticket(session, incident.id)
    for mention_id in session.scalars(select(IncidentMention.mention_id)
                                      .where(IncidentMention.incident_id == incident.id)):
        label_mention(session, mention_id, change, ticket_id=ticket.id if ticket else None, actor=actor, now=now)
    incident.status = DISMISSED
    incident.signals = sorted(set(incident.signals or []) | {f"dismissed:{(change.reason or '')[:100]}"})
    if ticket is not None:
        close_as_not_a_complaint(session, ticket, incident, actor=actor, now=now, reason=change.reason)
    return incident


def related(session: Session, incident: Incident, limit: int = 5, floor: float = 0.1) -> list[tuple[Incident, float]]:
    """Open incidents about the same target that say something close (cosine of the centroids at least
    `floor`): candidates for a merge, shown beside a ticket."""
    from alerts.incidents.grouping import _dot, _norm

    mine = (incident.terms or {}).get("c") or {}
    if not mine:
        return []
    others = session.scalars(select(Incident).where(Incident.target == incident.target, Incident.status == "open",
                                                    Incident.id != incident.id, Incident.terms.is_not(None))
                             .order_by(Incident.last_seen.desc()).limit(500))
    scored = []
    for other in others:
        theirs = (other.terms or {}).get("c") or {}
        score = _dot(mine, theirs) / (_norm(mine) * _norm(theirs)) if theirs else 0.0
        if score >= floor:
            scored.append((other, score))
    return sorted(scored, key=lambda x: (-x[1], x[0].id))[:limit]


def merge_tickets(session: Session, ticket_id: int, into_id: int, *, actor: str, now: datetime,
                  settings=None, reason: str | None = None) -> Ticket:
    """Merge duplicate ticket `ticket_id` into `into_id`: their incidents are merged (merge() above: the
    evidence joins, the duplicate is closed with a `merged` event pointing at the survivor, the survivor
    gets a `merged` event naming it), and the survivor's severity, priority and due times follow the
    worse of the two (never relax). Both tickets must be open; returns the surviving ticket."""
    from alerts.settings import AlertSettings
    from alerts.tickets.process import raise_ticket_severity

    if ticket_id == into_id:
        raise IncidentError("a ticket cannot be merged into itself")
    dup, keep = session.get(Ticket, ticket_id), session.get(Ticket, into_id)
    for wanted, t in ((ticket_id, dup), (into_id, keep)):
        if t is None:
            raise IncidentError(f"no ticket #{wanted}")
        if t.state == "closed":
            raise IncidentError(f"ticket #{t.id} is closed; only open tickets are merged")
    assert dup is not None and keep is not None   # checked just above
    severity, first_due, resolution_due = dup.severity, dup.first_response_due, dup.resolution_due
    merge(session, dup.incident_id, keep.incident_id, actor=actor, now=now,
          reason=f"ticket #{dup.id} merged into #{keep.id}" + (f": {reason}" if reason else ""))
    raise_ticket_severity(session, keep, severity, settings or AlertSettings(), now,
                          reason=f"merged with ticket #{dup.id}")
    if keep.first_response_at is None and first_due is not None and keep.first_response_due is not None:
        keep.first_response_due = min(keep.first_response_due, first_due)
    if resolution_due is not None and keep.resolution_due is not None:
        keep.resolution_due = min(keep.resolution_due, resolution_due)
    keep.updated_at = now
    return keep
