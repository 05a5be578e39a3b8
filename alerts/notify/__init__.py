"""Notifiers, one module each, found by short name (registry.py)."""
from alerts.notify.base import Alert, Deferred, Delivered, Failed, Notifier, Outcome, Retryable
from alerts.notify.registry import get_notifier, known_notifiers

__all__ = ["Alert", "Deferred", "Delivered", "Failed", "Notifier", "Outcome", "Retryable", "get_notifier",
           "known_notifiers"]
