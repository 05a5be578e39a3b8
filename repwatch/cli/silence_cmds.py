"""`repwatch silence add|list|expire`: mute a watch target or an incident until a time."""
from __future__ import annotations

from datetime import datetime, timezone

import click

from repwatch.cli.terminal import echo
from repwatch.cli.app import Context, cli, handle_errors, pass_ctx
from repwatch.cli.ticket_cmds import _actor


@cli.group("silence")
def silence_group() -> None:
    """Mute notifications for a watch target or an incident until a time."""


def _until(ctx: Context, now: datetime, until: str | None, for_: str | None) -> datetime:
    from storage.types import parse_duration

    if bool(until) == bool(for_):
        raise click.UsageError("give exactly one of --for (e.g. 4h, 3d) or --until (e.g. '2026-12-01 09:00')")
    if for_:
        try:
            return now + parse_duration(for_)
        except ValueError as exc:
            raise click.UsageError(str(exc)) from None
    assert until is not None   # exactly one of the two, checked above
    try:
        when = datetime.fromisoformat(until)
    except ValueError:
        raise click.UsageError(f"--until {until!r}: expected a date and time like '2026-12-01 09:00'") from None
    if when.tzinfo is None:   # a person means their own wall clock: the team's timezone
        when = when.replace(tzinfo=ctx.tz)
    return when.astimezone(timezone.utc)


@silence_group.command("add")
@click.option("--target", help="Watch target to mute (its name in schedules.yaml).")
@click.option("--incident", "incident_id", type=int, help="Incident id to mute (see `repwatch ticket show`).")
@click.option("--for", "for_", help="How long, e.g. 4h or 3d.")
@click.option("--until", help="Until when, local time of the team's timezone (the config's), e.g. '2026-12-01 09:00'.")
@click.option("--comment", help="Why; shown in `repwatch silence list`.")
@pass_ctx
@handle_errors
def add_cmd(ctx: Context, target, incident_id, for_, until, comment) -> None:
    """Add a silence. Alerts it matches are logged as silenced and not sent."""
    from alerts import AlertError, silences

    now = ctx.clock().now()
    ends = _until(ctx, now, until, for_)
    with ctx.db.session() as s:
        try:
            sil = silences.add(s, now=now, ends_at=ends, created_by=_actor(), target=target,
                               incident_id=incident_id, comment=comment)
        except AlertError as exc:
            raise click.UsageError(str(exc)) from None
        echo(f"silence #{sil.id} until {ctx.when(sil.ends_at)}")


@silence_group.command("list")
@click.option("--all", "show_all", is_flag=True, help="Include expired silences.")
@pass_ctx
@handle_errors
def list_cmd(ctx: Context, show_all: bool) -> None:
    """List silences in force (or all with --all)."""
    from sqlalchemy import select

    from alerts import silences
    from storage.models import Silence

    now = ctx.clock().now()
    with ctx.db.session() as s:
        rows = list(s.scalars(select(Silence).order_by(Silence.id))) if show_all else silences.active(s, now)
        if not rows:
            echo("no silences" + ("" if show_all else " in force"))
            return
        for sil in rows:
            what = " and ".join(p for p in (f"target {sil.target}" if sil.target else "",
                                            f"incident {sil.incident_id}" if sil.incident_id else "") if p)
            state = "active" if sil.starts_at <= now < sil.ends_at else ("expired" if sil.ends_at <= now else "pending")
            echo(f"#{sil.id} {state:<8} {what} until {ctx.when(sil.ends_at)} by {sil.created_by}"
                 + (f" — {sil.comment}" if sil.comment else ""))


@silence_group.command("expire")
@click.argument("silence_id", type=int)
@pass_ctx
@handle_errors
def expire_cmd(ctx: Context, silence_id: int) -> None:
    """End a silence now."""
    from alerts import AlertError, silences

    with ctx.db.session() as s:
        try:
            sil = silences.expire(s, silence_id, ctx.clock().now())
        except AlertError as exc:
            raise click.ClickException(str(exc)) from None
        echo(f"silence #{sil.id} ended at {ctx.when(sil.ends_at)}")
