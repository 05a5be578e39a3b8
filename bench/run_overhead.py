"""`repwatch run` CPU against the analyzer alone on the same posts (issue 18: target <= 1.15x).

Not a test: figures for README and docs/collectors.md. 40 loopback feeds x 50 Chinese posts (2,000
mentions, bench/scale.py's feeds; the HTTP server is a child process, so its CPU is not counted) go
through `run_once` (collect, analyze, alerts: what `repwatch run` does) on a fresh database, and the
same 2,000 texts through `Analyzer.score` alone. The analyzer is loaded once, before any clock, with
one worker (its forked workers' CPU would not show in this process's figures). CPU seconds of this
process (time.process_time), best of --repeat, each stage of the run timed on its own.

    .venv/bin/python bench/run_overhead.py [--pg postgresql+psycopg://...] [--no-sqlite] [--repeat 3]
"""
from __future__ import annotations

import argparse
import multiprocessing as mp
import sys
import tempfile
import time
from datetime import timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from scale import NOW, TEXTS, config_data, serve  # noqa: E402


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sources", type=int, default=40)
    ap.add_argument("--posts", type=int, default=50)
    ap.add_argument("--pg")
    ap.add_argument("--no-sqlite", action="store_true")
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--no-encoder", action="store_true",
                    help="group on words alone (alerts.incidents.encoder: false): no sentence vector per complaint")
    ap.add_argument("--profile", metavar="FILE",
                    help="cProfile (CPU clock) the alert stage of the last run into FILE (pstats), to see where it goes")
    args = ap.parse_args()

    from repwatch.config import parse_config
    from repwatch.pipeline import alert_stage, analyze_pending, collect_sources, health_alerts
    from sentiment import Analyzer, TextIn
    from storage import Database

    ctx = mp.get_context("fork")
    port_q, stop = ctx.Queue(), ctx.Event()
    server = ctx.Process(target=serve, args=(args.sources, args.posts, port_q, stop), daemon=True)
    server.start()
    base = port_q.get(timeout=60)
    data = config_data(base, args.sources)
    if args.no_encoder:
        data["alerts"] = {"incidents": {"encoder": False}}
    config = parse_config(data, "<bench>")
    analyzer = Analyzer(config.analysis.model_copy(update={"workers": 1}), config.targets())
    analyzer.warm_up()
    texts = [TextIn(text=f"{TEXTS[(i + j) % len(TEXTS)]}（订单{i:03d}{j:03d}）", title=f"帖子{i}-{j}")
             for i in range(args.sources) for j in range(args.posts)]
    n = len(texts)

    def alone() -> float:
        cpu = time.process_time()
        for k in range(0, n, config.analysis.batch_size):
            analyzer.score(texts[k:k + config.analysis.batch_size])
        return time.process_time() - cpu

    def run(url: str) -> dict:
        db = Database(url)
        stages, statements = {}, [0]
        from sqlalchemy import event
        event.listen(db.engine, "before_cursor_execute", lambda *a: statements.__setitem__(0, statements[0] + 1))
        cpu = time.process_time()
        reports = collect_sources(db, config, list(config.sources), NOW)
        stages["collect"] = time.process_time() - cpu
        t = time.process_time()
        scored = analyze_pending(db, analyzer, batch_size=config.analysis.batch_size,
                                 source_targets={s.name: list(s.targets) for s in config.sources})
        stages["analyze"] = time.process_time() - t
        profiler = None
        if args.profile:
            import cProfile

            profiler = cProfile.Profile(time.process_time)
            profiler.enable()
        t = time.process_time()
        evaluation, _ = alert_stage(db, config, NOW + timedelta(minutes=1), extra=health_alerts(reports))
        stages["alerts"] = time.process_time() - t
        if profiler is not None:
            profiler.disable()
            profiler.dump_stats(args.profile)
        stages["incidents"] = evaluation.incidents_opened
        stages["total"] = time.process_time() - cpu
        db.dispose()
        assert scored == n, (scored, n)
        stages["statements"] = statements[0]
        return stages

    rows = []
    try:
        best_alone = min(alone() for _ in range(args.repeat))
        backends = [] if args.no_sqlite else ["SQLite"]
        backends += ["PostgreSQL"] if args.pg else []
        for backend in backends:
            results = []
            for _ in range(args.repeat):
                if backend == "SQLite":
                    with tempfile.TemporaryDirectory() as tmp:
                        results.append(run(f"sqlite:///{tmp}/run.db"))
                else:
                    from storage.pgschema import private_schema

                    with private_schema(args.pg, "rw_runbench") as url:
                        results.append(run(url))
            best = min(results, key=lambda r: r["total"])
            rows.append((backend, best))
    finally:
        stop.set()
        server.join(timeout=10)
    print(f"{n} posts ({args.sources} feeds x {args.posts}); CPU seconds, best of {args.repeat}\n")
    print("| database | analyzer alone | `repwatch run` | ratio | collect | analyze stage | alerts | statements | incidents |")
    print("|---|---|---|---|---|---|---|---|---|")
    for backend, r in rows:
        print(f"| {backend} | {best_alone:.2f} | {r['total']:.2f} | {r['total'] / best_alone:.2f}x | {r['collect']:.2f} "
              f"| {r['analyze']:.2f} | {r['alerts']:.2f} | {r['statements']} | {r['incidents']} |")


if __name__ == "__main__":
    main()
