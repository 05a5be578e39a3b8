from __future__ import annotations

import click

from repwatch.cli.terminal import echo
from repwatch.cli.app import Context, cli, handle_errors, pass_ctx


@cli.command("check-config")
@click.option("--strict", is_flag=True, help="Exit with code 1 when there are warnings too.")
@pass_ctx
@handle_errors
def check_config(ctx: Context, strict: bool) -> None:
    """Validate schedules.yaml without running anything.

    Every problem is listed at once with its line and key path; exit code 2 when the file is invalid.
    Likely mistakes that still leave it valid (a missing import folder, no notifier) are listed as
    warnings; with --strict they fail the check too (exit code 1)."""
    from repwatch.config import config_warnings

    cfg = ctx.config
    warnings = config_warnings(cfg)
    echo(f"{ctx.config_path}: OK" + (f" with {len(warnings)} warning{'s' if len(warnings) != 1 else ''}"
                                     if warnings else ""))
    echo(f"  timezone {cfg.timezone}; {len(cfg.sources)} sources, {len(cfg.watch)} watch targets, "
         f"{len(cfg.notify)} notifiers")
    for s in cfg.sources:
        echo(f"  - {s.name} ({s.kind}){'' if s.enabled else ' [disabled]'}")
    for warning in warnings:
        echo(f"  warning: {warning}")
    if warnings and strict:
        raise SystemExit(1)


@cli.group("db")
def db_group() -> None:
    """Database maintenance."""


@db_group.command("upgrade")
@click.option("--revision", default="head", show_default=True, help="Alembic revision to migrate to.")
@pass_ctx
@handle_errors
def db_upgrade(ctx: Context, revision: str) -> None:
    """Apply Alembic migrations (also done automatically on first use of an empty database)."""
    from storage import Database, default_url

    url = ctx.database_url or default_url(ctx.config.database if ctx._config_loadable() else None)
    db = Database(url, auto_upgrade=False)
    db.upgrade(revision)
    echo(f"database {db.safe_url} is at revision {revision}")
