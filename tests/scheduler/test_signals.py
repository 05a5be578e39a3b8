"""A real `repwatch scheduler` process: SIGHUP with a bad config keeps the jobs, SIGHUP with a good one
replaces them, SIGTERM stops it cleanly. Bounded: every wait has a deadline, and the process is killed
by its pid if anything goes wrong."""
from __future__ import annotations

import signal
import subprocess
import sys
import time

import pytest

from repwatch.heartbeat import SCHEDULER, read_beats
from repwatch.locks import SCHEDULER_LOCK, lock_info
from storage import Database

NEVER = "0 3 1 1 *"        # 03:00 on 1 January: no job fires while the test runs


def wait_for(check, what: str, deadline: float = 60.0, proc=None):
    end = time.monotonic() + deadline
    while time.monotonic() < end:
        value = check()
        if value:
            return value
        if proc is not None and proc.poll() is not None:
            pytest.fail(f"scheduler exited early ({proc.returncode}) while waiting for {what}")
        time.sleep(0.2)
    pytest.fail(f"timed out waiting for {what}")


def beat(url):
    db = Database(url, auto_upgrade=False)
    try:
        return read_beats(db).get(SCHEDULER)
    finally:
        db.dispose()


@pytest.mark.slow
def test_sighup_and_sigterm_on_a_real_scheduler_process(tmp_path, database_url, write_config):
    sources = [{"name": "news", "kind": "feed", "url": "http://127.0.0.1:9/n.xml", "schedule": NEVER}]
    settings = {"misfire_grace_time": "5m", "heartbeat_every": "1s", "lock_lease": "10s"}
    path = write_config(tmp_path / "schedules.yaml", sources=sources, digests=[], scheduler=settings)
    log = (tmp_path / "scheduler.log").open("w")
    proc = subprocess.Popen([sys.executable, "-c", "from repwatch.cli import main; main()", "-c", str(path),
                             "--database", database_url, "scheduler", "--no-catch-up"],
                            stdout=log, stderr=subprocess.STDOUT)
    try:
        running = wait_for(lambda: (b := beat(database_url)) and b.detail.get("state") == "running" and b,
                           "the first heartbeat", proc=proc)
        assert running.pid == proc.pid
        jobs = sorted(j["id"] for j in running.detail["jobs"])
        assert jobs == ["heartbeat", "source:news"]

        text = path.read_text(encoding="utf-8")
        path.write_text(text.replace(NEVER, "0 3 1 1 1"), encoding="utf-8")     # numeric weekday: invalid
        proc.send_signal(signal.SIGHUP)
        refused = wait_for(lambda: (b := beat(database_url)) and b.detail["reload"]["ok"] is False and b,
                           "the refused reload", proc=proc)
        assert "Monday=0" in refused.detail["reload"]["error"]
        assert sorted(j["id"] for j in refused.detail["jobs"]) == jobs

        sources.append({"name": "press", "kind": "feed", "url": "http://127.0.0.1:9/p.xml", "schedule": NEVER})
        write_config(path, sources=sources, digests=[], scheduler=settings)
        proc.send_signal(signal.SIGHUP)
        reloaded = wait_for(lambda: (b := beat(database_url)) and b.detail["reload"]["ok"] is True
                            and len(b.detail["jobs"]) == 3 and b, "the good reload", proc=proc)
        assert sorted(j["id"] for j in reloaded.detail["jobs"]) == ["heartbeat", "source:news", "source:press"]

        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=30) == 0
        output = (tmp_path / "scheduler.log").read_text(encoding="utf-8")
        assert "reload refused, keeping the current jobs" in output and "Traceback" not in output
        assert beat(database_url).detail["state"] == "stopped"
        db = Database(database_url, auto_upgrade=False)
        try:
            assert lock_info(db, SCHEDULER_LOCK) is None
        finally:
            db.dispose()
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(timeout=10)
        log.close()


@pytest.mark.slow
def test_sigterm_during_run_due_rolls_back_and_releases_the_lock(tmp_path, database_url, write_config, http_server):
    """A cron tick killed mid-collection (a cron timeout, a shutdown) leaves no lock behind."""
    from sqlalchemy import select

    from repwatch.locks import RUN_LOCK
    from repwatch.loopback import Response
    from storage.models import CollectionRun, Mention

    http_server.routes["/slow.xml"] = Response(b"<rss/>", delay=30)      # answers long after we stop waiting
    sources = [{"name": "slow", "kind": "feed", "url": http_server.url("/slow.xml")}]
    path = write_config(tmp_path / "schedules.yaml", sources=sources, digests=[])
    proc = subprocess.Popen([sys.executable, "-c", "from repwatch.cli import main; main()", "-c", str(path),
                             "--database", database_url, "run", "--due"],
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    db = Database(database_url, auto_upgrade=False)
    try:
        def fetching():
            with db.session() as s:
                return s.scalar(select(CollectionRun.status)) == "running" and lock_info(db, RUN_LOCK)
        wait_for(fetching, "the run to start fetching", proc=proc)
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=30) == 143
        assert lock_info(db, RUN_LOCK) is None
        with db.session() as s:
            assert s.scalar(select(Mention.id)) is None
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(timeout=10)
        db.dispose()
