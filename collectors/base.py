"""The collector contract."""
from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from datetime import datetime
from typing import Callable, ClassVar, Generic, Self, TypeVar

from collectors.settings import HttpSettings
from storage.records import MentionIn
from storage.types import Strict

O = TypeVar("O", bound=Strict)


@dataclass
class Problem:
    """One item that could not be used. Counted by kind in source health; never stops the run."""

    kind: str
    message: str
    where: str | None = None
    warning: bool = False   # recovered without loss (e.g. a wrong charset label); the run still counts as ok

    def __str__(self) -> str:
        return f"{self.where}: {self.message}" if self.where else self.message


@dataclass
class SourceState:
    """What a collector may know about its past: conditional-GET validators, its own cursor,
    and whether an external id is already stored (so paging can stop at known items)."""

    now: datetime
    etag: str | None = None
    last_modified: str | None = None
    cursor: dict = field(default_factory=dict)
    is_known: Callable[[str], bool] = lambda external_id: False
    is_imported: Callable[[str], bool] = lambda content_hash: False   # import collector: file already loaded?
    # The batch form of is_known (one query for a page of ids); None asks is_known id by id.
    known_ids: Callable[[list[str]], set[str]] | None = None

    def known(self, external_ids) -> set[str]:
        """The ids among `external_ids` that are already stored."""
        ids = list(external_ids)
        if self.known_ids is not None:
            return self.known_ids(ids)
        return {i for i in ids if self.is_known(i)}


@dataclass
class ImportedFileIn:
    """A file the import collector loaded; stored with its rows in one transaction, so it is read once."""

    content_hash: str
    filename: str
    rows_ok: int = 0
    rows_failed: int = 0


@dataclass
class CollectResult:
    items: list[MentionIn] = field(default_factory=list)
    problems: list[Problem] = field(default_factory=list)
    not_modified: bool = False
    http_status: int | None = None
    etag: str | None = None
    last_modified: str | None = None
    cursor: dict | None = None   # None keeps the stored cursor
    imported_files: list[ImportedFileIn] = field(default_factory=list)


class Collector(ABC, Generic[O]):
    """A source kind. Generic over its options model, so `self.options` has the subclass's own type."""

    kind: ClassVar[str]
    Options: ClassVar[type[Strict]]

    def __init__(self, name: str, options: O, http: HttpSettings):
        self.name = name
        self.options: O = options
        self.http = http

    @classmethod
    def from_config(cls, name: str, options: O, *, http: HttpSettings) -> Self:
        """Build from a validated config entry (Scrapy's from_crawler idea): the one way the pipeline
        makes collectors, so a plugin that needs more set-up overrides this, not the pipeline."""
        return cls(name, options, http)

    @abstractmethod
    def collect(self, state: SourceState) -> CollectResult:
        """Fetch new items. Raise CollectError for a source-level failure; report bad items as Problems."""
