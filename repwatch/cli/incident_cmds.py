"""`repwatch incidents` (the list, with what each is about) and `repwatch incident merge|move-out`."""
from __future__ import annotations

import click

from repwatch.cli.app import Context, cli, handle_errors, pass_ctx
from repwatch.cli.terminal import echo, json_line
from repwatch.cli.ticket_cmds import _actor


@cli.command("incidents")
@click.option("--all", "show_all", is_flag=True, help="Merged and closed incidents too.")
@click.option("--target", help="Only incidents about this watch target.")
@click.option("--limit", type=click.IntRange(1, 10000), default=100, show_default=True)
@click.option("--json", "as_json", is_flag=True, help="One JSON object per incident.")
@pass_ctx
@handle_errors
def incidents(ctx: Context, show_all: bool, target: str | None, limit: int, as_json: bool) -> None:
    """List incidents, largest first: label (what it is about), posts, distinct authors, category,
    severity and ticket."""
    from sqlalchemy import select

    from alerts import spread_of
    from storage.models import Incident, Ticket

    with ctx.db.session() as s:
        stmt = select(Incident)
        if not show_all:
            stmt = stmt.where(Incident.status == "open")
        if target:
            stmt = stmt.where(Incident.target == target)
        table = []
        for inc in s.scalars(stmt.order_by(Incident.mention_count.desc(), Incident.id).limit(limit)):
            ticket = s.scalar(select(Ticket.id).where(Ticket.incident_id == inc.id).order_by(Ticket.id.desc()))
            authors, sources = spread_of(s, inc.id)
            if as_json:
                echo(json_line({"id": inc.id, "label": inc.label, "posts": inc.mention_count, "authors": authors,
                                "sources": sources, "target": inc.target, "category": inc.category,
                                "severity": inc.severity, "status": inc.status, "merged_into": inc.merged_into,
                                "ticket": ticket, "first_seen": ctx.when(inc.first_seen, "iso"),
                                "last_seen": ctx.when(inc.last_seen, "iso")}))
                continue
            status = inc.status if not inc.merged_into else f"merged → #{inc.merged_into}"
            table.append([f"#{inc.id}", inc.severity, inc.mention_count, authors, ", ".join(sources[:3]),
                          f"{inc.target or '-'} / {inc.category or '-'}", f"#{ticket}" if ticket else "-",
                          ctx.when(inc.last_seen, "short"), status, inc.label or inc.title])
    if as_json:
        return
    if not table:
        echo("no incidents match")
        return
    from repwatch.cli.tables import Col, print_table

    print_table([Col("ID", "right"), Col("SEVERITY"), Col("POSTS", "right"), Col("AUTHORS", "right"),
                 Col("SOURCES", max_width=30), Col("TARGET / CATEGORY"), Col("TICKET"), Col("LAST SEEN"),
                 Col("STATUS"), Col("ABOUT", flexible=True, max_width=50)], table)


@cli.group("incident")
def incident_group() -> None:
    """Correct the grouping: merge two incidents, move a mention out."""


@incident_group.command("merge")
@click.argument("incident_id", type=int)
@click.option("--into", "into_id", type=int, required=True, help="The incident that stays.")
@click.option("--reason", help="Why; kept in the tickets' audit trail.")
@pass_ctx
@handle_errors
def merge_cmd(ctx: Context, incident_id: int, into_id: int, reason: str | None) -> None:
    """Merge INCIDENT_ID into another incident about the same target."""
    from alerts import AlertError, merge_incidents as merge

    with ctx.db.session() as s:
        try:
            dst = merge(s, incident_id, into_id, actor=_actor(), now=ctx.clock().now(), reason=reason)
        except AlertError as exc:
            raise click.ClickException(str(exc)) from None
        echo(f"incident #{incident_id} merged into #{dst.id}: {dst.mention_count} posts, {dst.label or ''}")


@incident_group.command("move-out")
@click.argument("incident_id", type=int)
@click.option("--mention", "mention_id", type=int, required=True, help="The mention that does not belong.")
@click.option("--reason", help="Why; kept in the ticket's audit trail.")
@pass_ctx
@handle_errors
def move_out_cmd(ctx: Context, incident_id: int, mention_id: int, reason: str | None) -> None:
    """Move a mention out of INCIDENT_ID into a new incident of its own."""
    from alerts import AlertError, move_out

    with ctx.db.session() as s:
        try:
            new = move_out(s, incident_id, mention_id, actor=_actor(), now=ctx.clock().now(), reason=reason)
        except AlertError as exc:
            raise click.ClickException(str(exc)) from None
        echo(f"mention {mention_id} moved out of #{incident_id} into new incident #{new.id}")


@incident_group.command("backfill")
@click.option("--rebuild", is_flag=True, help="Rebuild every open incident's state, not only missing ones.")
@click.option("--no-encoder", is_flag=True, help="Do not compute missing sentence vectors (words only).")
@pass_ctx
@handle_errors
def backfill_cmd(ctx: Context, rebuild: bool, no_encoder: bool) -> None:
    """Build the grouping-by-meaning state (terms, label, sentence-vector centroid) of open incidents made
    before it existed, from their posts, so new posts join them: first the sentence vectors their posts
    lack (multilingual-e5-small, about 29 posts per CPU-second), then the state. Idempotent: run it twice,
    the second run writes nothing."""
    from alerts import backfill
    from repwatch.vectors import encode_incident_members

    encoded = 0
    if not no_encoder:
        def progress(done: int, total: int) -> None:
            if done == total or done % 1024 == 0:
                click.echo(f"encoded {done}/{total} posts", err=True)

        encoded = encode_incident_members(ctx.db, progress)
    with ctx.db.session() as s:
        done = backfill(s, rebuild=rebuild)
    echo(f"sentence vectors computed for {encoded} post(s); grouping state built for {done} incident(s)")
