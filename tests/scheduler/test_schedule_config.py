"""schedules.yaml scheduling keys. The invalid scheduling files live with every other invalid config in
tests/config/invalid/schedule_*.yaml (one parametrised test checks them all); here, the meaning of every
valid key and `repwatch check-config` naming the file, the key and the reason."""
from __future__ import annotations

from datetime import timedelta
from pathlib import Path

from click.testing import CliRunner

from repwatch.cli import cli
from repwatch.config import load_config

HERE = Path(__file__).parent / "configs"


def test_every_scheduling_key_loads_with_its_meaning():
    path = HERE / "valid" / "every_scheduling_key.yaml"
    assert path.read_text(encoding="utf-8").startswith("# Expect: ok")
    config = load_config(path)
    assert config.sources[1].schedule.jitter == timedelta(seconds=90)
    assert config.sources[2].schedule.timezone == "Europe/London"
    assert config.sources[3].schedule is None and config.scheduler.default_schedule.every == timedelta(hours=1)
    daily, evening = config.digests
    assert (daily.locale, daily.top, daily.covers) == ("en", 10, "yesterday")
    assert [r.to for r in daily.recipients] == ["team@example.com", "east@example.com"]
    assert daily.recipients[1].targets == ["优选商城"] and daily.recipients[1].locale == "zh"
    assert daily.recipient("EAST@example.com").sources == ["reviews", "news"]
    assert (evening.covers, evening.schedule.cron, evening.misfire_grace_time) == ("today", "0 18 * * *",
                                                                                  timedelta(hours=12))


def test_check_config_fails_with_exit_2_and_explains_numeric_weekdays():
    path = Path(__file__).parents[1] / "config" / "invalid" / "schedule_numeric_weekday.yaml"
    result = CliRunner().invoke(cli, ["-c", str(path), "check-config"])
    assert result.exit_code == 2
    assert f"{path}: invalid configuration" in result.output
    assert "sources[0].schedule" in result.output and "crontab's Sunday=0" in result.output


def test_sample_schedules_yaml_has_schedules_and_a_digest():
    config = load_config(Path(__file__).parents[2] / "schedules.yaml")
    assert config.digests and config.digests[0].recipients
    assert any(s.schedule and s.schedule.every for s in config.sources)
