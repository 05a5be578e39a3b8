from __future__ import annotations

import getpass

import click

from repwatch.cli.terminal import echo, json_line
from repwatch.cli.app import Context, cli, handle_errors, pass_ctx
from storage.vocabulary import SEVERITIES


def _actor() -> str:
    try:
        return f"cli:{getpass.getuser()}"
    except Exception:
        return "cli"


def _settings(ctx: Context):
    """The configured alert settings (SLA on reopen), or the defaults when there is no config file:
    working a ticket must not need the collectors' config to be valid."""
    from alerts import AlertSettings
    from repwatch.exceptions import ConfigError

    try:
        return ctx.config.alerts
    except ConfigError:
        return AlertSettings()


def _due(t, now, tz) -> str:
    """SLA state in a few words: what is due next (in the team's time), or what is breached (alerts.sla's
    one rule)."""
    from alerts import sla
    from storage.timefmt import local_time

    if t.state == "closed":
        return "closed"
    if sla.paused_at(t, now):
        return "paused: waiting for customer"
    breach = sla.breach_at(t, now)
    if breach is not None:
        return f"SLA breached: {breach.kind.replace('_', ' ')}"
    due = sla.next_due(t, now)
    if due is None:
        return "-"
    kind, when = due
    return f"{'respond' if kind == 'first_response' else 'resolve'} by {local_time(when, tz, 'short')}"


@cli.command("tickets")
@click.option("--state", "states", multiple=True, help="new, triaged, assigned, investigating, waiting_customer, resolved, "
              "followed_up, closed; or 'open' (everything not closed, the default); or 'all'.")
@click.option("--severity", type=click.Choice(SEVERITIES), multiple=True)
@click.option("--category", multiple=True)
@click.option("--department")
@click.option("--assignee")
@click.option("--target", help="Only tickets whose incident is about this watch target.")
@click.option("--breached", is_flag=True, help="Only tickets past an SLA due time.")
@click.option("--escalated", is_flag=True, help="Only tickets escalated at least once.")
@click.option("--limit", type=click.IntRange(1, 10000), default=200, show_default=True)
@click.option("--json", "as_json", is_flag=True, help="One JSON object per ticket.")
@pass_ctx
@handle_errors
def tickets(ctx: Context, states, severity, category, department, assignee, target, breached, escalated, limit,
            as_json) -> None:
    """List tickets, most urgent first."""

    from sqlalchemy import select

    from alerts import sla
    from storage.models import Incident, Ticket
    from storage.vocabulary import OPEN_STATES, TICKET_STATES as STATES

    now = ctx.clock().now()
    states = set(states) or {"open"}
    unknown = states - set(STATES) - {"open", "all"}
    if unknown:
        raise click.UsageError(f"unknown state {', '.join(sorted(unknown))}; states: {', '.join(STATES)}, open, all")
    wanted = set(STATES) if "all" in states else set(OPEN_STATES) if "open" in states else set()
    wanted |= states - {"open", "all"}
    stmt = select(Ticket).where(Ticket.state.in_(wanted))
    if severity:
        stmt = stmt.where(Ticket.severity.in_(severity))
    if category:
        stmt = stmt.where(Ticket.category.in_(category))
    if department:
        stmt = stmt.where(Ticket.department == department)
    if assignee:
        stmt = stmt.where(Ticket.assignee == assignee)
    if target:
        stmt = stmt.join(Incident, Incident.id == Ticket.incident_id).where(Incident.target == target)
    if breached:
        stmt = stmt.where(sla.breached_clause(now))
    if escalated:
        stmt = stmt.where(Ticket.escalation_level > 0)
    stmt = stmt.order_by(Ticket.priority, Ticket.resolution_due, Ticket.id).limit(limit)
    with ctx.db.session() as s:
        rows = list(s.scalars(stmt))
        tz = ctx.tz
        if as_json:
            iso = lambda v: ctx.when(v, "iso", missing=None)  # noqa: E731
            for t in rows:
                echo(json_line({
                    "id": t.id, "state": t.state, "severity": t.severity, "priority": t.priority,
                    "category": t.category, "department": t.department, "assignee": t.assignee, "title": t.title,
                    "incident_id": t.incident_id, "opened_at": iso(t.opened_at),
                    "first_response_due": iso(t.first_response_due), "resolution_due": iso(t.resolution_due),
                    "escalation_level": t.escalation_level, "reopen_count": t.reopen_count,
                    "follow_up_satisfied": t.follow_up_satisfied, "sla": _due(t, now, tz),
                    "external_refs": t.external_refs or {}}))
            return
        if not rows:
            echo("no tickets match")
            return
        # owners and titles are mostly Chinese: rich measures them in terminal cells (two a character)
        from repwatch.cli.tables import Col, print_table

        print_table([Col("ID", "right"), Col("SEVERITY"), Col("STATE"), Col("CATEGORY"),
                     Col("OWNER", max_width=16), Col("SLA"), Col("TITLE", flexible=True, max_width=60)],
                    [[t.id, t.severity, t.state, t.category or "-", t.assignee or t.department or "-",
                      _due(t, now, tz) + (f" ⇧{t.escalation_level}" if t.escalation_level else ""), t.title]
                     for t in rows])


@cli.group("ticket")
def ticket_group() -> None:
    """Work one ticket: show, move, assign, note."""


def _load(s, ticket_id: int):
    from storage.models import Ticket

    t = s.get(Ticket, ticket_id)
    if t is None:
        raise click.ClickException(f"no ticket #{ticket_id}")
    return t


@ticket_group.command("show")
@click.argument("ticket_id", type=int)
@pass_ctx
@handle_errors
def show(ctx: Context, ticket_id: int) -> None:
    """Show a ticket, its SLA, its evidence and its audit trail."""
    from alerts import members

    now = ctx.clock().now()
    with ctx.db.session() as s:
        t = _load(s, ticket_id)
        inc = t.incident
        echo(f"Ticket #{t.id} [{t.severity}, priority {t.priority}] {t.state}: {t.title}")
        echo(f"  category {t.category or '-'}; target {inc.target or '-'}; department {t.department or '-'}; "
             f"assignee {t.assignee or '-'}")
        when, tz = ctx.when, ctx.tz
        echo(f"  opened {when(t.opened_at)}; first response due {when(t.first_response_due)}"
             + (f" (responded {when(t.first_response_at)})" if t.first_response_at else "")
             + f"; resolution due {when(t.resolution_due)}")
        if t.paused_at is not None:
            echo(f"  waiting for the customer since {when(t.paused_at)}: SLA clock paused")
        echo(f"  SLA: {_due(t, now, tz)}; escalation level {t.escalation_level}; reopened {t.reopen_count}×"
             + ("" if t.follow_up_satisfied is None else
                      f"; follow-up: customer {'satisfied' if t.follow_up_satisfied else 'NOT satisfied'}"))
        echo(f"  incident #{inc.id}: {inc.mention_count} posts, reach {inc.reach}, first seen "
             f"{when(inc.first_seen)}, last seen {when(inc.last_seen)}; "
             f"signals {', '.join(inc.signals or []) or '-'}")
        for channel, ref in sorted((t.external_refs or {}).items()):
            echo(f"  {channel}: {ref}")
        from alerts import other_tickets

        others = other_tickets(s, t)
        earlier = [o for o in others if o.earlier]
        if earlier:
            echo("  this customer complained before: " + ", ".join(f"#{o.ticket.id}" for o in earlier))
        if len(others) > len(earlier):
            echo("  and again later: " + ", ".join(f"#{o.ticket.id}" for o in others if not o.earlier))
        echo("Evidence:")
        for m in members(s, t.incident_id, limit=50):
            reach = f" [{m.author_followers} followers]" if m.author_followers else ""
            echo(f"  - #m{m.id} {' '.join(m.text.split())[:100]}{reach}  {m.url or ''}")
            if m.analysis is not None:
                echo(f"      {_verdict(m.analysis)}")
        echo("Audit trail:")
        for e in t.events:
            change = f" {e.from_state or ''}→{e.to_state}" if e.to_state else ""
            if e.kind == "correction":
                from alerts import describe_change as describe

                change = f" ({describe(e.detail or {})})"
            echo(f"  {when(e.at)} {e.actor}: {e.kind}{change}{' - ' + e.note if e.note else ''}")


def _verdict(a) -> str:
    """What the models said about one post: complaint or not with the calibrated score, each category with its
    confidence, the severity (what an agent corrects with `repwatch correct`)."""
    score = f" {a.complaint_score:.2f}" if a.complaint_score is not None else ""
    conf = a.confidence or {}
    cats = ", ".join(f"{c} {conf[c]:.2f}" if c in conf else c for c in a.categories or []) or "-"
    return (f"{'complaint' if a.complaint else 'not a complaint'}{score}; categories {cats}; "
            f"severity {a.severity}; sentiment {a.sentiment:.2f}")


@ticket_group.command("move")
@click.argument("ticket_id", type=int)
@click.argument("state")
@click.option("--note", help="Why; kept in the audit trail.")
@click.option("--satisfied", type=click.Choice(["yes", "no"]),
              help="Follow-up result (客户是否满意); required when moving to followed_up.")
@pass_ctx
@handle_errors
def move_cmd(ctx: Context, ticket_id: int, state: str, note: str | None, satisfied: str | None) -> None:
    """Move a ticket to STATE (new → triaged → assigned → investigating → resolved → followed_up → closed;
    closed → new reopens; assigned/investigating ⇄ waiting_customer pauses the SLA clock)."""
    from alerts import AlertError, move

    if state == "followed_up" and satisfied is None:
        raise click.UsageError("record the follow-up result: --satisfied yes or --satisfied no")
    if satisfied is not None and state != "followed_up":
        raise click.UsageError("--satisfied goes with the move to followed_up")
    with ctx.db.session() as s:
        t = _load(s, ticket_id)
        try:
            move(s, t, state, actor=_actor(), now=ctx.clock().now(), note=note,
                 satisfied=None if satisfied is None else satisfied == "yes", settings=_settings(ctx))
        except AlertError as exc:
            raise click.ClickException(str(exc)) from None
        echo(f"ticket #{t.id} is now {t.state}")


@ticket_group.command("assign")
@click.argument("ticket_id", type=int)
@click.option("--to", "assignee", help="Person responsible (责任到人).")
@click.option("--department")
@click.option("--note")
@pass_ctx
@handle_errors
def assign_cmd(ctx: Context, ticket_id: int, assignee: str | None, department: str | None, note: str | None) -> None:
    """Assign a ticket to a person and/or department.

    --to must name a dashboard user (`repwatch user list`) or a person the routing config names;
    an unknown name is refused with the list of those that exist."""
    from alerts import assign
    from repwatch.assignees import UnknownAssignee, check_assignee

    if not assignee and not department:
        raise click.UsageError("give --to and/or --department")
    with ctx.db.session() as s:
        t = _load(s, ticket_id)
        if t.state == "closed":
            raise click.ClickException(f"ticket #{t.id} is closed; reopen it first (repwatch ticket move {t.id} new)")
        try:
            check_assignee(s, assignee, _settings(ctx), current=t.assignee)
        except UnknownAssignee as exc:
            raise click.ClickException(str(exc)) from None
        assign(s, t, assignee=assignee, department=department, actor=_actor(), now=ctx.clock().now(), note=note)
        echo(f"ticket #{t.id} assigned to {t.assignee or t.department}; state {t.state}")


@ticket_group.command("note")
@click.argument("ticket_id", type=int)
@click.argument("text")
@pass_ctx
@handle_errors
def note_cmd(ctx: Context, ticket_id: int, text: str) -> None:
    """Add a note to the audit trail."""
    from alerts import record

    with ctx.db.session() as s:
        t = _load(s, ticket_id)
        now = ctx.clock().now()
        t.updated_at = now
        record(s, t, at=now, actor=_actor(), kind="note", note=text)
        echo(f"note added to ticket #{t.id}")


@ticket_group.command("draft")
@click.argument("ticket_id", type=int)
@click.option("--template", help="category.lang (e.g. delivery.en, general.zh); default: the ticket's category, zh.")
@click.option("--list", "list_all", is_flag=True, help="List the reply templates instead.")
@pass_ctx
@handle_errors
def draft_cmd(ctx: Context, ticket_id: int, template: str | None, list_all: bool) -> None:
    """Print a reply to the customer drafted from a template (the six steps), filled from the ticket."""
    from alerts import replies

    if list_all:
        for key in sorted(replies.templates()):
            echo(key)
        return
    with ctx.db.session() as s:
        t = _load(s, ticket_id)
        try:
            chosen, text = replies.draft(s, t, template, now=ctx.clock().now(), tz=ctx.tz)
        except replies.ReplyError as exc:
            raise click.ClickException(str(exc)) from None
        echo(f"# ticket #{t.id}, template {chosen.key}")
        echo(text)


@ticket_group.command("reply")
@click.argument("ticket_id", type=int)
@click.option("--template", help="Draft from this template (category.lang); recorded with the reply.")
@click.option("--text", help="The reply as sent; without it, the template's draft is recorded as it is.")
@pass_ctx
@handle_errors
def reply_cmd(ctx: Context, ticket_id: int, template: str | None, text: str | None) -> None:
    """Record the reply given to the customer; the first reply is the ticket's first response."""
    from alerts import replies

    now = ctx.clock().now()
    with ctx.db.session() as s:
        t = _load(s, ticket_id)
        try:
            chosen = replies.resolve(template, t) if template or not text else None
            if text is None:
                assert chosen is not None   # no text given: a template was chosen
                text = chosen.fill(replies.values(s, t, lang=chosen.lang, now=now, tz=ctx.tz))
            first = replies.reply(s, t, text, actor=_actor(), now=now, template=chosen.key if chosen else None)
        except replies.ReplyError as exc:
            raise click.ClickException(str(exc)) from None
        echo(f"reply recorded on ticket #{t.id}" + (" (first response)" if first else ""))


@ticket_group.command("merge")
@click.argument("ticket_id", type=int)
@click.argument("into_id", type=int)
@click.option("--reason", help="Why they are one complaint; kept in both audit trails.")
@pass_ctx
@handle_errors
def merge_cmd(ctx: Context, ticket_id: int, into_id: int, reason: str | None) -> None:
    """Merge duplicate ticket TICKET_ID into INTO_ID: the evidence joins INTO_ID, TICKET_ID is closed, both
    audit trails say so, and INTO_ID takes the worse severity and the sooner due times."""
    from alerts import AlertError, merge_tickets

    with ctx.db.session() as s:
        try:
            keep = merge_tickets(s, ticket_id, into_id, actor=_actor(), now=ctx.clock().now(),
                                 settings=_settings(ctx), reason=reason)
        except AlertError as exc:
            raise click.ClickException(str(exc)) from None
        echo(f"ticket #{ticket_id} merged into #{keep.id} ({keep.severity}, {keep.state}); #{ticket_id} is closed")
