from __future__ import annotations

import sys

import click

from repwatch.cli.terminal import echo
from repwatch.cli.app import Context, cli, handle_errors, pass_ctx


def print_report(report, *, echo=echo) -> None:
    ev, disp = report.evaluation, report.dispatch
    failed = report.failed_sources
    echo(f"collected {report.new} new mentions from {len(report.sources)} sources"
         + (f" ({len(failed)} failed)" if failed else ""))
    echo(f"analyzed {report.analyzed} mentions")
    if ev is not None:
        echo(f"incidents opened {ev.incidents_opened}, tickets opened {ev.tickets_opened}, "
             f"evidence attached {ev.attached}")
        extra = {"tickets reopened": ev.reopened, "escalated": ev.escalated, "spread alarms": ev.spread_alarms,
                 "SLA breaches": ev.sla_breaches}
        if any(extra.values()):
            echo(", ".join(f"{k} {v}" for k, v in extra.items()))
    if disp is not None and (disp.sent or disp.failed or disp.retry_later or disp.deferred):
        echo(f"notifications sent {disp.sent}, failed {disp.failed}, to retry {disp.retry_later}"
             + (f", waiting for the channel's rate {disp.deferred}" if disp.deferred else ""))
    for s in failed:
        echo(f"  FAILED {s.name}: {s.error}", err=True)


def run_with_progress(ctx: Context, sources: list[str] | None):
    from repwatch.pipeline import paused_sources, run_once
    from sentiment import Analyzer

    cfg = ctx.config
    paused = paused_sources(ctx.db)
    names = [s.name for s in cfg.sources if s.enabled and s.name not in paused
             and (sources is None or s.name in sources)]
    analyzer = Analyzer(cfg.analysis, cfg.targets())
    now = ctx.clock().now()
    # a bar on stderr when a person watches (each source's line printed above it); plain lines otherwise
    from repwatch.cli.tables import progress

    with progress(len(names), "collecting", enabled=bool(names)) as tick:
        left = [len(names)]

        def done(r) -> None:
            tick.log(r.line())
            tick(1)
            left[0] -= 1
            if left[0] == 0:
                tick.describe("analyzing and alerting")

        return run_once(ctx.db, cfg, analyzer, now, sources=sources, on_source=done)


@cli.command("run")
@click.option("--source", "sources", multiple=True, help="Only these sources (repeatable).")
@click.option("--due", is_flag=True, help="Only what is due per schedules.yaml: sources whose schedule fired "
              "since their last run, and digests not yet sent. For cron: */5 * * * * repwatch run --due")
@pass_ctx
@handle_errors
def run(ctx: Context, sources: tuple[str, ...], due: bool) -> None:
    """One pass: collect → analyze → alerts. Made for cron.

    Per-source failures are recorded and summarised and never stop other sources; the exit code is
    non-zero only for config (2) or database (3) errors. With --due, a second run while one is in
    progress says so and exits 0."""
    if due:
        if sources:
            raise click.UsageError("--due picks the sources itself; leave out --source")
        run_due_command(ctx)
        return
    for name in sources:
        ctx.config.source(name)  # unknown names are a usage error, not a silent no-op
    from repwatch import distributed

    if distributed.enabled():   # REPWATCH_BROKER_URL: workers do the work (docs/distributed.md)
        echo(distributed.enqueue_run(ctx.config, list(sources) or None, ctx.clock().now(), db=ctx.db).line())
        return
    report = run_with_progress(ctx, list(sources) or None)
    print_report(report)


def run_due_command(ctx: Context) -> None:
    import signal

    from repwatch.cron import cron_run
    from repwatch.distributed import executor_for

    # SIGTERM (a cron timeout, a shutdown) unwinds like an error: transactions roll back, the lock is released.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    clock = ctx.clock()
    report = cron_run(ctx.db, executor_for(ctx.db, ctx.config), clock, echo=echo,
                      on_source=lambda r: echo(r.line(), err=True))
    if report is None:
        return
    if hasattr(report.run, "line"):   # distributed mode: an EnqueueReport
        echo(report.run.line())
    elif report.run is not None:
        print_report(report.run)
    later = sorted(((s.name, s.next_fire) for s in report.not_due if s.next_fire), key=lambda pair: pair[1])
    if not report.ran:
        nxt = f"; next: {later[0][0]} at {ctx.when(later[0][1], 'time')}" if later else ""
        echo(f"no source due ({len(report.not_due)} not due{nxt})")
    for outcome in report.digests:
        echo(outcome.line())


@cli.command("collect")
@click.argument("source")
@pass_ctx
@handle_errors
def collect(ctx: Context, source: str) -> None:
    """Collect one SOURCE now (by its name in schedules.yaml), without analysis or alerts."""
    from repwatch.pipeline import collect_source

    try:
        source_cfg = ctx.config.source(source)
    except KeyError as exc:
        raise click.UsageError(exc.args[0]) from None
    report = collect_source(ctx.db, ctx.config, source_cfg, ctx.clock().now())
    echo(report.line())
    if report.status == "failed":
        sys.exit(1)
