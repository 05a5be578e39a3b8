"""The Celery app: broker, queues and the settings that make a lost worker or a lost broker safe.

One module-level app, configured from schedules.yaml's `distributed:` section by `configure()` in
every process that enqueues or works (the scheduler, `repwatch run`, `repwatch worker`)."""
from __future__ import annotations

import os
from dataclasses import dataclass

from celery import Celery
from kombu import Exchange, Queue

from repwatch.distributed import BROKER_ENV
from repwatch.distributed.settings import DistributedSettings

QUEUES = ("collect", "analyze", "alerts", "digest")
# What `repwatch worker -Q` names (a stage) and the queues it consumes.
STAGES = {"collect": ("collect",), "analyze": ("analyze",), "alerts": ("alerts", "digest")}
TASK_QUEUES = {"repwatch.collect": "collect", "repwatch.analyze": "analyze",
               "repwatch.evaluate_alerts": "alerts", "repwatch.send_digest": "digest"}
# Every alert evaluation does "whatever is pending", so one waiting in the queue stands for any number:
# RabbitMQ keeps only the newest ready message (messages being worked on do not count). A burst of
# analyzed batches then costs the running evaluation plus one, not one evaluation per batch.
COALESCE = {"alerts": {"x-max-length": 1, "x-overflow": "drop-head"}}

app = Celery("repwatch", include=["repwatch.distributed.tasks"])
app.conf.update(
    # A task is acknowledged only after it ran, and a worker that dies mid-task (SIGKILL, OOM, a lost
    # machine) gives its message back: RabbitMQ redelivers it to another worker. Every task is
    # idempotent, so running one twice changes nothing.
    task_acks_late=True,
    task_reject_on_worker_lost=True,
    # One message in hand per process: a long crawl never sits on a second source another worker could take.
    worker_prefetch_multiplier=1,
    # When the broker connection drops, unacked messages are requeued by RabbitMQ anyway; stopping
    # the running task avoids doing the same work twice (and Celery 5 warns without this setting).
    worker_cancel_long_running_tasks_on_connection_loss=True,
    # Publisher confirms: `apply_async` returns only once RabbitMQ has the message, so a broker going
    # down mid-publish raises (and is retried) instead of silently dropping scheduled work.
    broker_transport_options={"confirm_publish": True},
    broker_connection_retry_on_startup=True,
    broker_connection_max_retries=None,   # a worker waits for the broker as long as it takes
    broker_heartbeat=60,                  # notice a dead TCP peer within about two minutes
    task_publish_retry=True,
    task_ignore_result=True,              # results live in the database, not in a result backend
    task_serializer="json",
    accept_content=["json"],
    task_default_delivery_mode="persistent",
    task_create_missing_queues=False,     # a typo in a queue name must fail, not create a dead queue
    worker_send_task_events=False,
    enable_utc=True,
    timezone="UTC",
)


@dataclass(frozen=True)
class QueueNames:
    prefix: str = ""

    def __getitem__(self, stage: str) -> str:
        return f"{self.prefix}{stage}"

    def all(self) -> list[str]:
        return [self[q] for q in QUEUES]

    def for_stages(self, stages: list[str]) -> list[str]:
        return [self[q] for stage in stages for q in STAGES[stage]]


def broker_url() -> str | None:
    return os.environ.get(BROKER_ENV) or None


def publish_retry_policy(settings: DistributedSettings) -> dict:
    """Kombu waits 0, 1, 2 … 5, 5, 5 s between attempts; enough attempts to span publish_retry_for."""
    budget = settings.publish_retry_for.total_seconds()
    ramp = 15.0  # 0+1+2+3+4+5 seconds spent before the interval reaches its maximum
    retries = 6 + max(0, int((budget - ramp) // 5))
    return {"max_retries": retries, "interval_start": 0, "interval_step": 1, "interval_max": 5}


def configure(settings: DistributedSettings, url: str | None = None) -> Celery:
    """Point the app at the broker and name its queues. Idempotent; call before enqueuing or working."""
    url = url or broker_url()
    if not url:
        raise RuntimeError(f"{BROKER_ENV} is not set; distributed mode needs a RabbitMQ URL")
    names = QueueNames(settings.queue_prefix)
    if app.conf.broker_url not in (None, url):
        raise RuntimeError("this process already publishes to another broker; restart it to switch brokers")
    if getattr(app, "repwatch_queues", names) != names:
        _forget_routing()
    exchange = Exchange(names["repwatch"], type="direct", durable=True)
    app.conf.update(
        broker_url=url,
        task_queues=[Queue(names[q], exchange, routing_key=names[q], durable=True, queue_arguments=COALESCE.get(q))
                     for q in QUEUES],
        task_default_queue=names["collect"],
        task_default_exchange=exchange.name,
        task_routes={task: {"queue": names[q], "routing_key": names[q]} for task, q in TASK_QUEUES.items()},
        task_publish_retry_policy=publish_retry_policy(settings),
        # Remote control (ping, inspect) on a prefixed exchange, so parallel test runs or two
        # deployments on one RabbitMQ never answer each other's broadcasts.
        control_exchange=names["repwatch.control"],
    )
    _set_time_limits(settings)
    app.repwatch_settings = settings
    app.repwatch_queues = names
    return app


def _forget_routing() -> None:
    """Celery caches queue declarations and routes on first use. A process reconfigured with another
    queue prefix (a test, a scheduler reloading its config) drops them, so the next publish uses the new names."""
    for cached in ("queues", "router", "default_queue", "default_exchange"):
        app.amqp.__dict__.pop(cached, None)
    app.amqp._rtable = None


def _set_time_limits(settings: DistributedSettings) -> None:
    """Per task, from the worker's own config (set before the pool forks, so every child has them)."""
    from repwatch.distributed import tasks

    for task, hard in ((tasks.collect, settings.collect_time_limit), (tasks.analyze, settings.analyze_time_limit),
                       (tasks.evaluate_alerts, settings.alerts_time_limit),
                       (tasks.send_digest, settings.alerts_time_limit)):
        task.time_limit = hard.total_seconds()
        task.soft_time_limit = settings.soft_limit(hard)
