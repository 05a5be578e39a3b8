"""One plugin registry for every kind of plugin (collectors, notifiers).

Built-ins are registered exactly like third-party plugins: by a dotted path, imported only when first used
(Scrapy costs about a second to import; a feed-only run never pays it). A third-party package adds one
through an entry point in the registry's group, the way APScheduler finds its triggers and job stores:

    [project.entry-points."repwatch.collectors"]
    mastodon = "repwatch_mastodon:MastodonCollector"

Every plugin class is checked against the registry's base class when it is loaded, so a typo in an entry
point is a clear error at config load, not an AttributeError in the middle of a run."""
from __future__ import annotations

import importlib
from importlib.metadata import entry_points
from typing import Generic, TypeVar

P = TypeVar("P")


class UnknownPlugin(LookupError):
    """No plugin of that name; the message lists the known ones."""

    def __init__(self, family: str, kind: str, known: list[str]):
        self.family, self.kind, self.known = family, kind, known
        super().__init__(f"unknown {family} kind {kind!r}; known kinds: {', '.join(known) or 'none'}")


class BadPlugin(TypeError):
    """A registered path that does not lead to a subclass of the registry's base."""


class Registry(Generic[P]):
    def __init__(self, family: str, base: type[P], group: str, builtins: dict[str, str],
                 unknown: type[UnknownPlugin] = UnknownPlugin):
        self.family, self.base, self.group = family, base, group
        self._paths = dict(builtins)
        self._loaded: dict[str, type[P]] = {}
        self._unknown = unknown

    def register(self, kind: str, cls_or_path: type[P] | str) -> None:
        if isinstance(cls_or_path, str):
            self._paths[kind] = cls_or_path
            self._loaded.pop(kind, None)
        else:
            self._loaded[kind] = self._checked(kind, cls_or_path)

    def _entry_points(self) -> dict[str, str]:
        return {ep.name: ep.value for ep in entry_points(group=self.group)}

    def known(self) -> list[str]:
        return sorted(set(self._paths) | set(self._loaded) | set(self._entry_points()))

    def get(self, kind: str) -> type[P]:
        if kind in self._loaded:
            return self._loaded[kind]
        path = self._paths.get(kind) or self._entry_points().get(kind)
        if path is None:
            raise self._unknown(self.family, kind, self.known())
        module_name, _, attr = path.partition(":")
        try:
            cls = getattr(importlib.import_module(module_name), attr)
        except (ImportError, AttributeError) as exc:
            raise BadPlugin(f"{self.family} {kind!r}: cannot load {path!r}: {exc}") from exc
        self._loaded[kind] = self._checked(kind, cls)
        return cls

    def _checked(self, kind: str, cls: object) -> type[P]:
        if not (isinstance(cls, type) and issubclass(cls, self.base)):
            raise BadPlugin(f"{self.family} {kind!r}: {cls!r} is not a subclass of {self.base.__name__}")
        return cls
