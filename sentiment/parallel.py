"""Scoring large batches on every core: a pool of worker processes, each loading the models once.

SnowNLP alone costs about 3 s and 420 MiB per process, so a pool is only worth it for large batches
(AnalysisSettings.parallel_min) and is kept for the analyzer's lifetime rather than per batch.

How workers start: a single-threaded process (the CLI, benchmarks) forks, so workers inherit whatever models
are already loaded and start at once. A process that runs threads (the scheduler) must not fork, since a
lock held by another thread would stay locked in the child forever; it uses a fork server instead, which
re-imports the main module in each worker (the `repwatch` command guards it, as multiprocessing requires)."""
from __future__ import annotations

import logging
import multiprocessing
import threading
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from dataclasses import replace
from typing import TYPE_CHECKING, Sequence

if TYPE_CHECKING:
    from sentiment.analyzer import Analyzer

log = logging.getLogger("repwatch.sentiment")
_analyzer: Analyzer | None = None   # one per worker process


def _init_worker(settings, targets) -> None:
    global _analyzer
    from sentiment.analyzer import Analyzer  # noqa: PLC0415

    _analyzer = Analyzer(settings.model_copy(update={"workers": 1}), targets)
    _analyzer.warm_up()


def _score_chunk(chunk):
    assert _analyzer is not None   # set by _init_worker when the worker started
    return _analyzer.score_here(chunk)


def will_fork() -> bool:
    return threading.active_count() == 1 and "fork" in multiprocessing.get_all_start_methods()


class WorkerPool:
    def __init__(self, settings, targets: dict[str, list[str]], workers: int):
        method = "fork" if will_fork() else "forkserver"
        context = multiprocessing.get_context(method)
        self.workers, self.start_method = workers, method
        self._executor = ProcessPoolExecutor(max_workers=workers, mp_context=context, initializer=_init_worker,
                                             initargs=(settings, targets))

    def score(self, batch: Sequence, fallback) -> list:
        """Results in order; if the pool breaks (a worker killed, out of memory), `fallback` scores the batch
        in this process, so a batch is never lost."""
        try:
            return self._score(batch)
        except BrokenProcessPool:
            log.error("a sentiment worker process died; scoring %d texts in this process", len(batch))
            self.broken = True
            return fallback(batch)

    broken = False

    def _score(self, batch: Sequence) -> list:
        # ids stay here: they need not be picklable, and results come back in order anyway.
        items = [replace(item, id=None) for item in batch]
        size = max(100, min(2000, -(-len(items) // (self.workers * 4))))
        chunks = [items[i:i + size] for i in range(0, len(items), size)]
        out: list = []
        for part in self._executor.map(_score_chunk, chunks):
            out.extend(part)
        return out

    def close(self) -> None:
        self._executor.shutdown(wait=True, cancel_futures=True)
