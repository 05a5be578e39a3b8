"""Corrections from the command line: `repwatch ticket correct`, `repwatch mention correct`,
`repwatch corrections list|export`. The same functions as the dashboard and the API
(alerts/tickets/corrections.py), so the audit trail and the routing change are identical."""
from __future__ import annotations

import click

from repwatch.cli.app import Context, cli, handle_errors, pass_ctx
from repwatch.cli.terminal import echo, json_line
from repwatch.cli.ticket_cmds import _actor, _load, _settings, ticket_group
from storage.vocabulary import CATEGORIES, SEVERITIES


def correction_options(fn):
    fn = click.option("--reason", help="Why; kept with the correction and in the audit trail.")(fn)
    fn = click.option("--severity", type=click.Choice(SEVERITIES), help="The right severity (sets the SLA).")(fn)
    fn = click.option("--category", "categories", multiple=True, type=click.Choice(CATEGORIES),
                      help="The right category; repeat for several (the first routes the ticket).")(fn)
    fn = click.option("--complaint/--not-complaint", "complaint", default=None,
                      help="Is it a complaint at all? --not-complaint closes the ticket as dismissed.")(fn)
    return fn


def _change(complaint, categories, severity, reason):
    from alerts import Change

    return Change(complaint=complaint, categories=tuple(categories) or None, severity=severity, reason=reason)


@ticket_group.command("correct")
@click.argument("ticket_id", type=int)
@correction_options
@pass_ctx
@handle_errors
def ticket_correct(ctx: Context, ticket_id: int, complaint, categories, severity, reason) -> None:
    """Correct a ticket: not a complaint, is a complaint, its categories or severity.

    Every post of the ticket's incident is labelled for `repwatch train`, and the ticket follows at once:
    a new category re-routes it (routing rules), a new severity resets its SLA due times, and
    --not-complaint closes it as dismissed."""
    from alerts import AlertError, correct_ticket

    with ctx.db.session() as s:
        t = _load(s, ticket_id)
        try:
            rows = correct_ticket(s, t, _change(complaint, categories, severity, reason), _settings(ctx),
                                  actor=_actor(), now=ctx.clock().now())
        except AlertError as exc:
            raise click.ClickException(str(exc)) from None
        echo(f"ticket #{t.id} corrected ({len(rows)} posts labelled): {t.state}, {t.severity}, "
                   f"category {t.category or '-'} → department {t.department or '-'}, assignee {t.assignee or '-'}; "
                   f"resolution due {ctx.when(t.resolution_due)}")


@cli.group("mention")
def mention_group() -> None:
    """Work one mention (a collected post): correct its label."""


@mention_group.command("correct")
@click.argument("mention_id", type=int)
@correction_options
@pass_ctx
@handle_errors
def mention_correct(ctx: Context, mention_id: int, complaint, categories, severity, reason) -> None:
    """Label one post: (not) a complaint, its categories or severity. Used by `repwatch train`; noted in
    the audit trail of the ticket it is evidence for (correct the ticket to re-route it). A complaint the
    model missed (in no incident) gets its incident and a routed ticket at once."""
    from alerts import AlertError, correct_mention
    from storage.models import Mention

    with ctx.db.session() as s:
        m = s.get(Mention, mention_id)
        if m is None:
            raise click.ClickException(f"no mention #{mention_id}")
        try:
            row = correct_mention(s, m, _change(complaint, categories, severity, reason), actor=_actor(),
                                  now=ctx.clock().now(), settings=_settings(ctx))
        except AlertError as exc:
            raise click.ClickException(str(exc)) from None
        label = ("complaint" if row.complaint else "not a complaint") + (
            f", {', '.join(row.categories)}" if row.categories else "") + (f", {row.severity}" if row.severity else "")
        echo(f"mention #{m.id} labelled: {label}" + (f" (ticket #{row.ticket_id})" if row.ticket_id else ""))


@cli.group("corrections")
def corrections_group() -> None:
    """The team's corrections: list them, or export them as training examples."""


@corrections_group.command("list")
@click.option("--ticket", "ticket_id", type=int, help="Only this ticket's corrections.")
@click.option("--limit", type=click.IntRange(1, 100000), default=100, show_default=True)
@click.option("--json", "as_json", is_flag=True, help="One JSON object per correction.")
@pass_ctx
@handle_errors
def corrections_list(ctx: Context, ticket_id: int | None, limit: int, as_json: bool) -> None:
    """List corrections, newest first (one row per labelled post)."""
    from sqlalchemy import select

    from storage.models import Correction

    stmt = select(Correction)
    if ticket_id is not None:
        stmt = stmt.where(Correction.ticket_id == ticket_id)
    with ctx.db.session() as s:
        rows = list(s.scalars(stmt.order_by(Correction.at.desc(), Correction.id.desc()).limit(limit)))
        if not rows:
            echo("no corrections")
            return
        for c in rows:
            if as_json:
                echo(json_line({"id": c.id, "mention_id": c.mention_id, "ticket_id": c.ticket_id,
                                       "at": ctx.when(c.at, "iso"), "actor": c.actor, "complaint": c.complaint,
                                       "categories": c.categories, "severity": c.severity, "changed": c.changed,
                                       "reason": c.reason, "predicted": c.predicted}))
                continue
            pred = c.predicted or {}
            said = ("-" if not pred else ("complaint" if pred.get("complaint") else "no complaint")
                    + (f" {','.join(pred.get('categories') or [])}" if pred.get("categories") else "")
                    + (f" {pred.get('severity')}" if pred.get("severity") else ""))
            now = ("complaint" if c.complaint else "not a complaint") + (
                f" {','.join(c.categories)}" if c.categories else "") + (f" {c.severity}" if c.severity else "")
            echo(f"{ctx.when(c.at)} {c.actor}: mention #{c.mention_id} ticket #{c.ticket_id or '-'}: "
                       f"model said {said}; now {now}{' - ' + c.reason if c.reason else ''}")


@corrections_group.command("export")
@click.option("--weight", type=click.FloatRange(min=0), default=None,
              help="Weight of each example (default: training.corrections_weight in the config, 3.0).")
@click.option("-o", "--output", type=click.File("w", encoding="utf-8"), default="-",
              help="Where to write the JSONL (default stdout).")
@pass_ctx
@handle_errors
def corrections_export(ctx: Context, weight: float | None, output) -> None:
    """Write the corrections as labelled training examples, one JSON object per corrected mention
    (the latest correction wins): text, complaint (0/1), categories, severity, weight."""
    from storage.corrections import labelled_examples

    with ctx.db.session() as s:
        examples = labelled_examples(s, weight=corrections_weight(ctx) if weight is None else weight)
    for e in examples:
        output.write(json_line(e._asdict()) + "\n")
    echo(f"{len(examples)} examples", err=True)


def corrections_weight(ctx: Context) -> float:
    """training.corrections_weight from the config, or its default when there is no valid config."""
    from repwatch.config import TrainingSettings
    from repwatch.exceptions import ConfigError

    try:
        return ctx.config.training.corrections_weight
    except ConfigError:
        return TrainingSettings().corrections_weight
