"""Routing rules: each complaint category goes to a department and/or a person (责任到人)."""
from __future__ import annotations

from typing import cast

from alerts.settings import AlertSettings, Route


def route_for(settings: AlertSettings, category: str | None) -> Route:
    """The category's route, with anything it leaves out taken from `default_route`."""
    # keyed by Category; any stored category string may be looked up (an unknown one has no route)
    routes = cast("dict[str, Route]", settings.routing)
    specific = routes.get(category) if category else None
    default = settings.default_route
    if specific is None:
        return default
    return Route(department=specific.department or default.department,
                 assignee=specific.assignee or (default.assignee if not specific.department else None))
