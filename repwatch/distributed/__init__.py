"""Distributed mode: Celery on RabbitMQ, stores in shared PostgreSQL (docs/distributed.md).

Off unless REPWATCH_BROKER_URL is set; then the scheduler and `repwatch run` enqueue tasks
(`enqueue_run`, `CeleryExecutor`) and `repwatch worker` processes run them. Importing this package is
cheap: Celery is imported only by the functions that need it."""
from __future__ import annotations

import os

BROKER_ENV = "REPWATCH_BROKER_URL"


def enabled() -> bool:
    return bool(os.environ.get(BROKER_ENV))


def enqueue_run(config, sources, now, on_source=None, *, db=None):
    """Enqueue a run; with `db`, sources paused on the sources page are left out."""
    from repwatch.distributed.enqueue import enqueue_run as run

    return run(config, sources, now, on_source=on_source, db=db)


def executor_for(db, config):
    """The scheduler's and `run --due`'s executor: enqueue when REPWATCH_BROKER_URL is set, else work here."""
    if enabled():
        from repwatch.distributed.enqueue import CeleryExecutor

        return CeleryExecutor(config, db)
    from repwatch.executor import InProcessExecutor

    return InProcessExecutor(db, config)
