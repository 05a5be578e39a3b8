"""Who a ticket can be assigned to: the team's users (not disabled) and the people and departments the
routing config names. One list for the queue's picker, the ticket actions, the JSON API and
`repwatch ticket assign`, so a typo (`--to 李雷` for a user who does not exist) is refused everywhere
with the names that do exist."""
from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from repwatch.exceptions import RepwatchError
from storage.models import Ticket, User


class UnknownAssignee(RepwatchError):
    """The name is not a user (nor a person the routing config names)."""


@dataclass(frozen=True)
class Assignees:
    people: list[str]
    departments: list[str]


def routing_names(alert_settings) -> tuple[set[str], set[str]]:
    """(people, departments) named by alerts.routing and alerts.default_route."""
    people: set[str] = set()
    departments: set[str] = set()
    if alert_settings is None:
        return people, departments
    for route in [*alert_settings.routing.values(), alert_settings.default_route]:
        if route.assignee:
            people.add(route.assignee)
        if route.department:
            departments.add(route.department)
    return people, departments


def assignees(session: Session, alert_settings=None) -> Assignees:
    users = set(session.scalars(select(User.name).where(User.disabled.is_(False))))
    route_people, route_departments = routing_names(alert_settings)
    # departments already on tickets stay choosable (a route may have been renamed since)
    used = {d for d in session.scalars(select(Ticket.department).where(Ticket.department.is_not(None)).distinct())
            if d is not None}
    return Assignees(sorted(users | route_people), sorted(route_departments | used))


def check_assignee(session: Session, name: str | None, alert_settings=None, *, current: str | None = None) -> None:
    """Raise UnknownAssignee unless `name` is empty, the ticket's current assignee, or a known person."""
    if not name or name == current:
        return
    people = assignees(session, alert_settings).people
    if name not in people:
        raise UnknownAssignee(f"no user named {name!r}; assign to one of: {', '.join(people) or 'nobody yet'} "
                              "(add a user with `repwatch user add`)")
