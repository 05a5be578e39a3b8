"""Incidents: mentions about the same issue, across sources.

A mention joins an incident when its text is a near-duplicate of the incident's representative text
(MinHash over character n-grams, candidates from an LSH index, then the estimated Jaccard similarity
checked against the threshold) and it is about the same watch target and a compatible complaint
category. Otherwise it starts a new incident and becomes its representative (leader clustering:
stable, online, and one MinHash per incident is all that is stored, in Incident.signature).

One domain rule adds to the text: reports of the same hazard (the same safety word, e.g. 食物中毒,
刹车失灵) about the same target within the window are one crisis however they are worded, so they
join one incident and one urgent ticket (DOMAIN.md: safety is always urgent)."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from alerts.settings import IncidentSettings
from storage.models import Analysis, Incident, IncidentMention, Mention
from storage.records import normalise
from storage.vocabulary import event_time, severity_rank
from storage.writes import insert_ignore

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


def _compatible(a: str | None, b: str | None) -> bool:
    return a is None or b is None or a == b


@dataclass
class Candidate:
    incident_id: int
    target: str | None
    category: str | None
    minhash: object


class IncidentIndex:
    """Incidents seen within `settings.window`, in an in-memory LSH index built from their stored
    signatures. Rebuilt per evaluation: cheap (no text is re-hashed) and never stale."""

    def __init__(self, session: Session, settings: IncidentSettings, now: datetime):
        from datasketch import MinHash, MinHashLSH

        self.settings = settings
        self.lsh = MinHashLSH(threshold=settings.threshold, num_perm=settings.num_perm)
        self.known: dict[int, Candidate] = {}
        self.hazards: dict[tuple[str | None, str], int] = {}
        rows = session.execute(select(Incident.id, Incident.target, Incident.category, Incident.signature,
                                      Incident.signals)
                               .where(Incident.last_seen >= now - settings.window, Incident.signature.is_not(None))
                               .order_by(Incident.id))
        for incident_id, target, category, sig, signals in rows:
            self.note_hazards(incident_id, target, signals)
            if len(sig) != settings.num_perm:
                continue   # num_perm was changed: older incidents can no longer be compared
            self.add(incident_id, target, category, MinHash(num_perm=settings.num_perm, seed=SEED, scheme=SCHEME,
                                                                  hashvalues=sig))

    def note_hazards(self, incident_id: int, target: str | None, signals: list[str] | None) -> None:
        for word in hazards(signals):
            self.hazards.setdefault((target, word), incident_id)   # the oldest incident keeps the hazard

    def add(self, incident_id: int, target: str | None, category: str | None, minhash) -> None:
        self.known[incident_id] = Candidate(incident_id, target, category, minhash)
        self.lsh.insert(str(incident_id), minhash)

    def match(self, minhash, target: str | None, category: str | None) -> int | None:
        best, best_sim = None, 0.0
        for key in self.lsh.query(minhash):
            c = self.known[int(key)]
            if c.target != target or not _compatible(c.category, category):
                continue
            sim = minhash.jaccard(c.minhash)
            if sim >= self.settings.threshold and (sim > best_sim or (sim == best_sim and c.incident_id < best)):
                best, best_sim = c.incident_id, sim
        return best

    def match_hazard(self, target: str | None, signals: list[str] | None) -> int | None:
        return next((self.hazards[(target, w)] for w in sorted(hazards(signals)) if (target, w) in self.hazards), None)


def hazards(signals: list[str] | None) -> set[str]:
    return {s.split(":", 1)[1] for s in signals or () if s.startswith("safety:")}


def signal_kinds(signals: list[str]) -> set[str]:
    return {s.split(":", 1)[0] for s in signals or ()}


def join(session: Session, index: IncidentIndex, analysis: Analysis, mention: Mention,
         now: datetime) -> tuple[Incident, bool, bool]:
    """Put a mention into its incident. Returns (incident, incident_is_new, mention_was_added).
    Idempotent: the incident key comes from its first mention, and a mention is linked once."""
    target = analysis.targets[0] if analysis.targets else None
    category = analysis.categories[0] if analysis.categories else None
    text = mention_text(mention)
    mh = signature(text, index.settings)
    incident_id = index.match(mh, target, category)
    if incident_id is None:
        incident_id = index.match_hazard(target, analysis.signals)
    created = False
    if incident_id is None:
        when = event_time(mention.published_at, mention.collected_at)
        key = f"{target or '-'}/{category or 'other'}/m{mention.id}"
        created = insert_ignore(session, Incident, dict(
            key=key, target=target, category=category, title=text[:1000], severity=analysis.severity,
            signals=[], first_seen=when, last_seen=when, mention_count=0, reach=0, status="open",
            signature=[int(v) for v in mh.hashvalues]), ["key"])
        incident_id = session.scalar(select(Incident.id).where(Incident.key == key))
        if created:
            index.add(incident_id, target, category, mh)
    incident = session.get(Incident, incident_id)
    added = insert_ignore(session, IncidentMention, dict(incident_id=incident.id, mention_id=mention.id, added_at=now),
                          ["incident_id", "mention_id"])
    if added:
        absorb(incident, analysis, mention)
        index.note_hazards(incident.id, incident.target, analysis.signals)
    return incident, created, added


def absorb(incident: Incident, analysis: Analysis, mention: Mention) -> None:
    when = event_time(mention.published_at, mention.collected_at)
    incident.mention_count += 1
    incident.reach += mention.author_followers or 0
    incident.first_seen = min(incident.first_seen, when)
    incident.last_seen = max(incident.last_seen, when)
    if incident.category is None and analysis.categories:
        incident.category = analysis.categories[0]
    raise_severity(incident, analysis.severity)
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
