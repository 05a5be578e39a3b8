"""Alerts: scored mentions become incidents, incidents become tickets, and people are told.
Tickets follow the complaint-handling process in docs/DOMAIN.md, with SLA timers.

This module is the package's public API: repwatch/ (the wiring) imports from `alerts` only, never from
the modules inside it, so the inside can be reorganised without breaking the wiring
(tests/test_layering.py holds that). Names load lazily (PEP 562): importing `alerts` costs nothing,
and `from alerts import evaluate` imports only what evaluate needs."""
from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING, Any

# public name -> (module, name in that module)
_EXPORTS: dict[str, tuple[str, str]] = {}


def _export(module: str, *names: str, **renamed: str) -> None:
    for name in names:
        _EXPORTS[name] = (module, name)
    for public, inner in renamed.items():
        _EXPORTS[public] = (module, inner)


# the alert stage, one pass: incidents, tickets, spread, SLA; then the notification log
_export("alerts.stage", "evaluate", "EvaluateReport")
_export("alerts.notify.dispatch", "enqueue", "deliver_due", "DispatchReport", "alert_rows", "digest_rows")
_export("alerts.incidents.evidence", "attach_evidence", "spread_of")
_export("alerts.incidents.detect", "DetectorSettings", "SpreadDetector")
# incidents
_export("alerts.incidents.grouping", "Grouper", "encoder_text", "use_tokenizer", vector_bytes="to_bytes",
        word_vector="vector")
_export("alerts.incidents.index", "grouping_settings", "members", "backfill", "mention_text", "shingles")
_export("alerts.incidents.merge", "move_out", "related", "merge_tickets",
        merge_incidents="merge", dismiss_incident="dismiss")
# tickets and the complaint process
_export("alerts.tickets.process", "TRANSITIONS", "assign", "move", "record")
_export("alerts.tickets.lifecycle", "TicketChanges", "ensure_ticket")
_export("alerts.tickets.customers", "other_tickets")
_export("alerts.tickets.corrections", "Change", "correct_mention", "correct_ticket", "is_dismissed",
        describe_change="describe")
_export("alerts.reports", "build_report", "period", "queue_link", REPORT_GROUPINGS="GROUPINGS")
# notifiers
_export("alerts.notify.base", "Alert", "Notifier", "Delivered", "Failed", "Outcome")
_export("alerts.notify.registry", "get_notifier")
_export("alerts.notify.email", "smtp_send")
# digest
_export("alerts.digest.settings", "DigestSettings", "Recipient")
_export("alerts.digest.data", gather_digest="gather")
_export("alerts.digest.queries", DigestScope="Scope")
_export("alerts.digest.render", render_digest="render")
_export("alerts.digest.deliver", "DigestOutcome", compose_digest="compose", deliver_digest="send",
        digest_email_channel="email_channel", digest_recipient_log_key="recipient_log_key",
        digest_channel_log_key="channel_log_key", DIGEST_DONE="DONE")
# settings and errors
_export("alerts.settings", "AlertSettings", "IncidentSettings")
_export("alerts.exceptions", "AlertError", "IllegalTransition", "ConcurrentPass")
_export("alerts.tickets.replies", "ReplyError")

# sub-modules that are an API as a whole: the SLA rule, reply templates, silences
_MODULES = {"sla": "alerts.tickets.sla", "replies": "alerts.tickets.replies", "silences": "alerts.notify.silences"}

__all__ = sorted([*_EXPORTS, *_MODULES])


def __getattr__(name: str) -> Any:
    if name in _MODULES:
        return import_module(_MODULES[name])
    try:
        module, inner = _EXPORTS[name]
    except KeyError:
        raise AttributeError(f"module 'alerts' has no attribute {name!r}") from None
    value = getattr(import_module(module), inner)
    globals()[name] = value   # later lookups skip this function
    return value


def __dir__() -> list[str]:
    return __all__


if TYPE_CHECKING:   # what the lazy names are, for type checkers and editors
    from alerts.notify import silences  # noqa: F401
    from alerts.tickets import replies, sla  # noqa: F401
    from alerts.tickets.corrections import Change, correct_mention, correct_ticket, is_dismissed  # noqa: F401
    from alerts.tickets.corrections import describe as describe_change  # noqa: F401
    from alerts.tickets.customers import other_tickets  # noqa: F401
    from alerts.incidents.detect import DetectorSettings, SpreadDetector  # noqa: F401
    from alerts.digest.data import gather as gather_digest  # noqa: F401
    from alerts.digest.queries import Scope as DigestScope  # noqa: F401
    from alerts.digest.render import render as render_digest  # noqa: F401
    from alerts.digest.deliver import DONE as DIGEST_DONE, DigestOutcome, compose as compose_digest  # noqa: F401
    from alerts.digest.deliver import channel_log_key as digest_channel_log_key  # noqa: F401
    from alerts.digest.deliver import email_channel as digest_email_channel, send as deliver_digest  # noqa: F401
    from alerts.digest.deliver import recipient_log_key as digest_recipient_log_key  # noqa: F401
    from alerts.digest.settings import DigestSettings, Recipient  # noqa: F401
    from alerts.notify.dispatch import DispatchReport, alert_rows, deliver_due, digest_rows, enqueue  # noqa: F401
    from alerts.stage import EvaluateReport, evaluate  # noqa: F401
    from alerts.incidents.evidence import attach_evidence, spread_of  # noqa: F401
    from alerts.exceptions import AlertError, ConcurrentPass, IllegalTransition  # noqa: F401
    from alerts.incidents.grouping import Grouper, encoder_text, to_bytes as vector_bytes  # noqa: F401
    from alerts.incidents.grouping import use_tokenizer, vector as word_vector  # noqa: F401
    from alerts.incidents.index import backfill, grouping_settings, members, mention_text, shingles  # noqa: F401
    from alerts.tickets.lifecycle import TicketChanges, ensure_ticket  # noqa: F401
    from alerts.incidents.merge import dismiss as dismiss_incident, merge as merge_incidents  # noqa: F401
    from alerts.incidents.merge import merge_tickets, move_out, related  # noqa: F401
    from alerts.notify.base import Alert, Delivered, Failed, Notifier, Outcome  # noqa: F401
    from alerts.notify.email import smtp_send  # noqa: F401
    from alerts.notify.registry import get_notifier  # noqa: F401
    from alerts.tickets.replies import ReplyError  # noqa: F401
    from alerts.reports import GROUPINGS as REPORT_GROUPINGS, build_report, period, queue_link  # noqa: F401
    from alerts.settings import AlertSettings, IncidentSettings  # noqa: F401
    from alerts.tickets.process import TRANSITIONS, assign, move, record  # noqa: F401
