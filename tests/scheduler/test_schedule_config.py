"""schedules.yaml scheduling keys, validated strictly: a folder of valid and invalid files, each stating
its expectation in its first line, and `repwatch check-config` naming the file, the key and the reason."""
from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest
from click.testing import CliRunner

from repwatch.cli import cli
from repwatch.config import load_config
from repwatch.exceptions import ConfigError

HERE = Path(__file__).parent / "configs"


def expectation(path: Path) -> str:
    first = path.read_text(encoding="utf-8").splitlines()[0]
    assert first.startswith("# Expect: "), f"{path.name} must start with '# Expect: ...'"
    return first.removeprefix("# Expect: ")


@pytest.mark.parametrize("path", sorted((HERE / "invalid").glob("*.yaml")), ids=lambda p: p.stem)
def test_invalid_schedules_name_the_file_the_key_and_the_reason(path):
    with pytest.raises(ConfigError) as err:
        load_config(path)
    message = str(err.value)
    assert message.startswith(f"{path}: invalid configuration")
    assert expectation(path) in message


def test_every_scheduling_key_loads_with_its_meaning():
    path = HERE / "valid" / "every_scheduling_key.yaml"
    assert expectation(path) == "ok"
    config = load_config(path)
    assert config.sources[1].schedule.jitter == timedelta(seconds=90)
    assert config.sources[2].schedule.timezone == "Europe/London"
    assert config.sources[3].schedule is None and config.scheduler.default_schedule.every == timedelta(hours=1)
    daily, evening = config.digests
    assert (daily.locale, daily.top, daily.send_attempts, daily.covers) == ("en", 10, 4, "yesterday")
    assert [r.to for r in daily.recipients] == ["team@example.com", "east@example.com"]
    assert daily.recipients[1].targets == ["优选商城"] and daily.recipients[1].locale == "zh"
    assert daily.recipient("EAST@example.com").sources == ["reviews", "news"]
    assert (evening.covers, evening.schedule.cron, evening.misfire_grace_time) == ("today", "0 18 * * *",
                                                                                  timedelta(hours=12))


def test_check_config_fails_with_exit_2_and_explains_numeric_weekdays():
    path = HERE / "invalid" / "numeric_weekday.yaml"
    result = CliRunner().invoke(cli, ["-c", str(path), "check-config"])
    assert result.exit_code == 2
    assert f"{path}: invalid configuration" in result.output
    assert "sources[0].schedule" in result.output and "crontab's Sunday=0" in result.output


def test_sample_schedules_yaml_has_schedules_and_a_digest():
    config = load_config(Path(__file__).parents[2] / "schedules.yaml")
    assert config.digests and config.digests[0].recipients
    assert any(s.schedule and s.schedule.every for s in config.sources)
