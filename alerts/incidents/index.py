"""Incidents: mentions about the same issue, across sources.

A mention joins the incident it is about when it says the same thing, in the same words or in other
words (alerts/incidents/grouping.py: jieba TF-IDF with the unknown words - names, stores, products - as anchors,
candidates from an inverted index, cosine with the incident's centroid), and it is about the same
watch target, a compatible complaint category and within the window. A near-duplicate or repost of
the incident's first post joins at once. Otherwise it starts a new incident. The grouping state of
each incident (Incident.terms) is stored with it, so the index is rebuilt after a restart from the
database alone, and history is never re-clustered. Incident.label names the incident by its key terms.

By meaning beyond words: the wiring (repwatch/) stores each complaint's sentence vector (MentionVector) before
the alert stage runs; a post with one is also matched on the cosine of its vector with each incident's
centroid (Incident.centroid, the sum of its posts' vectors), and a batch of posts is scored against every
centroid in one matrix product (Grouper.prepare). Posts without a vector are grouped on words alone.

One domain rule adds to the text: reports of the same hazard (the same safety word, e.g. 食物中毒,
刹车失灵) about the same target within the window are one crisis however they are worded, so they
join one incident and one urgent ticket (DOMAIN.md: safety is always urgent).

The MinHash functions below (shingles, signature) are the grouping used before; bench/incidents.py
keeps them as the baseline."""
from __future__ import annotations

from datetime import datetime
from typing import Protocol, Sequence

import numpy as np

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from alerts.exceptions import ConcurrentPass
from alerts.incidents.grouping import (Batch, GroupSettings, GroupState, Grouper, centred, from_bytes, label,
                                      post_vector, vector)
from alerts.settings import IncidentSettings
from storage.models import Incident, IncidentMention, Mention, MentionVector
from storage.records import normalise
from storage.vocabulary import event_time, severity_rank
from storage.writes import insert_ignore, insert_many_returning, insert_or_get

SEED = 1   # fixed, so signatures stored yesterday compare with today's
SCHEME = "affine32"   # datasketch 2's permutation scheme, named because stored hash values do not carry it


def shingles(text: str, size: int) -> set[bytes]:
    """Character n-grams of the normalised text (width, case, punctuation, spaces and links folded away,
    so a repost with a different prefix or emoji still matches). Chinese has no word boundaries;
    character n-grams need no segmenter."""
    folded = normalise(text)
    if len(folded) <= size:
        return {folded.encode("utf-8")} if folded else set()
    return {folded[i:i + size].encode("utf-8") for i in range(len(folded) - size + 1)}


def signature(text: str, settings: IncidentSettings):
    from datasketch import MinHash   # lazy: importing datasketch costs ~0.8 s

    m = MinHash(num_perm=settings.num_perm, seed=SEED, scheme=SCHEME)
    grams = shingles(text, settings.shingle)
    if grams:
        m.update_batch(list(grams))
    return m


def mention_text(mention: Mention) -> str:
    """Title and text, unless the title is just the opening of the text (feeds often make it so)."""
    title = mention.title or ""
    if not title or normalise(title) in normalise(mention.text):
        return mention.text
    return f"{title} {mention.text}"


def grouping_settings(settings: IncidentSettings) -> GroupSettings:
    return GroupSettings(threshold=settings.threshold, duplicate=settings.duplicate, window=settings.meaning_window,
                         dup_window=settings.window, cover=settings.cover, anchor_idf=settings.anchor_idf,
                         meaning=settings.meaning, floor=settings.floor)


class IncidentIndex:
    """Incidents seen within `settings.window` (the longer window, for near-duplicates), in an in-memory
    inverted index rebuilt from their stored grouping state (Incident.terms) at the start of each evaluation: no post is re-read or re-tokenised."""

    def __init__(self, session: Session, settings: IncidentSettings, now: datetime):
        self.settings = settings
        self.grouper = Grouper(grouping_settings(settings))
        self.hazards: dict[tuple[str | None, str], int] = {}
        # None: join() links each post at once; a list: join() keeps the links for write_links()
        self.links: list[dict] | None = None
        rows = session.execute(select(Incident.id, Incident.target, Incident.category, Incident.last_seen,
                                      Incident.terms, Incident.signals, Incident.centroid)
                               .where(Incident.last_seen >= now - settings.window, Incident.status != "merged")
                               .order_by(Incident.id))
        missing = []
        # rows by column name: `terms` is an untyped JSON dict, and mypy cannot unpack a Row holding Any
        for row in rows:
            self.note_hazards(row.id, row.target, row.signals)
            if row.terms:
                self.grouper.add_state(GroupState.from_json(row.id, row.target, row.category, row.last_seen, row.terms,
                                                            row.centroid))
            else:
                missing.append(row.id)
        # incidents made before grouping by meaning (or by a MinHash-only version) have no state: built
        # once from their posts and stored, so they are joined like any other (see backfill below)
        for incident_id in missing:
            incident = session.get(Incident, incident_id)
            assert incident is not None   # read by the query above, in this session
            store_state(session, incident)
            self.grouper.add_state(GroupState.from_json(incident.id, incident.target, incident.category,
                                                        incident.last_seen, incident.terms, incident.centroid))
        self.grouper.layout()   # the coarse index of a target with many incidents, once, before any post

    def write_links(self, session: Session) -> None:
        """Write the links join() kept back, in one statement. Each pass reads only posts that were in no
        incident, so every link is new, unless another pass linked the same posts meanwhile: then this
        pass raises ConcurrentPass, is rolled back, and nothing is counted twice."""
        rows = self.links or []
        if self.links is not None:
            self.links = []
        written = insert_many_returning(session, IncidentMention, rows, ["incident_id", "mention_id"],
                                        IncidentMention.mention_id)
        if len(written) < len(rows):
            raise ConcurrentPass(f"another alert stage linked {len(rows) - len(written)} of the same posts while this "
                                 "one ran; this pass was rolled back")

    def note_hazards(self, incident_id: int, target: str | None, signals: list[str] | None) -> None:
        for word in hazards(signals):
            self.hazards.setdefault((target, word), incident_id)   # the oldest incident keeps the hazard

    def match_hazard(self, target: str | None, signals: list[str] | None) -> int | None:
        return next((self.hazards[(target, w)] for w in sorted(hazards(signals)) if (target, w) in self.hazards), None)


def vectors_of(session: Session, mention_ids: Sequence[int]) -> dict[int, np.ndarray]:
    """The stored sentence vectors of these mentions (those that have one), as float32."""
    out: dict[int, np.ndarray] = {}
    ids = list(mention_ids)
    for i in range(0, len(ids), 500):
        for mention_id, raw in session.execute(select(MentionVector.mention_id, MentionVector.vector)
                                               .where(MentionVector.mention_id.in_(ids[i:i + 500]))):
            vec = from_bytes(raw)
            if vec is not None:
                out[mention_id] = vec
    return out


def state_of(session: Session, incident: Incident, keep: int = 30) -> GroupState:
    """An incident's grouping state computed from its posts, in order: what join() would have stored had
    every post come through it - each post absorbed by a grouper of its own (Grouper.absorb, the one code that
    sums terms and sentence vectors), with the posts' stored vectors."""
    grouper = Grouper(GroupSettings(keep=keep))
    posts = members(session, incident.id)
    embs = vectors_of(session, [m.id for m in posts])
    drop = (incident.target,) if incident.target else ()
    for m in posts:
        grouper.absorb(incident.id, vector(mention_text(m), drop=drop), incident.target, incident.category,
                       incident.last_seen, centred(embs[m.id]) if m.id in embs else None)
    state = grouper.states.get(incident.id) or GroupState(incident.id, incident.target, incident.category,
                                                          incident.last_seen)
    state.vec = grouper.vec_sum(incident.id)
    return state


def store_state(session: Session, incident: Incident) -> GroupState:
    state = state_of(session, incident)
    incident.terms = state.to_json()
    incident.label = label(state.centroid) or None
    incident.centroid = state.vec_bytes()
    return state


def backfill(session: Session, *, rebuild: bool = False, batch: int = 500) -> int:
    """Build the grouping state (Incident.terms, label, centroid) of open and dismissed incidents that have
    none - those made before grouping by meaning, or before sentence vectors (the wiring stores the posts'
    vectors first: `repwatch incident backfill`) - or, with `rebuild`, of every one (after a change of
    tokeniser or IDF table). Idempotent: a second run writes nothing, and a rebuild gives the same state.
    Returns how many incidents were written; flushes every `batch`."""
    stmt = select(Incident).where(Incident.status.in_(("open", "dismissed"))).order_by(Incident.id)
    if not rebuild:
        stmt = stmt.where(or_(Incident.terms.is_(None), Incident.label.is_(None), Incident.centroid.is_(None)))
    done = 0
    for incident in session.scalars(stmt).all():
        before = (incident.terms, incident.label, incident.centroid)
        store_state(session, incident)
        done += (incident.terms, incident.label, incident.centroid) != before
        if done and done % batch == 0:
            session.flush()
    return done


def hazards(signals: list[str] | None) -> set[str]:
    return {s.split(":", 1)[1] for s in signals or () if s.startswith("safety:")}


def signal_kinds(signals: list[str]) -> set[str]:
    return {s.split(":", 1)[0] for s in signals or ()}


class Labels(Protocol):
    """What grouping reads of a post's analysis: an Analysis row, or a person's correction of one
    (alerts.corrections.raise_missed)."""

    @property
    def targets(self) -> list: ...
    @property
    def categories(self) -> list: ...
    @property
    def severity(self) -> str: ...
    @property
    def signals(self) -> list: ...


def join(session: Session, index: IncidentIndex, analysis: Labels, mention: Mention,
         now: datetime, emb: np.ndarray | None = None,
         pre: tuple[Batch, int] | None = None) -> tuple[Incident, bool, bool]:
    """Put a mention into its incident. Returns (incident, incident_is_new, mention_was_added).
    `emb` is its stored sentence vector (MentionVector) if it has one; `pre` its row in a batch scored
    by index.grouper.prepare(). Idempotent: the incident key comes from its first mention, and a mention
    is linked once."""
    target = analysis.targets[0] if analysis.targets else None
    category = analysis.categories[0] if analysis.categories else None
    text = mention_text(mention)
    when = event_time(mention.published_at, mention.collected_at)
    vec = vector(text, drop=(target,) if target else ())
    e = post_vector(emb, pre)   # centred once, for both the match and the centroid
    incident_id = index.grouper.match(vec, target, analysis.categories or None, when, e, pre).id
    if incident_id is None:
        incident_id = index.match_hazard(target, analysis.signals)
    created = False
    if incident_id is None:
        key = f"{target or '-'}/{category or 'other'}/m{mention.id}"
        incident, created = insert_or_get(session, Incident, dict(
            key=key, target=target, category=category, title=text[:1000], severity=analysis.severity,
            signals=[], first_seen=when, last_seen=when, mention_count=0, reach=0, status="open"), ["key"])
    else:
        incident = session.get(Incident, incident_id)
    assert incident is not None   # matched in the index, or inserted (by us or a concurrent writer) above
    link = dict(incident_id=incident.id, mention_id=mention.id, added_at=now)
    if index.links is not None:   # the caller writes the links together (write_links)
        index.links.append(link)
        added = True
    else:
        added = insert_ignore(session, IncidentMention, link, ["incident_id", "mention_id"])
    if added:
        absorb(incident, analysis, mention)
        index.note_hazards(incident.id, incident.target, analysis.signals)
        state = index.grouper.absorb(incident.id, vec, incident.target, incident.category, incident.last_seen, e)
        incident.terms = state.to_json()
        incident.label = label(state.centroid) or None
        if e is not None:
            incident.centroid = index.grouper.centroid_bytes(incident.id)
    return incident, created, added


def absorb(incident: Incident, analysis: Labels, mention: Mention) -> None:
    when = event_time(mention.published_at, mention.collected_at)
    incident.mention_count += 1
    incident.reach += mention.author_followers or 0
    incident.first_seen = min(incident.first_seen, when)
    incident.last_seen = max(incident.last_seen, when)
    if incident.category is None and analysis.categories:
        incident.category = analysis.categories[0]
    # The title is what a person reads first, in the queue, the alert and the ticket opened from it: it is
    # the post that set the incident's severity, not merely the first one (which may be a mild or mistaken one).
    if raise_severity(incident, analysis.severity):
        incident.title = mention_text(mention)[:1000]
    incident.signals = sorted(set(incident.signals or []) | set(analysis.signals or []))


def raise_severity(incident: Incident, severity: str, reason: str | None = None) -> bool:
    """Severity only goes up while an incident lives. Returns True when it changed."""
    changed = severity_rank(severity) > severity_rank(incident.severity)
    if changed:
        incident.severity = severity
    if reason and reason not in (incident.signals or []):
        incident.signals = sorted(set(incident.signals or []) | {reason})
    return changed


def members(session: Session, incident_id: int, limit: int | None = None) -> list[Mention]:
    stmt = (select(Mention).join(IncidentMention, IncidentMention.mention_id == Mention.id)
            .where(IncidentMention.incident_id == incident_id).order_by(Mention.id))
    if limit:
        stmt = stmt.limit(limit)
    return list(session.scalars(stmt))
