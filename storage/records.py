"""Plain records passed between stages. Collectors produce MentionIn; storage persists it."""
from __future__ import annotations

import hashlib
import re
import unicodedata
from dataclasses import dataclass, field
from datetime import datetime

_NOISE = re.compile(r"https?://\S+|[\s\W_]+", re.UNICODE)


def normalise(text: str) -> str:
    """Folding that survives reposts: width, case, whitespace, punctuation and links do not count."""
    return _NOISE.sub("", unicodedata.normalize("NFKC", text or "").casefold())


def content_hash(text: str) -> str:
    # surrogatepass: a lone surrogate from a hostile JSON string must never crash hashing (it is
    # removed before storing, see storage/clean.py, but ids are derived from raw text too).
    return hashlib.sha256(normalise(text).encode("utf-8", "surrogatepass")).hexdigest()


@dataclass
class MentionIn:
    external_id: str
    text: str
    url: str | None = None
    title: str | None = None
    author: str | None = None
    author_followers: int | None = None
    published_at: datetime | None = None
    rating: float | None = None
    likes: int | None = None
    reposts: int | None = None
    comments: int | None = None
    raw: dict = field(default_factory=dict)

    @property
    def hash(self) -> str:
        # The body only: one site titles a post, another repeats its first words or has no title at all,
        # and the same complaint must still be recognised across sources.
        return content_hash(self.text)

    @property
    def has_engagement(self) -> bool:
        return any(v is not None for v in (self.likes, self.reposts, self.comments, self.author_followers))
