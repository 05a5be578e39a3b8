"""The command group, shared options and error handling."""
from __future__ import annotations

import logging
import sys
from functools import cached_property, wraps
from typing import Any

import click
from sqlalchemy.exc import DBAPIError, OperationalError

from repwatch import __version__
from repwatch.cli.terminal import clean, echo
from repwatch.exceptions import ConfigError, RepwatchError
from storage.exceptions import StorageError

EXIT_CONFIG = 2
EXIT_DATABASE = 3


class Context:
    def __init__(self, config_path: str, database: str | None, verbose: int = 0):
        self.config_path = config_path
        self.database_url = database
        self.verbose = verbose

    @cached_property
    def config(self):
        from repwatch.config import load_config

        return load_config(self.config_path)

    @cached_property
    def db(self):
        from storage import Database, default_url

        url = self.database_url or default_url(self.config.database if self._config_loadable() else None)
        return Database(url)

    def _config_loadable(self) -> bool:
        try:
            self.config
        except ConfigError:
            return False
        return True

    def clock(self):
        from repwatch.clock import SystemClock

        return SystemClock()

    @cached_property
    def tz(self):
        """The team's timezone: the config's, or the default one when there is no valid config file (working
        a ticket or reading a report must not need the collectors' config to be valid)."""
        from zoneinfo import ZoneInfo

        from repwatch.config import Config

        if self._config_loadable():
            return self.config.tz
        return ZoneInfo(Config.model_fields["timezone"].default)

    def when(self, value, style: str = "datetime", **kwargs):
        """A stored time as the team reads it: local, labelled (storage.timefmt.local_time)."""
        from storage.timefmt import local_time

        return local_time(value, self.tz, style, **kwargs)


def _database_label() -> str | None:
    ctx = click.get_current_context(silent=True)
    obj = ctx.find_object(Context) if ctx else None
    db = obj.__dict__.get("db") if obj is not None else None
    return db.safe_url if db is not None else None


def handle_errors(fn):
    """Errors a person can act on become one clear message and an exit code; bugs keep their traceback."""

    @wraps(fn)
    def wrapper(*args, **kwargs):
        try:
            return fn(*args, **kwargs)
        except ConfigError as exc:
            echo(f"error: {exc}", err=True)
            sys.exit(EXIT_CONFIG)
        except StorageError as exc:
            echo(f"database error: {exc}", err=True)
            sys.exit(EXIT_DATABASE)
        except DBAPIError as exc:
            from storage.trouble import database_trouble, trouble_kind

            # machine trouble (locked, read-only, disk full, unreachable) and any OperationalError are
            # the database's, not a bug; other driver errors (an IntegrityError) keep their traceback
            if trouble_kind(exc) is None and not isinstance(exc, OperationalError):
                raise
            echo(f"database error: {database_trouble(exc, _database_label())}", err=True)
            sys.exit(EXIT_DATABASE)
        except RepwatchError as exc:
            echo(f"error: {exc}", err=True)   # messages may quote collected text
            sys.exit(1)

    return wrapper


class TerminalSafeFormatter(logging.Formatter):
    """Log lines quote collected text and remote servers' answers; they reach a terminal too."""

    def format(self, record: logging.LogRecord) -> str:
        return clean(super().format(record))


def _set_verbosity(verbose: int) -> None:
    level = logging.WARNING - 10 * verbose
    root = logging.getLogger()
    if not root.handlers:
        handler = logging.StreamHandler()
        handler.setFormatter(TerminalSafeFormatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
        root.addHandler(handler)
    root.setLevel(max(level, logging.DEBUG))


# The global options are accepted after the command name too (`repwatch check-config -c FILE`, as the
# README and the sample config print it): each command gets hidden copies of them, except for short
# names it already uses for something else (`worker -c` is Celery's concurrency).
_GLOBAL: list[tuple[tuple[str, ...], str, dict[str, Any]]] = [
    (("-c", "--config"), "_global_config", dict(default=None)),
    (("--database",), "_global_database", dict(default=None)),
    (("-v", "--verbose"), "_global_verbose", dict(count=True)),
]


class GlobalOptionsCommand(click.Command):
    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        taken = {opt for p in self.params for opt in getattr(p, "opts", []) + getattr(p, "secondary_opts", [])}
        for opts, name, extra in _GLOBAL:
            free = [o for o in opts if o not in taken]
            if free:
                self.params.append(click.Option([*free, name], hidden=True, **extra))

    def invoke(self, ctx: click.Context):
        config = ctx.params.pop("_global_config", None)
        database = ctx.params.pop("_global_database", None)
        verbose = ctx.params.pop("_global_verbose", 0)
        obj = ctx.find_object(Context)
        if obj is not None:
            if config is not None:
                obj.config_path = config
                obj.__dict__.pop("config", None)   # not yet loaded in practice; never a stale file
            if database is not None:
                obj.database_url = database
        if verbose:
            _set_verbosity(verbose + (obj.verbose if obj is not None else 0))
        return super().invoke(ctx)


class RepwatchGroup(click.Group):
    command_class = GlobalOptionsCommand
    group_class = type   # subgroups (`ticket`, `db`, ...) are RepwatchGroups too


@click.group(cls=RepwatchGroup,
             context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100})
@click.option("-c", "--config", "config_path", default="schedules.yaml", show_default=True,
              envvar="REPWATCH_CONFIG", help="Path to schedules.yaml (env REPWATCH_CONFIG).")
@click.option("--database", envvar="REPWATCH_DATABASE_URL", default=None,
              help="SQLAlchemy URL; overrides `database:` in the config (env REPWATCH_DATABASE_URL). "
                   "Default sqlite:///repwatch.db.")
@click.option("-v", "--verbose", count=True, help="More logging (-vv for debug).")
@click.version_option(__version__, prog_name="repwatch")
@click.pass_context
def cli(ctx: click.Context, config_path: str, database: str | None, verbose: int) -> None:
    """repwatch: hear complaints and negative word of mouth before they spread.

    \b
    Collect public posts on a schedule, score them for complaints, group them into incidents,
    open tickets and tell the team. Start with `repwatch demo`; for production, write a
    schedules.yaml and add `*/5 * * * * repwatch run --due` to cron.

    The options below may also follow the command: `repwatch check-config -c FILE`.
    """
    _set_verbosity(verbose)
    ctx.obj = Context(config_path, database, verbose)


pass_ctx = click.make_pass_decorator(Context)
