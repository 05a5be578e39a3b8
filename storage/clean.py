"""Every field is cleaned before it is stored: hostile or broken input must not stop a run.

PostgreSQL refuses NUL in text and JSON; SQLite's driver refuses lone surrogates (they cannot be
encoded as UTF-8, and neither can the content hash). Columns have lengths. So text loses NUL, the
other C0 controls (except tab and line breaks) and lone surrogates, and over-long values are cut,
with the cut reported so a person can see what was shortened. Used by collectors (before a content
hash is computed from the text) and by storage (the last line before a row is written)."""
from __future__ import annotations

import hashlib
import re
from dataclasses import fields, replace
from typing import overload

from storage.records import MentionIn

# NUL and the C0 controls XML 1.0 forbids, DEL, and UTF-16 surrogate halves (never valid alone in str).
_UNSAFE = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f\ud800-\udfff]")

# Longest stored value per field (characters). The column sizes come from storage/models/mentions.py;
# the Text columns get caps too, so one 10 MB "review" cannot bloat the database or the alert emails.
LIMITS = {"external_id": 500, "author": 300, "lang": 10, "title": 1_000, "text": 65_536, "url": 4_096}
ETAG_LIMIT, LAST_MODIFIED_LIMIT = 500, 100   # source.etag / source.last_modified columns
RAW_STRING_LIMIT = 4_096
_RAW_DEPTH = 20


@overload
def clean_text(value: str) -> str: ...


@overload
def clean_text(value: None) -> None: ...


@overload
def clean_text(value: str | None) -> str | None: ...


def clean_text(value: str | None) -> str | None:
    """Text without NUL, other control characters and lone surrogates; None stays None."""
    if value is None:
        return None
    return _UNSAFE.sub("", value)


def has_unsafe(value: str | None) -> bool:
    return value is not None and _UNSAFE.search(value) is not None


def cap(value: str | None, limit: int) -> tuple[str | None, bool]:
    """Cleaned, then cut to `limit` characters. Returns the value and whether it was cut."""
    value = clean_text(value)
    if value is None or len(value) <= limit:
        return value, False
    return value[:limit], True


def cap_id(value: str, limit: int = LIMITS["external_id"]) -> tuple[str, bool]:
    """An id cut plainly could collide with another id sharing its first characters: a long id keeps
    its start (readable) and ends with a digest of the whole (unique)."""
    value = clean_text(value) or ""
    if len(value) <= limit:
        return value, False
    digest = hashlib.sha256(value.encode("utf-8")).hexdigest()
    return f"{value[:limit - 65]}#{digest}", True


def clean_raw(value, depth: int = 0):
    """The `raw` JSON column: strings cleaned and capped, keys too, nesting bounded."""
    if depth > _RAW_DEPTH:
        return None
    if isinstance(value, str):
        return cap(value, RAW_STRING_LIMIT)[0]
    if isinstance(value, dict):
        return {cap(str(k), 200)[0]: clean_raw(v, depth + 1) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [clean_raw(v, depth + 1) for v in value]
    if value is None or isinstance(value, (bool, int, float)):
        return value
    return cap(str(value), RAW_STRING_LIMIT)[0]


def clean_mention(item: MentionIn) -> tuple[MentionIn, list[str]]:
    """A copy of `item` that every database accepts, and a note for each value that was cut or dropped."""
    notes: list[str] = []
    changes = {}
    for f in fields(item):
        value = getattr(item, f.name)
        if f.name == "raw":
            changes["raw"] = clean_raw(value or {})
        elif f.name == "external_id":
            changes[f.name], cut = cap_id(str(value))
            if cut:
                notes.append(f"id was {len(value):,} characters; kept the first part and a digest")
        elif f.name in LIMITS:
            if f.name == "url" and value and len(clean_text(value)) > LIMITS["url"]:
                # a cut link leads nowhere: drop it instead
                changes["url"] = None
                notes.append(f"url was {len(value):,} characters, over {LIMITS['url']:,}; dropped")
                continue
            changes[f.name], cut = cap(value, LIMITS[f.name])
            if cut:
                notes.append(f"{f.name} was {len(value):,} characters; cut to {LIMITS[f.name]:,}")
    return replace(item, **changes), notes
