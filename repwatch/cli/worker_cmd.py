"""`repwatch worker`: a Celery worker for distributed mode (docs/distributed.md)."""
from __future__ import annotations

import os

import click

from repwatch.cli.app import Context, cli, handle_errors, pass_ctx
from repwatch.exceptions import RepwatchError

STAGES = ("collect", "analyze", "alerts")


def default_concurrency(stages: list[str], cores: int) -> int:
    """Collection waits on the network, so it gets several processes per core; analysis is CPU bound
    (SnowNLP), so one per core; a mixed worker is sized for its CPU-bound part."""
    return 4 * cores if stages == ["collect"] else cores


def parse_stages(value: str) -> list[str]:
    stages = [s.strip() for s in value.split(",") if s.strip()]
    unknown = [s for s in stages if s not in STAGES]
    if unknown or not stages:
        raise click.BadParameter(f"unknown queue {', '.join(unknown) or '(none)'}; choose from {', '.join(STAGES)}")
    return list(dict.fromkeys(stages))


@cli.command("worker")
@click.option("-Q", "--queues", default=",".join(STAGES), show_default=True,
              help="Comma-separated queues to consume: collect, analyze, alerts (alerts includes digests).")
@click.option("-c", "--concurrency", type=click.IntRange(1, 256), default=None,
              help="Worker processes. Default: 4 per core for collect alone, else 1 per core.")
@click.option("--max-tasks-per-child", type=click.IntRange(1), default=200, show_default=True,
              help="Replace a worker process after this many tasks, bounding memory growth.")
@click.option("-n", "--hostname", default=None,
              help="Node name, unique per worker (default QUEUES.PID@HOST).")
@click.option("-l", "--loglevel", default="INFO", show_default=True,
              type=click.Choice(["DEBUG", "INFO", "WARNING", "ERROR"], case_sensitive=False))
@click.option("--logfile", default=None, help="Log to this file instead of stderr.")
@pass_ctx
@handle_errors
def worker(ctx: Context, queues: str, concurrency: int | None, max_tasks_per_child: int, hostname: str | None,
           loglevel: str, logfile: str | None) -> None:
    """Run a Celery worker for distributed mode (needs REPWATCH_BROKER_URL).

    \b
    Consumes the collect, analyze and alerts queues (all by default) with the prefork pool: crawls
    and scoring run in processes of their own, and the models load once, before the pool forks.
    Start as many as you like, on any machine that shares the PostgreSQL database and schedules.yaml;
    stop with SIGTERM (a warm shutdown: running tasks finish; a task cut short is redelivered)."""
    from repwatch.distributed import BROKER_ENV, enabled

    if not enabled():
        raise RepwatchError(f"{BROKER_ENV} is not set; e.g. export {BROKER_ENV}=amqp://guest:guest@127.0.0.1:5672//")
    stages = parse_stages(queues)
    config = ctx.config
    db = ctx.db                  # migrates an empty database once, here, before any process forks
    url = db.url
    if db.is_sqlite:
        click.echo("warning: SQLite works for one machine only; give every worker the same PostgreSQL "
                   "URL (REPWATCH_DATABASE_URL) to spread work over machines", err=True)
    db.dispose()

    from repwatch.distributed import worker_state
    from repwatch.distributed.app import configure

    app = configure(config.distributed)
    processes = concurrency or default_concurrency(stages, os.cpu_count() or 1)
    state = worker_state.init(config, url, pool_size=2)
    if "analyze" in stages:
        state.analyzer()   # here, before the pool forks: every process inherits the loaded models
    argv = ["worker", "--pool", "prefork", "--concurrency", str(processes),
            "--queues", ",".join(app.repwatch_queues.for_stages(stages)),
            "--hostname", hostname or f"{'+'.join(stages)}.{os.getpid()}@%h",
            "--loglevel", loglevel.upper(), "--max-tasks-per-child", str(max_tasks_per_child),
            # Mingle and gossip sync state between workers at start; nothing here needs them, and
            # they would make every start wait on, and chat with, every other worker on the broker.
            "--without-mingle", "--without-gossip"]
    if logfile:
        argv += ["--logfile", logfile]
    app.worker_main(argv)
