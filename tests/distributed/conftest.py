"""Distributed-mode fixtures: the machine's real RabbitMQ and PostgreSQL, real `repwatch worker`
subprocesses, loopback feeds.

Isolation from parallel runs: a private PostgreSQL schema per test (the URL carries search_path, so
the workers see the same tables) and a unique queue prefix per test, so two runs on one broker never
take each other's tasks. Every worker is started in its own process group and stopped by that id."""
from __future__ import annotations

import fcntl
import os
import re
import signal
import subprocess
import sys
import tempfile
import time
import uuid
from contextlib import contextmanager
from pathlib import Path
from typing import Callable

import pytest
import yaml
from sqlalchemy import func, select

from storage import Database
from storage.pgschema import private_schema
from storage.pgschema import schema_url as storage_schema_url
from storage.models import Analysis, Incident, IncidentMention, Mention, Source, Ticket, TicketEvent

PG_URL = os.environ.get("REPWATCH_TEST_DATABASE_URL")
BROKER_URL = os.environ.get("REPWATCH_TEST_BROKER_URL", "amqp://guest:guest@127.0.0.1:5672//")
REPWATCH = str(Path(sys.executable).with_name("repwatch"))


def wait_until(predicate: Callable[[], object], *, timeout: float, interval: float = 0.2, what: str = "condition",
               detail: Callable[[], str] | None = None):
    """Poll a condition, bounded in time; the failure says what was awaited and, with `detail`, how far it got."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout:.0f}s waiting for {what}"
                                 + (f"; {detail()}" if detail else ""))
        time.sleep(interval)


def broker_answers(url: str = BROKER_URL) -> str | None:
    """None when RabbitMQ accepts a connection, else why not."""
    from kombu import Connection

    try:
        with Connection(url, connect_timeout=3) as conn:
            conn.ensure_connection(max_retries=1)
        return None
    except Exception as exc:  # any failure to connect means: no broker here
        return f"{type(exc).__name__}: {exc}"


BROKER_LOCK = Path(tempfile.gettempdir()) / "repwatch-tests-broker.lock"


@contextmanager
def broker_lock(exclusive: bool):
    """`make test` runs tests side by side (pytest-xdist), and one test here stops RabbitMQ: it holds this lock
    exclusively while every other test of this directory shares it, so no test finds the broker stopped by
    another. A file lock, not xdist's `--dist loadgroup`: xdist 3.8 sets a group through `Node._nodeid`, which
    pytest 9.2's node ids no longer read, so the group was silently ignored."""
    with open(BROKER_LOCK, "a+") as f:
        fcntl.flock(f, fcntl.LOCK_EX if exclusive else fcntl.LOCK_SH)
        try:
            yield
        finally:
            fcntl.flock(f, fcntl.LOCK_UN)


@pytest.fixture(autouse=True)
def _one_broker_stop_at_a_time(request):
    with broker_lock(exclusive="broker_control" in request.fixturenames):
        yield


@pytest.fixture(scope="session")
def broker_url() -> str:
    with broker_lock(exclusive=False):   # never judge "no broker here" while another test has it stopped
        reason = broker_answers()
    if reason:
        pytest.skip(f"no RabbitMQ broker answers ({reason}); start rabbitmq-server (`.ci/run` does) "
                    "or point REPWATCH_TEST_BROKER_URL at one")
    return BROKER_URL


def schema_url(schema: str) -> str:
    return storage_schema_url(PG_URL, schema)


@pytest.fixture
def pg_url() -> str:
    """A migrated, private PostgreSQL schema for one test. Distributed mode needs a database every
    worker shares, so these tests skip (saying so) rather than fall back to SQLite."""
    if not PG_URL:
        pytest.skip("distributed tests need PostgreSQL: set REPWATCH_TEST_DATABASE_URL (`.ci/run` does)")
    with private_schema(PG_URL, "rw_dist") as url:
        yield url


@pytest.fixture
def queue_prefix(broker_url) -> str:
    prefix = f"rwtest.{uuid.uuid4().hex[:8]}."
    yield prefix
    from kombu import Connection

    from repwatch.distributed.app import QUEUES

    with Connection(broker_url, connect_timeout=5) as conn:   # leave no test queues behind
        channel = conn.channel()
        for name in (prefix + q for q in QUEUES):
            try:
                channel.queue_delete(name)
            except Exception:   # already gone, or the channel closed on a previous error
                channel = conn.channel()


class Workers:
    """`repwatch worker` subprocesses, each in its own process group (a stand-in for one machine)."""

    def __init__(self, tmp: Path, env: dict[str, str], config_path: Path):
        self.tmp, self.env, self.config_path = tmp, env, config_path
        self.procs: dict[str, subprocess.Popen] = {}

    def log(self, name: str) -> Path:
        return self.tmp / f"{name}.log"

    def log_text(self, name: str) -> str:
        path = self.log(name)
        return path.read_text(encoding="utf-8", errors="replace") if path.exists() else ""

    def start(self, *names: str, queues: str = "collect,analyze,alerts", concurrency: int = 1) -> None:
        """Start workers side by side (each loads its models at start), then wait until all are ready."""
        for name in names:
            args = [REPWATCH, "-c", str(self.config_path), "worker", "-Q", queues, "-c", str(concurrency),
                    "-n", f"{name}@%h", "--logfile", str(self.log(name))]
            with open(self.tmp / f"{name}.out", "ab") as out:
                self.procs[name] = subprocess.Popen(args, env=self.env, stdout=out, stderr=subprocess.STDOUT,
                                                    start_new_session=True)
        for name in names:
            proc = self.procs[name]
            wait_until(lambda: " ready." in self.log_text(name) or proc.poll() is not None, timeout=90,
                       what=f"worker {name} to be ready")
            if proc.poll() is not None:
                raise AssertionError(f"worker {name} exited early:\n{(self.tmp / f'{name}.out').read_text()[-2000:]}")

    def kill(self, name: str) -> None:
        """SIGKILL the whole process group: the machine is gone, children included."""
        proc = self.procs[name]
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(timeout=20)

    def stop(self, name: str) -> None:
        proc = self.procs[name]
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGTERM)   # warm shutdown
            try:
                proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait(timeout=20)
        try:   # prefork children of a killed parent exit on their own; make sure of it
            os.killpg(proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass

    def stop_all(self) -> None:
        for name in list(self.procs):
            self.stop(name)

    def done(self, name: str, stage: str) -> int:
        """Tasks of one stage this worker finished, from its own log."""
        return self.log_text(name).count(f"{stage} done in")

    def received(self, name: str, task: str) -> int:
        """Messages of one task this worker took from the broker, from its own log."""
        return len(re.findall(rf"Task repwatch\.{task}\[[0-9a-f-]+\] received", self.log_text(name)))


@pytest.fixture
def cluster(tmp_path, pg_url, queue_prefix, broker_url, monkeypatch):
    """Write a schedules.yaml for the test, then start workers on it: `cluster.configure(data)`."""
    state = {}

    class Cluster:
        db_url, prefix, broker = pg_url, queue_prefix, broker_url

        def configure(self, data: dict):
            from repwatch.config import parse_config

            data = {**data, "distributed": {"queue_prefix": queue_prefix, **data.get("distributed", {})}}
            path = tmp_path / "schedules.yaml"
            path.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
            env = {**os.environ, "REPWATCH_BROKER_URL": broker_url, "REPWATCH_DATABASE_URL": pg_url,
                   "REPWATCH_CONFIG": str(path), "PYTHONUNBUFFERED": "1"}
            monkeypatch.setenv("REPWATCH_BROKER_URL", broker_url)
            state["workers"] = self.workers = Workers(tmp_path, env, path)
            self.config = parse_config(data, str(path))
            self.env, self.path = env, path
            return self.config

        def queue_depths(self) -> dict[str, int]:
            """Messages ready in each of this test's queues (not those a worker is working on)."""
            from kombu import Connection

            from repwatch.distributed.app import QUEUES

            depths = {}
            with Connection(broker_url, connect_timeout=5) as conn:
                for q in QUEUES:
                    channel = conn.channel()
                    try:
                        depths[q] = channel.queue_declare(queue_prefix + q, passive=True).message_count
                    except Exception:   # not declared yet: nobody published to it or consumed from it
                        depths[q] = 0
            return depths

    yield Cluster()
    if "workers" in state:
        state["workers"].stop_all()


def count(db: Database, model, *where) -> int:
    with db.session() as s:
        return s.scalar(select(func.count()).select_from(model).where(*where))


def pending_complaints(db: Database) -> int:
    """Graded complaints not yet in an incident: what an alert task still has to do."""
    with db.session() as s:
        return s.scalar(select(func.count()).select_from(Analysis).join(Mention, Mention.id == Analysis.mention_id)
                        .where(Analysis.severity.in_(["important", "urgent"]), Mention.duplicate_of_id.is_(None),
                               Mention.id.not_in(select(IncidentMention.mention_id))))


def settled(db: Database, mentions: int) -> bool:
    return count(db, Mention) == mentions and count(db, Analysis) == mentions and pending_complaints(db) == 0


def progress(db: Database) -> Callable[[], str]:
    return lambda: (f"mentions {count(db, Mention)}, analyses {count(db, Analysis)}, "
                    f"complaints awaiting alerts {pending_complaints(db)} (see the worker logs)")


def outcome(db: Database) -> dict:
    """Each incident as (target, category, its mentions by natural key) with its counter, linked mentions
    and tickets. Ids and incident keys depend on arrival order; natural keys compare across databases."""
    with db.session() as s:
        incidents = {i.id: i for i in s.scalars(select(Incident))}
        members: dict[int, set] = {}
        for incident_id, source, external_id in s.execute(
                select(IncidentMention.incident_id, Source.name, Mention.external_id)
                .join(Mention, Mention.id == IncidentMention.mention_id).join(Source, Source.id == Mention.source_id)):
            members.setdefault(incident_id, set()).add((source, external_id))
        tickets = dict(s.execute(select(Ticket.incident_id, func.count()).group_by(Ticket.incident_id)).all())
        opened = s.scalar(select(func.count()).select_from(TicketEvent).where(TicketEvent.kind == "opened"))
        return {"incidents": {(i.target, i.category, frozenset(members.get(i.id, ()))):
                              (i.mention_count, len(members.get(i.id, ())), tickets.get(i.id, 0))
                              for i in incidents.values()},
                "tickets": sum(tickets.values()), "opened_events": opened}


def assert_one_ticket_per_incident(db: Database) -> None:
    got = outcome(db)
    assert got["incidents"], "the feeds hold complaints, so incidents are expected"
    assert all(tickets == 1 and counted == linked for counted, linked, tickets in got["incidents"].values())
    assert got["tickets"] == got["opened_events"] == len(got["incidents"])


# Posts shaped like real complaints (DOMAIN.md), about two watch targets, plus praise and chatter.
# A per-source suffix keeps every text unique, so no post is a cross-source repost.
TEMPLATES = [
    "快送外卖的退款一直没处理，快一个月了，客服电话打不通，售后太差了",
    "快送外卖的送餐员态度恶劣，吃了以后食物中毒住院了，我要投诉到12315",
    "优选商城发货太慢了，快递延迟一周还没到，问客服也不理，太差劲了",
    "优选商城买的手机经常死机，换了三次还是坏，质量太差，奉劝大家不要购买",
    "快送外卖味道很好，送餐也快，下次还点",
    "今天天气不错，和朋友去公园散步",
]
WATCH = [{"name": "快送外卖", "aliases": ["快送"]}, {"name": "优选商城", "aliases": ["优选"]}]


def rss(items: list[tuple[str, str]]) -> bytes:
    from xml.sax.saxutils import escape

    body = "".join(f"<item><guid>{g}</guid><title>{escape(t[:12])}</title><link>http://example.com/{g}</link>"
                   f"<description>{escape(t)}</description></item>" for g, t in items)
    return ('<?xml version="1.0" encoding="utf-8"?><rss version="2.0"><channel><title>t</title>'
            f"<link>http://example.com/</link><description>d</description>{body}</channel></rss>").encode()


def source_posts(index: int, per_source: int) -> list[tuple[str, str]]:
    return [(f"s{index}-p{j}", f"{TEMPLATES[(index + j) % len(TEMPLATES)]}（订单{index:03d}{j:02d}）")
            for j in range(per_source)]


@pytest.fixture
def serve_feeds(http_server):
    """`serve_feeds(n, per_source)` -> source config entries for n loopback feeds."""
    from repwatch.loopback import Response

    def serve(n: int, per_source: int, *, prefix: str = "src") -> list[dict]:
        out = []
        for i in range(n):
            path = f"/{prefix}{i}.xml"
            http_server.routes[path] = Response(rss(source_posts(i, per_source)))
            out.append({"name": f"{prefix}{i:03d}", "kind": "feed", "url": http_server.url(path)})
        return out

    return serve
