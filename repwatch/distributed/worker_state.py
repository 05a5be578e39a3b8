"""What one worker process keeps between tasks: the config, a database engine, the analyzer.

`init()` runs in the worker's main process before the pool forks. A worker serving the analyze queue
also loads the Analyzer there (SnowNLP and the models: seconds and hundreds of MiB), so every pool
process, including each replacement after --max-tasks-per-child, inherits it loaded instead of
paying for it on its first task. The database engine is the opposite: each process builds its own,
because connections must never cross a fork."""
from __future__ import annotations

import logging
import os
import threading
import time
from dataclasses import dataclass, field

from sqlalchemy import event

from repwatch.config import Config
from storage import Database
from storage.db import make_engine

log = logging.getLogger("repwatch.distributed")


@dataclass
class WorkerState:
    config: Config
    database_url: str
    pool_size: int = 2
    _db: Database | None = None
    _analyzer: object = None
    _pid: int = field(default_factory=os.getpid)
    db_seconds: float = 0.0   # time spent inside SQL statements in this process, for the task log lines
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def _forked(self) -> None:
        if self._pid != os.getpid():   # an engine inherited from the parent: never reuse its sockets
            self._db, self._pid, self.db_seconds = None, os.getpid(), 0.0

    @property
    def db(self) -> Database:
        self._forked()
        if self._db is None:
            # A worker process runs one task at a time; two connections cover a task's nested session.
            engine = make_engine(self.database_url, **({} if self.database_url.startswith("sqlite")
                                                      else {"pool_size": self.pool_size, "max_overflow": 2}))
            self._time_statements(engine)
            self._db = Database(self.database_url, engine=engine, auto_upgrade=False)
        return self._db

    def analyzer(self):
        self._forked()
        with self._lock:
            if self._analyzer is None:
                from sentiment import Analyzer

                started = time.monotonic()
                # workers=1: Celery already runs one process per core; a pool inside each would oversubscribe
                # the cores (and a prefork child is daemonic, so it may not have children of its own).
                settings = self.config.analysis.model_copy(update={"workers": 1})
                self._analyzer = Analyzer(settings, self.config.targets())
                self._analyzer.warm_up()   # load the models now, not inside the first batch
                log.info("analyzer loaded in process %d (%.1fs)", os.getpid(), time.monotonic() - started)
            return self._analyzer

    def _time_statements(self, engine) -> None:
        @event.listens_for(engine, "before_cursor_execute")
        def _start(conn, cursor, statement, params, context, executemany):
            conn.info["repwatch_t0"] = time.perf_counter()

        @event.listens_for(engine, "after_cursor_execute")
        def _stop(conn, cursor, statement, params, context, executemany):
            self.db_seconds += time.perf_counter() - conn.info.pop("repwatch_t0", time.perf_counter())


_state: WorkerState | None = None


def init(config: Config, database_url: str, *, pool_size: int = 2) -> WorkerState:
    global _state
    _state = WorkerState(config=config, database_url=database_url, pool_size=pool_size)
    return _state


def get() -> WorkerState:
    if _state is None:
        raise RuntimeError("worker state is not initialised: start workers with `repwatch worker`")
    return _state
