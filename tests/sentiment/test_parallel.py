"""Large batches go to worker processes; the rows are the same as in-process, in the same order."""
from __future__ import annotations

import threading

from sentiment import Analyzer, TextIn
from sentiment.settings import AnalysisSettings

TEXTS = ["送餐太慢了，饭都凉了", "很好吃，下次还来", "", "😡", "The refund never came", "宝宝拉肚子了",
         "这家店又送错了，第三次了"]


def test_pool_results_equal_in_process_results(analyzer):
    batch = [TextIn(text=f"{t} {i}" if t else t, id=object()) for i, t in enumerate(TEXTS * 30)]   # ids need not pickle
    here = analyzer.score_here(batch)
    single_threaded = threading.active_count() == 1      # other suites may leave threads running here
    with Analyzer(AnalysisSettings(workers=2, parallel_min=50)) as pooled:
        assert pooled.batch_hint(500) >= 2000
        there = pooled.score(batch)
        assert pooled._pool is not None                     # it really fanned out
        assert pooled._pool.start_method == ("fork" if single_threaded else "forkserver")   # fork inherits models
        small = pooled.score(batch[:10])                    # below parallel_min: in this process
    assert pooled._pool is None                             # closed with the analyzer
    assert [r.as_dict() for r in there] == [r.as_dict() for r in here]
    assert [r.as_dict() for r in small] == [r.as_dict() for r in here[:10]]


def test_one_worker_never_fans_out():
    a = Analyzer(AnalysisSettings(workers=1, parallel_min=1, snownlp=False))
    assert a.batch_hint(500) == 500
    a.score([TextIn("好")] * 3)
    assert a._pool is None


def _score_in_a_daemon(queue):
    from sentiment import Analyzer, TextIn
    from sentiment.settings import AnalysisSettings

    a = Analyzer(AnalysisSettings(workers=2, parallel_min=1, snownlp=False))
    results = a.score([TextIn("送餐太慢了"), TextIn("很好")])
    queue.put((len(results), a._pool is None, a.batch_hint(500)))


def test_a_daemonic_worker_scores_alone():
    """Celery and multiprocessing workers are daemonic and may not start children: no pool, no crash."""
    import multiprocessing

    ctx = multiprocessing.get_context("fork")
    queue = ctx.Queue()
    proc = ctx.Process(target=_score_in_a_daemon, args=(queue,), daemon=True)
    proc.start()
    try:
        assert queue.get(timeout=120) == (2, True, 500)
    finally:
        proc.join(timeout=30)


def test_a_process_with_threads_uses_a_fork_server():
    """The scheduler runs threads; forking it could copy a held lock into a child. Same rows either way."""
    stop = threading.Event()
    thread = threading.Thread(target=stop.wait, args=(60,), daemon=True)
    thread.start()
    try:
        batch = [TextIn(t) for t in TEXTS * 10]
        with Analyzer(AnalysisSettings(workers=2, parallel_min=10, snownlp=False)) as pooled:
            there = pooled.score(batch)
            assert pooled._pool.start_method == "forkserver"
        here = Analyzer(AnalysisSettings(workers=1, snownlp=False)).score(batch)
        assert [r.as_dict() for r in there] == [r.as_dict() for r in here]
    finally:
        stop.set()
        thread.join(timeout=5)
