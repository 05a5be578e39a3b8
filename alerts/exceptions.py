from storage.exceptions import RepwatchError
from storage.plugins import UnknownPlugin


class AlertError(RepwatchError):
    """Base class for alert-stage errors."""


class IllegalTransition(AlertError):
    def __init__(self, ticket_id: int, current: str, wanted: str, allowed: list[str]):
        super().__init__(f"ticket {ticket_id} is {current!r}; it cannot move to {wanted!r} "
                         f"(allowed from {current!r}: {', '.join(allowed) or 'none'})")


class UnknownNotifier(UnknownPlugin, AlertError):
    """A notifier's `kind` names no registered notifier."""


class ConcurrentPass(AlertError):
    """Another alert stage linked some of the same posts while this one ran. This pass wrote nothing
    (its transaction is rolled back): the other did that work, and the next run picks up the rest."""
