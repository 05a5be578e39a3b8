from __future__ import annotations

import getpass

import click

from repwatch.cli.app import Context, cli, handle_errors, pass_ctx

SEVERITIES = ("general", "important", "urgent")


def _actor() -> str:
    try:
        return f"cli:{getpass.getuser()}"
    except Exception:
        return "cli"


@cli.command("tickets")
@click.option("--state", "states", multiple=True, help="new, triaged, assigned, investigating, resolved, "
              "followed_up, closed; or 'open' (everything not closed, the default).")
@click.option("--severity", type=click.Choice(SEVERITIES), multiple=True)
@click.option("--category", multiple=True)
@click.option("--department")
@click.option("--breached", is_flag=True, help="Only tickets past an SLA due time.")
@click.option("--json", "as_json", is_flag=True, help="One JSON object per ticket.")
@pass_ctx
@handle_errors
def tickets(ctx: Context, states, severity, category, department, breached, as_json) -> None:
    """List tickets, most urgent first."""
    import json

    from sqlalchemy import or_, select

    from alerts.tickets import OPEN_STATES
    from storage.models import Ticket

    now = ctx.clock().now()
    states = set(states) or {"open"}
    wanted = set(OPEN_STATES) if "open" in states else set()
    wanted |= states - {"open"}
    stmt = select(Ticket).where(Ticket.state.in_(wanted)).order_by(Ticket.priority, Ticket.resolution_due, Ticket.id)
    if severity:
        stmt = stmt.where(Ticket.severity.in_(severity))
    if category:
        stmt = stmt.where(Ticket.category.in_(category))
    if department:
        stmt = stmt.where(Ticket.department == department)
    if breached:
        stmt = stmt.where(or_(Ticket.resolution_due < now,
                              (Ticket.first_response_at.is_(None)) & (Ticket.first_response_due < now)))
    with ctx.db.session() as s:
        rows = list(s.scalars(stmt))
        if as_json:
            for t in rows:
                click.echo(json.dumps({"id": t.id, "state": t.state, "severity": t.severity, "category": t.category,
                                       "department": t.department, "assignee": t.assignee, "title": t.title,
                                       "opened_at": t.opened_at.isoformat(),
                                       "resolution_due": t.resolution_due.isoformat() if t.resolution_due else None},
                                      ensure_ascii=False))
            return
        if not rows:
            click.echo("no tickets match")
            return
        click.echo(f"{'ID':>5}  {'SEVERITY':<9} {'STATE':<13} {'CATEGORY':<13} {'OWNER':<16} TITLE")
        for t in rows:
            owner = t.assignee or t.department or "-"
            late = " (SLA breached)" if t.resolution_due and t.resolution_due < now else ""
            click.echo(f"{t.id:>5}  {t.severity:<9} {t.state:<13} {(t.category or '-'):<13} {owner[:16]:<16} "
                       f"{t.title[:60]}{late}")


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
    """Show a ticket, its evidence and its audit trail."""
    from sqlalchemy import select

    from storage.models import IncidentMention, Mention

    with ctx.db.session() as s:
        t = _load(s, ticket_id)
        click.echo(f"Ticket #{t.id} [{t.severity}] {t.state}: {t.title}")
        click.echo(f"  category {t.category or '-'}; department {t.department or '-'}; assignee {t.assignee or '-'}")
        click.echo(f"  opened {t.opened_at:%Y-%m-%d %H:%M} UTC; first response due "
                   f"{t.first_response_due:%Y-%m-%d %H:%M}; resolution due {t.resolution_due:%Y-%m-%d %H:%M}")
        mentions = s.scalars(select(Mention).join(IncidentMention, IncidentMention.mention_id == Mention.id)
                             .where(IncidentMention.incident_id == t.incident_id).order_by(Mention.id))
        click.echo("Evidence:")
        for m in mentions:
            click.echo(f"  - {m.text[:100]}  {m.url or ''}")
        click.echo("Audit trail:")
        for e in t.events:
            change = f" {e.from_state or ''}→{e.to_state}" if e.to_state else ""
            click.echo(f"  {e.at:%Y-%m-%d %H:%M} {e.actor}: {e.kind}{change}{' - ' + e.note if e.note else ''}")


@ticket_group.command("move")
@click.argument("ticket_id", type=int)
@click.argument("state")
@click.option("--note", help="Why; kept in the audit trail.")
@pass_ctx
@handle_errors
def move_cmd(ctx: Context, ticket_id: int, state: str, note: str | None) -> None:
    """Move a ticket to STATE (new → triaged → assigned → investigating → resolved → followed_up → closed)."""
    from alerts.exceptions import IllegalTransition
    from alerts.tickets import move

    with ctx.db.session() as s:
        t = _load(s, ticket_id)
        try:
            move(s, t, state, actor=_actor(), now=ctx.clock().now(), note=note)
        except IllegalTransition as exc:
            raise click.ClickException(str(exc)) from None
        click.echo(f"ticket #{t.id} is now {t.state}")


@ticket_group.command("assign")
@click.argument("ticket_id", type=int)
@click.option("--to", "assignee", help="Person responsible (责任到人).")
@click.option("--department")
@click.option("--note")
@pass_ctx
@handle_errors
def assign_cmd(ctx: Context, ticket_id: int, assignee: str | None, department: str | None, note: str | None) -> None:
    """Assign a ticket to a person and/or department."""
    from alerts.tickets import assign

    if not assignee and not department:
        raise click.UsageError("give --to and/or --department")
    with ctx.db.session() as s:
        t = _load(s, ticket_id)
        assign(s, t, assignee=assignee, department=department, actor=_actor(), now=ctx.clock().now(), note=note)
        click.echo(f"ticket #{t.id} assigned to {t.assignee or t.department}; state {t.state}")
