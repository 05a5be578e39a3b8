"""One setting apart: without REPWATCH_BROKER_URL everything runs in-process as before; with it, the
command line and the scheduler's executor enqueue. Plus the worker command's and settings' rules."""
from __future__ import annotations

import subprocess
from datetime import timedelta

import click
import pytest

from repwatch.config import parse_config
from repwatch.distributed import executor_for
from repwatch.distributed.app import publish_retry_policy
from repwatch.distributed.enqueue import CeleryExecutor
from repwatch.distributed.settings import DistributedSettings
from repwatch.cli.worker_cmd import default_concurrency, parse_stages
from repwatch.exceptions import ConfigError
from repwatch.executor import InProcessExecutor

from .conftest import REPWATCH


def test_the_broker_setting_alone_picks_the_executor(monkeypatch):
    config = parse_config({}, "<test>")
    monkeypatch.delenv("REPWATCH_BROKER_URL", raising=False)
    assert isinstance(executor_for(None, config), InProcessExecutor)
    monkeypatch.setenv("REPWATCH_BROKER_URL", "amqp://guest:guest@127.0.0.1:5672//")
    assert isinstance(executor_for(None, config), CeleryExecutor)


def test_worker_refuses_to_start_without_a_broker_and_says_how(tmp_path):
    cfg = tmp_path / "schedules.yaml"
    cfg.write_text("sources: []\n", encoding="utf-8")
    env = {"PATH": "/usr/bin:/bin", "HOME": str(tmp_path)}
    out = subprocess.run([REPWATCH, "-c", str(cfg), "--database", f"sqlite:///{tmp_path / 'x.db'}", "worker"],
                         env=env, capture_output=True, text=True, timeout=60)
    assert out.returncode == 1 and "REPWATCH_BROKER_URL is not set" in out.stderr


def test_queue_names_and_default_concurrency():
    assert parse_stages("collect, analyze") == ["collect", "analyze"]
    assert parse_stages("alerts,alerts") == ["alerts"]
    with pytest.raises(click.BadParameter, match="choose from collect, analyze, alerts"):
        parse_stages("collect,crawl")
    assert default_concurrency(["collect"], 2) == 8      # I/O bound
    assert default_concurrency(["analyze"], 2) == 2      # CPU bound: one per core
    assert default_concurrency(["collect", "analyze"], 2) == 2


def test_publish_retries_span_the_configured_outage():
    for budget in (20, 60, 300, 3600):
        policy = publish_retry_policy(DistributedSettings(publish_retry_for=timedelta(seconds=budget)))
        waits = [min(policy["interval_max"], policy["interval_start"] + i * policy["interval_step"])
                 for i in range(policy["max_retries"])]
        assert budget <= sum(waits) < budget + 2 * policy["interval_max"] + 15


@pytest.mark.parametrize("section, message", [
    ({"collect_time_limit": "0s"}, "collect_time_limit must be at least 1s"),
    ({"queue_prefix": "my queue"}, "distributed.queue_prefix"),
    ({"analyze_batch": 0}, "distributed.analyze_batch"),
    ({"max_retry": 3}, "distributed.max_retry: unknown key"),
])
def test_distributed_settings_are_strict(section, message):
    with pytest.raises(ConfigError, match=message):
        parse_config({"distributed": section}, "<test>")


def test_soft_limit_comes_first_with_room_to_record_the_failure():
    s = DistributedSettings()
    assert s.soft_limit(timedelta(minutes=10)) == 540          # 10 % earlier
    assert s.soft_limit(timedelta(seconds=30)) == 25           # at least 5 s earlier
    assert s.soft_limit(timedelta(seconds=4)) == 2             # never below half


@pytest.mark.broker
@pytest.mark.postgres
def test_cron_run_due_enqueues_the_due_sources_on_the_broker(cluster, serve_feeds):
    sources = serve_feeds(3, 2)
    sources[2]["enabled"] = False
    cluster.configure({"sources": sources})
    # Declare the queues as a worker would (no worker runs: the messages stay where we can count them).
    from repwatch.distributed.app import configure

    app = configure(cluster.config.distributed)
    with app.connection_for_write() as conn:
        for queue in app.amqp.queues.values():
            queue(conn.default_channel).declare()
    out = subprocess.run([REPWATCH, "run", "--due"], env=cluster.env, capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    assert "enqueued 2 collect tasks" in out.stdout
    assert cluster.queue_depths() == {"collect": 2, "analyze": 0, "alerts": 1, "digest": 0}
    # Alert evaluations each do whatever is pending, so the broker keeps one waiting, however many arrive.
    out = subprocess.run([REPWATCH, "run", "--source", sources[0]["name"]], env=cluster.env, capture_output=True,
                         text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    assert cluster.queue_depths() == {"collect": 3, "analyze": 0, "alerts": 1, "digest": 0}
