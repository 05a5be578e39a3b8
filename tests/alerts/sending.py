"""One helper for notifier tests: queue alerts and send what is due, as the alert stage does
(repwatch.pipeline.alert_stage), without the evaluation in front."""
from __future__ import annotations

from zoneinfo import ZoneInfo

from alerts.notify.dispatch import alert_rows, deliver_due, enqueue
from alerts.settings import DeliverySettings
from storage.context import RunContext


def dispatch(session, alerts, notifiers, now, commit=None, *, policy=None, tz="UTC"):
    """Queue, then send what is due, as the alert stage does."""
    policy = policy or DeliverySettings()
    queued = enqueue(session, alerts, notifiers, RunContext(now, ZoneInfo(tz)), policy)
    session.flush()
    return queued + deliver_due(session, notifiers, now, policy, commit, only=alert_rows(), tz=ZoneInfo(tz))
