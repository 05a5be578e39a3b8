"""The seam between deciding what to run (scheduler, cron) and running it.

The scheduler and `run --due` only ever call an Executor. InProcessExecutor does the work in this
process; distributed mode (issue 8) supplies one whose methods enqueue Celery tasks with the same
arguments instead, so nothing that decides *when* has to change."""
from __future__ import annotations

import logging
import threading
import time
from datetime import date, datetime
from typing import TYPE_CHECKING, Any, Callable, Iterable, Optional, Protocol

from repwatch.config import Config
from storage import Database

if TYPE_CHECKING:
    from sentiment import Analyzer

log = logging.getLogger("repwatch.executor")


class Executor(Protocol):
    config: Config

    def run_sources(self, names: list[str], now: datetime) -> object:
        """Collect these sources, then analyze and alert (one pipeline pass)."""

    def send_digest(self, digest: str, day: date, recipients: Optional[list[str]], now: datetime
                    ) -> Iterable[Any] | None:
        """Send one digest for one local day to these recipients (None: all not yet sent)."""


class InProcessExecutor:
    """Runs the pipeline and the digest here. The analyzer is loaded on first use and kept, because
    SnowNLP costs seconds and hundreds of MiB per load; a config reload with new analysis settings
    or watch targets rebuilds it."""

    def __init__(self, db: Database, config: Config, *, sleep: Callable[[float], None] = time.sleep):
        self.db = db
        self._config = config
        self.sleep = sleep
        self._analyzer: Analyzer | None = None
        self._analyzer_key: tuple | None = None
        self._lock = threading.Lock()

    @property
    def config(self) -> Config:
        return self._config

    @config.setter
    def config(self, value: Config) -> None:
        self._config = value

    def analyzer(self):
        from sentiment import Analyzer

        cfg = self._config
        key = (cfg.analysis, tuple(sorted((k, tuple(v)) for k, v in cfg.targets().items())))
        with self._lock:
            if self._analyzer is None or key != self._analyzer_key:
                self._analyzer, self._analyzer_key = Analyzer(cfg.analysis, cfg.targets()), key
            return self._analyzer

    def run_sources(self, names: list[str], now: datetime, on_source=None):
        from repwatch.pipeline import run_once

        return run_once(self.db, self._config, self.analyzer(), now, sources=names, on_source=on_source)

    def send_digest(self, digest: str, day: date, recipients: Optional[list[str]], now: datetime):
        from repwatch.digests import send_digest

        return send_digest(self.db, self._config, digest, day, now, only=recipients)
