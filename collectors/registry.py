"""Collectors found by short name (storage.plugins.Registry). Third-party collectors register through the
`repwatch.collectors` entry-point group, the same way as these built-ins."""
from __future__ import annotations

from typing import Any

from collectors.base import Collector
from collectors.exceptions import UnknownCollector
from storage.plugins import Registry

# The abstract base is only used in issubclass() checks, never instantiated; mypy refuses any abstract
# class where type[...] is expected (python/mypy#4717).
COLLECTORS: Registry[Collector[Any]] = Registry("collector", Collector, "repwatch.collectors", {  # type: ignore[type-abstract]
    "feed": "collectors.feed:FeedCollector",
    "rsshub": "collectors.rsshub:RSSHubCollector",
    "web": "collectors.web:WebCollector",
    "json": "collectors.jsonapi:JsonApiCollector",
    "import": "collectors.imports:ImportCollector",
}, unknown=UnknownCollector)

register = COLLECTORS.register
known_kinds = COLLECTORS.known
get_collector = COLLECTORS.get
