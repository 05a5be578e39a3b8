"""Collectors found by short name (storage.plugins.Registry). Third-party collectors register through the
`repwatch.collectors` entry-point group, the same way as these built-ins."""
from __future__ import annotations

from collectors.base import Collector
from collectors.exceptions import UnknownCollector
from storage.plugins import Registry

COLLECTORS: Registry[Collector] = Registry("collector", Collector, "repwatch.collectors", {
    "feed": "collectors.feed:FeedCollector",
    "rsshub": "collectors.rsshub:RSSHubCollector",
    "web": "collectors.web:WebCollector",
    "json": "collectors.jsonapi:JsonApiCollector",
    "import": "collectors.imports:ImportCollector",
}, unknown=UnknownCollector)

register = COLLECTORS.register
known_kinds = COLLECTORS.known
get_collector = COLLECTORS.get
