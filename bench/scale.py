"""Scale benchmark: end-to-end mentions/s (collect + analyze + alert) in-process vs on Celery workers.

Not a test: figures for docs/distributed.md. The same loopback feeds (an HTTP server in a child process,
so its CPU is not the pipeline's) go through:
  1. in-process on SQLite (the embedded default) and on PostgreSQL: `pipeline.run_once`'s stages;
  2. distributed with 1 worker process, then with 2 (two `repwatch worker -c 1`, like two machines),
     on this machine's RabbitMQ and PostgreSQL, each on a fresh schema and fresh queues.
Models are loaded before the clock starts in every mode (a worker loads them at start-up). The clock
stops when every mention is stored and analyzed and no graded complaint waits for the alert stage.

Where the time goes: in-process, each stage is timed and SQL time is summed from engine events; on
workers, every task logs its duration and its SQL time, and the rest of the workers' wall-clock time
(processes x wall - time inside tasks) is broker, queueing and idle time. Columns collect, analysis
(minus its SQL) and alerts are the stages' summed durations; SQL is time inside SQL statements.
CPU per 1000 mentions (the pipeline processes' user+system time) does not depend on what else the
machine is doing, unlike mentions/s on a shared machine: it is the cost to compare across modes.

    REPWATCH_TEST_DATABASE_URL=postgresql+psycopg://postgres@127.0.0.1:5432/test \\
    .venv/bin/python bench/scale.py [--sources 40] [--posts 50] [--modes sqlite,pg,1,2]
"""
from __future__ import annotations

import argparse
import multiprocessing as mp
import os
import re
import signal
import subprocess
import sys
import tempfile
import time
import uuid
from datetime import datetime, timezone
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

BROKER = os.environ.get("REPWATCH_TEST_BROKER_URL", "amqp://guest:guest@127.0.0.1:5672//")
PG = os.environ.get("REPWATCH_TEST_DATABASE_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test")
REPWATCH = str(Path(sys.executable).with_name("repwatch"))
NOW = datetime(2026, 11, 23, 2, 0, tzinfo=timezone.utc)
TEXTS = ["快送外卖的骑手态度恶劣，送餐晚了一个小时还骂人", "快送外卖退款一直没处理，快一个月了，客服电话打不通",
         "优选商城买的手机经常死机，换了三次还是坏，奉劝大家不要购买", "优选商城结算金额超出预期，事先没告知，要投诉到12315",
         "快送外卖味道不错，送得也快，下次还点", "周末和朋友去公园散步，天气很好"]
TASK_LINE = re.compile(r"\] (collect|analyze|alerts) done in ([\d.]+)s \(database ([\d.]+)s\)")


CORPUS: list[str] | None = None   # bench/run_overhead.py --corpus: one distinct real text per post instead


def post_text(i: int, j: int, posts: int) -> str:
    """Post j of feed i: one of TEXTS with an order number (a stream of near-duplicates), or CORPUS's."""
    if CORPUS:
        return CORPUS[(i * posts + j) % len(CORPUS)]
    return f"{TEXTS[(i + j) % len(TEXTS)]}（订单{i:03d}{j:03d}）"


def feed(i: int, posts: int) -> bytes:
    from xml.sax.saxutils import escape

    items = "".join(f"<item><guid>s{i}-p{j}</guid><title>帖子{i}-{j}</title><link>http://example.com/{i}/{j}</link>"
                    f"<description>{escape(post_text(i, j, posts))}</description></item>"
                    for j in range(posts))
    return (f'<?xml version="1.0" encoding="utf-8"?><rss version="2.0"><channel><title>f{i}</title>'
            f"<link>http://example.com/{i}</link><description>d</description>{items}</channel></rss>").encode()


def serve(sources: int, posts: int, port_out, stop) -> None:
    from repwatch.loopback import LoopbackHTTPServer, Response

    with LoopbackHTTPServer({f"/f{i}.xml": Response(feed(i, posts)) for i in range(sources)}) as server:
        port_out.put(server.url("/"))
        stop.wait()


def config_data(base: str, sources: int, prefix: str = "") -> dict:
    return {"watch": [{"name": "快送外卖", "aliases": ["快送"]}, {"name": "优选商城", "aliases": ["优选"]}],
            "sources": [{"name": f"src{i:03d}", "kind": "feed", "url": f"{base}f{i}.xml"} for i in range(sources)],
            "distributed": {"queue_prefix": prefix}}


def pg_schema() -> tuple[str, callable]:
    from sqlalchemy import create_engine, text
    from sqlalchemy.engine import make_url

    schema = f"rw_bench_{uuid.uuid4().hex[:8]}"
    base = make_url(PG)
    admin = create_engine(base)
    with admin.begin() as c:
        c.execute(text(f'CREATE SCHEMA "{schema}"'))
    url = base.update_query_dict({"options": f"-csearch_path={schema}"}).render_as_string(hide_password=False)

    def drop():
        with admin.begin() as c:
            c.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()
    return url, drop


def sql_timer(engine) -> list[float]:
    from sqlalchemy import event

    total = [0.0]
    event.listen(engine, "before_cursor_execute", lambda conn, *a: conn.info.__setitem__("t0", time.perf_counter()))
    event.listen(engine, "after_cursor_execute",
                 lambda conn, *a: total.__setitem__(0, total[0] + time.perf_counter() - conn.info.pop("t0")))
    return total


def in_process(url: str, data: dict, expected: int) -> dict:
    from repwatch.config import parse_config
    from repwatch.pipeline import alert_stage, analyze_pending, collect_source
    from sentiment import Analyzer
    from storage import Database

    config = parse_config(data, "<bench>")
    db = Database(url)
    sql = sql_timer(db.engine)
    analyzer = Analyzer(config.analysis.model_copy(update={"workers": 1}), config.targets())
    analyzer.warm_up()
    stages = {}
    cpu0 = process_cpu()
    t0 = time.perf_counter()
    for source_cfg in config.sources:
        collect_source(db, config, source_cfg, NOW)
    stages["collect"], sql_collect = time.perf_counter() - t0, sql[0]
    t1 = time.perf_counter()
    scored = analyze_pending(db, analyzer, batch_size=config.analysis.batch_size,
                             source_targets={s.name: list(s.targets) for s in config.sources})
    stages["analyze"], sql_analyze = time.perf_counter() - t1, sql[0] - sql_collect
    t2 = time.perf_counter()
    alert_stage(db, config, NOW)
    stages["alerts"] = time.perf_counter() - t2
    wall = time.perf_counter() - t0
    cpu = process_cpu() - cpu0
    db.dispose()
    assert scored == expected, (scored, expected)
    return {"wall": wall, "cpu": cpu, "stages": stages, "sql": sql[0],
            "sql_by_stage": {"collect": sql_collect, "analyze": sql_analyze,
                             "alerts": sql[0] - sql_collect - sql_analyze}}


def process_cpu() -> float:
    import resource

    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime


def session_cpu(sid: int) -> float:
    """CPU seconds of every live process of a worker (its own session: the main process and its pool)."""
    total, tick = 0, os.sysconf("SC_CLK_TCK")
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:   # the process ended meanwhile
            continue
        if int(fields[3]) == sid:          # state ppid pgrp session ... utime(11) stime(12)
            total += int(fields[11]) + int(fields[12])
    return total / tick


def settled(db, expected: int) -> bool:
    from sqlalchemy import func, select

    from storage.models import Analysis, IncidentMention, Mention

    with db.session() as s:
        n = s.scalar(select(func.count()).select_from(Mention))
        a = s.scalar(select(func.count()).select_from(Analysis))
        waiting = s.scalar(select(func.count()).select_from(Analysis).join(Mention, Mention.id == Analysis.mention_id)
                           .where(Analysis.severity.in_(["important", "urgent"]), Mention.duplicate_of_id.is_(None),
                                  Mention.id.not_in(select(IncidentMention.mention_id))))
    return n == expected and a == expected and waiting == 0


def distributed(url: str, data: dict, expected: int, workers: int, tmp: Path) -> dict:
    import yaml

    from repwatch.config import parse_config
    from repwatch.distributed.enqueue import enqueue_run
    from storage import Database

    os.environ["REPWATCH_BROKER_URL"] = BROKER
    path = tmp / f"w{workers}.yaml"
    path.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    config = parse_config(data, str(path))
    env = {**os.environ, "REPWATCH_DATABASE_URL": url, "REPWATCH_CONFIG": str(path)}
    Database(url).dispose()   # migrate before the clock, as a deployed database would be
    procs, logs = [], []
    try:
        for n in range(workers):
            logs.append(tmp / f"w{workers}-{n}.log")
            procs.append(subprocess.Popen([REPWATCH, "worker", "-c", "1", "-n", f"bench{workers}-{n}@%h",
                                           "--logfile", str(logs[-1])], env=env, start_new_session=True,
                                          stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))
        deadline = time.monotonic() + 180
        while not all(p.exists() and " ready." in p.read_text() for p in logs):
            if time.monotonic() > deadline:
                raise RuntimeError("workers did not start")
            time.sleep(0.2)
        db = Database(url, auto_upgrade=False)
        cpu0 = sum(session_cpu(p.pid) for p in procs)
        t0 = time.perf_counter()
        enqueue_run(config, None, NOW)
        publish = time.perf_counter() - t0
        deadline = time.monotonic() + 900
        while not settled(db, expected):
            if time.monotonic() > deadline:
                raise RuntimeError("the workers did not finish in 15 minutes")
            time.sleep(0.1)
        wall = time.perf_counter() - t0
        cpu = sum(session_cpu(p.pid) for p in procs) - cpu0
        db.dispose()
    finally:
        for p in procs:
            if p.poll() is None:
                os.killpg(p.pid, signal.SIGTERM)
        for p in procs:
            try:
                p.wait(timeout=60)
            except subprocess.TimeoutExpired:
                os.killpg(p.pid, signal.SIGKILL)
                p.wait(timeout=30)
    stages, sql, tasks = {}, {}, {}
    for log in logs:
        for stage, secs, db_secs in TASK_LINE.findall(log.read_text()):
            stages[stage] = stages.get(stage, 0.0) + float(secs)
            sql[stage] = sql.get(stage, 0.0) + float(db_secs)
            tasks[stage] = tasks.get(stage, 0) + 1
    busy = sum(stages.values())
    return {"wall": wall, "cpu": cpu, "publish": publish, "stages": stages, "sql_by_stage": sql, "sql": sum(sql.values()),
            "tasks": tasks, "outside_tasks": max(0.0, workers * wall - busy)}


def row(name: str, r: dict, n: int, base: float | None) -> str:
    st, sq = r["stages"], r["sql_by_stage"]
    analysis_cpu = st.get("analyze", 0) - sq.get("analyze", 0)
    ratio = f"{(n / r['wall']) / base:.2f}x" if base else "1.00x"
    extra = f"{r['outside_tasks']:.1f}s" if "outside_tasks" in r else "-"
    return (f"| {name} | {n / r['wall']:.0f} | {ratio} | {r['wall']:.1f}s | {1000 * r['cpu'] / n:.1f}s | "
            f"{st.get('collect', 0):.1f}s | {analysis_cpu:.1f}s | {st.get('alerts', 0):.1f}s | {r['sql']:.1f}s | {extra} |")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--sources", type=int, default=40)
    ap.add_argument("--posts", type=int, default=50)
    ap.add_argument("--modes", default="sqlite,pg,1,2")
    args = ap.parse_args()
    modes = args.modes.split(",")
    expected = args.sources * args.posts
    ctx = mp.get_context("fork")
    port_q, stop = ctx.Queue(), ctx.Event()
    server = ctx.Process(target=serve, args=(args.sources, args.posts, port_q, stop), daemon=True)
    server.start()
    base = port_q.get(timeout=60)
    results, load_before = {}, os.getloadavg()[0]
    try:
        with tempfile.TemporaryDirectory() as tmp:
            tmp = Path(tmp)
            for mode in modes:
                prefix = f"rwbench.{uuid.uuid4().hex[:6]}."
                data = config_data(base, args.sources, prefix)
                if mode == "sqlite":
                    results[mode] = in_process(f"sqlite:///{tmp / 'bench.db'}", data, expected)
                    continue
                url, drop = pg_schema()
                try:
                    if mode == "pg":
                        results[mode] = in_process(url, data, expected)
                    else:
                        results[mode] = distributed(url, data, expected, int(mode), tmp)
                finally:
                    drop()
                    if mode not in ("sqlite", "pg"):
                        delete_queues(prefix)
                print(f"{mode}: {expected / results[mode]['wall']:.0f} mentions/s", file=sys.stderr)
    finally:
        stop.set()
        server.join(timeout=10)
    report(results, args, expected, load_before)


def delete_queues(prefix: str) -> None:
    from kombu import Connection

    from repwatch.distributed.app import QUEUES

    with Connection(BROKER, connect_timeout=5) as conn:
        channel = conn.channel()
        for q in QUEUES:
            channel.queue_delete(prefix + q)


def report(results: dict, args, n: int, load_before: float) -> None:
    names = {"sqlite": "in-process, SQLite", "pg": "in-process, PostgreSQL", "1": "Celery, 1 worker process",
             "2": "Celery, 2 worker processes"}
    base = n / results["pg"]["wall"] if "pg" in results else None
    print(f"{args.sources} loopback feeds x {args.posts} posts = {n} mentions; {os.cpu_count()} cores; "
          f"1-minute load average {load_before:.2f} before, {os.getloadavg()[0]:.2f} after (other work on the machine)\n")
    print("| mode | mentions/s | vs in-process PG | wall | CPU per 1000 mentions | collect | analysis | alerts | SQL "
          "| outside tasks |")
    print("|---|---|---|---|---|---|---|---|---|---|")
    for mode, r in results.items():
        print(row(names.get(mode, mode), r, n, base))
    print("\nCPU: the pipeline's processes only (this process in-process, the workers' process trees on Celery;"
          " from /proc); PostgreSQL's and RabbitMQ's CPU is not included.")
    for mode, r in results.items():
        if "tasks" in r:
            print(f"\n{names[mode]}: tasks {r['tasks']}, publish of {args.sources + 1} messages {r['publish']:.2f}s, "
                  f"SQL by stage " + ", ".join(f"{k} {v:.1f}s" for k, v in r["sql_by_stage"].items()))


if __name__ == "__main__":
    main()
