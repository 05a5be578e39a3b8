"""Collectors found by short name. Built-ins are registered the same way as third-party ones:
by a dotted path, imported only when used (Scrapy costs ~1 s to import; a feed-only run never pays it).
Third-party collectors register through the `repwatch.collectors` entry-point group."""
from __future__ import annotations

import importlib
from importlib.metadata import entry_points

from collectors.base import Collector
from collectors.exceptions import UnknownCollector

BUILTINS: dict[str, str] = {
    "feed": "collectors.feed:FeedCollector",
    "rsshub": "collectors.rsshub:RSSHubCollector",
    "web": "collectors.web:WebCollector",
    "json": "collectors.jsonapi:JsonApiCollector",
    "import": "collectors.imports:ImportCollector",
}
_loaded: dict[str, type[Collector]] = {}


def register(kind: str, cls_or_path: type[Collector] | str) -> None:
    if isinstance(cls_or_path, str):
        BUILTINS[kind] = cls_or_path
        _loaded.pop(kind, None)
    else:
        _loaded[kind] = cls_or_path


def _plugins() -> dict[str, str]:
    return {ep.name: ep.value for ep in entry_points(group="repwatch.collectors")}


def known_kinds() -> list[str]:
    return sorted(set(BUILTINS) | set(_loaded) | set(_plugins()))


def get_collector(kind: str) -> type[Collector]:
    if kind in _loaded:
        return _loaded[kind]
    path = BUILTINS.get(kind) or _plugins().get(kind)
    if path is None:
        raise UnknownCollector(kind, known_kinds())
    module_name, _, attr = path.partition(":")
    cls = getattr(importlib.import_module(module_name), attr)
    _loaded[kind] = cls
    return cls
