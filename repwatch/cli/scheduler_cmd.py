from __future__ import annotations

import os

import click

from repwatch.cli.terminal import echo
from repwatch.cli.app import Context, cli, handle_errors, pass_ctx


@cli.command("scheduler")
@click.option("--no-catch-up", is_flag=True, help="Do not run overdue sources and digests at start.")
@pass_ctx
@handle_errors
def scheduler(ctx: Context, no_catch_up: bool) -> None:
    """Run the long-lived scheduler (APScheduler) with the jobs in schedules.yaml.

    \b
    SIGHUP re-reads schedules.yaml (an invalid file is reported and the current jobs are kept).
    SIGTERM or SIGINT finishes the running job and exits; a second signal exits at once.
    Run one per database; `repwatch status` shows its heartbeat."""
    from repwatch.distributed import executor_for   # enqueues when REPWATCH_BROKER_URL is set
    from repwatch.scheduler import Daemon

    daemon = Daemon(ctx.config_path, ctx.db, executor_for, clock=ctx.clock())
    if no_catch_up:
        daemon.catch_up_at_start = False
    echo(f"repwatch scheduler: {len(daemon.job_specs(daemon.config))} jobs from {ctx.config_path}, "
         f"timezone {daemon.config.timezone}, database {ctx.db.safe_url}; pid {os.getpid()}",
         err=True)
    daemon.serve()
    echo("repwatch scheduler: stopped", err=True)
