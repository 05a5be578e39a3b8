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

import scale  # noqa: E402
from scale import NOW, config_data, post_text, serve  # noqa: E402

def corpus(n: int) -> list[str]:
    """n distinct real delivery reviews (../shared/data waimai_10k, about two in three negative), drawn at
    random with a fixed seed; every other one names the watch target 快送外卖, as posts found by a
    keyword search do (the others are grouped under no target, and the analyzer's vectors of them are kept)."""
    import csv
    import random

    from sentiment.corpora import default_data_dir

    with open(default_data_dir() / "waimai_10k.csv", encoding="utf-8") as f:
        reviews = list(dict.fromkeys(row["review"].strip() for row in csv.DictReader(f) if row["review"].strip()))
    picked = random.Random(18).sample(reviews, n)
    return [f"快送外卖{text}" if k % 2 == 0 else text for k, text in enumerate(picked)]


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
    ap.add_argument("--vector-baseline", action="store_true",
                    help="also time the analyzer alone plus a vector for every complaint (once; slow)")
    ap.add_argument("--corpus", action="store_true",
                    help="distinct real reviews (waimai_10k) instead of four complaints repeated with order numbers")
    args = ap.parse_args()
    if args.corpus:
        scale.CORPUS = corpus(args.sources * args.posts)   # before the server forks, so it serves them

    from repwatch.config import parse_config
    from repwatch.pipeline import alert_stage, analyze_pending, collect_sources, health_alerts
    from repwatch.vectors import encode_pending
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
    texts = [TextIn(text=post_text(i, j, args.posts), title=f"帖子{i}-{j}")
             for i in range(args.sources) for j in range(args.posts)]
    n = len(texts)

    def alone() -> float:
        cpu = time.process_time()
        for k in range(0, n, config.analysis.batch_size):
            analyzer.score(texts[k:k + config.analysis.batch_size])
        return time.process_time() - cpu

    def alone_with_vectors() -> tuple[float, int]:
        """The analyzer alone, plus a sentence vector for every complaint the alert stage groups (severity at or
        above incidents.min_severity) that has no usable one from the analyzer: the other view of the comparison,
        with the encoder's cost counted as analysis wherever it is paid. No sharing between near-duplicates."""
        from alerts import encoder_text
        from sentiment.encoder import embed
        from storage.vocabulary import severities_at_least

        wanted = severities_at_least(config.alerts.incidents.min_severity)
        cpu, encoded = time.process_time(), 0
        for k in range(0, n, config.analysis.batch_size):
            batch = texts[k:k + config.analysis.batch_size]
            results = analyzer.score(batch)
            # the rule of repwatch/vectors.py store_given: the analyzer's vector serves unless the text names the target
            todo = [encoder_text(text, target) for text, target, r in
                    ((f"{t.title} {t.text}", (r.targets or [None])[0], r) for t, r in zip(batch, results))
                    if r.severity in wanted and (r.embedding is None or encoder_text(text, target) != text)]
            for c in range(0, len(todo), 64):
                embed(todo[c:c + 64])
            encoded += len(todo)
        return time.process_time() - cpu, encoded

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
        stages["vectors"] = encode_pending(db, config)   # what alert_stage would encode first, timed on its own
        stages["encode"] = time.process_time() - t
        t = time.process_time()
        evaluation, _ = alert_stage(db, config, NOW + timedelta(minutes=1), extra=health_alerts(reports))
        stages["alerts"] = time.process_time() - t + stages["encode"]
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
        with_vectors = alone_with_vectors() if args.vector_baseline else None
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
    print(f"{n} posts ({args.sources} feeds x {args.posts}{', distinct reviews' if args.corpus else ''}); "
          f"CPU seconds, best of {args.repeat}; encoder {'off' if args.no_encoder else 'on'}\n")
    if with_vectors is not None:
        print(f"analyzer alone plus a vector for each of its {with_vectors[1]} complaints without one: "
              f"{with_vectors[0]:.2f} s\n")
    print("| database | analyzer alone | `repwatch run` | ratio | collect | analyze stage | alerts | of which encoding "
          "| vectors stored | statements | incidents |" + (" ratio to analyzer + vectors |" if with_vectors else ""))
    print("|---|---|---|---|---|---|---|---|---|---|---|" + ("---|" if with_vectors else ""))
    for backend, r in rows:
        print(f"| {backend} | {best_alone:.2f} | {r['total']:.2f} | {r['total'] / best_alone:.2f}x | {r['collect']:.2f} "
              f"| {r['analyze']:.2f} | {r['alerts']:.2f} | {r['encode']:.2f} | {r['vectors']} | {r['statements']} "
              f"| {r['incidents']} |" + (f" {r['total'] / with_vectors[0]:.2f}x |" if with_vectors else ""))


if __name__ == "__main__":
    main()
