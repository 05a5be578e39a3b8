"""Strict config: a folder of valid and invalid fixtures, each stating its expectation in its first line."""
from __future__ import annotations

from pathlib import Path

import pytest

from repwatch.config import load_config
from repwatch.exceptions import ConfigError

HERE = Path(__file__).parent
REPO = HERE.parents[1]


def expectations(path: Path) -> list[str]:
    """The leading `# Expect: ...` lines: one per problem the file holds."""
    found = []
    for line in path.read_text(encoding="utf-8").splitlines():
        if not line.startswith("# Expect: "):
            break
        found.append(line.removeprefix("# Expect: "))
    assert found, f"{path.name} must start with '# Expect: ...'"
    return found


def expectation(path: Path) -> str:
    return expectations(path)[0]


@pytest.mark.parametrize("path", sorted((HERE / "valid").glob("*.yaml")), ids=lambda p: p.stem)
def test_valid_configs_load(path):
    assert expectation(path) == "ok"
    config = load_config(path)
    assert config.timezone


@pytest.mark.parametrize("path", sorted((HERE / "invalid").glob("*.yaml")), ids=lambda p: p.stem)
def test_invalid_configs_name_file_key_and_expectation(path):
    with pytest.raises(ConfigError) as err:
        load_config(path)
    message = str(err.value)
    assert message.startswith(f"{path}: invalid configuration")
    expected = expectations(path)
    for e in expected:
        assert e in message
    if len(expected) > 1:   # a file with several mistakes: every one in one pass, and nothing else
        assert len(err.value.problems) == len(expected), message


def test_sample_schedules_yaml_is_valid():
    config = load_config(REPO / "schedules.yaml")
    assert config.sources and config.watch and config.notify


def test_secret_is_interpolated_and_never_printed(monkeypatch):
    monkeypatch.setenv("REPWATCH_TEST_SECRET", "hunter2-very-secret")
    config = load_config(HERE / "valid" / "full.yaml")
    smtp = config.notify[0].options.smtp
    assert smtp.password.get_secret_value() == "hunter2-very-secret"
    assert "hunter2" not in repr(config) and "hunter2" not in str(config.notify[0])


def test_secret_default_applies_when_env_is_unset(monkeypatch):
    monkeypatch.delenv("REPWATCH_TEST_SECRET", raising=False)
    assert load_config(HERE / "valid" / "full.yaml").notify[0].options.smtp.password.get_secret_value() == "fallback"


def test_invalid_value_is_not_echoed(tmp_path):
    path = tmp_path / "s.yaml"
    path.write_text("http: {max_bytes: my-private-token-123}\n", encoding="utf-8")
    with pytest.raises(ConfigError) as err:
        load_config(path)
    assert "my-private-token-123" not in str(err.value)


def test_missing_file_says_what_to_do(tmp_path):
    with pytest.raises(ConfigError) as err:
        load_config(tmp_path / "nope.yaml")
    assert "file not found" in str(err.value) and "--config" in str(err.value)


def test_all_problems_reported_at_once(tmp_path):
    path = tmp_path / "s.yaml"
    path.write_text("bogus: 1\nhttp: {max_redirects: 99}\n", encoding="utf-8")
    with pytest.raises(ConfigError) as err:
        load_config(path)
    assert len(err.value.problems) == 2


def test_secret_from_env_is_never_echoed_in_a_schedule_error(tmp_path, monkeypatch):
    # a password pasted into the wrong variable lands in a cron field, whose error quotes the field
    monkeypatch.setenv("REPWATCH_TEST_CRON", "hunter2 s3cret")
    path = tmp_path / "s.yaml"
    path.write_text("sources:\n  - {name: news, kind: feed, url: http://x/a.xml, schedule: '${REPWATCH_TEST_CRON}'}\n",
                    encoding="utf-8")
    with pytest.raises(ConfigError) as err:
        load_config(path)
    assert "sources[0].schedule" in str(err.value)
    assert "hunter2" not in str(err.value) and "s3cret" not in str(err.value)


def test_check_config_takes_global_options_after_the_command(tmp_path):
    from click.testing import CliRunner

    from repwatch.cli import cli

    good = CliRunner().invoke(cli, ["check-config", "-c", str(HERE / "valid" / "minimal.yaml")])
    assert good.exit_code == 0, good.output
    assert f"{HERE / 'valid' / 'minimal.yaml'}: OK" in good.output
    bad = CliRunner().invoke(cli, ["check-config", "--config", str(HERE / "invalid" / "unknown_key.yaml")])
    assert bad.exit_code == 2 and "unknown key" in bad.output


@pytest.mark.parametrize("make, expected", [
    (lambda p: p.mkdir(), "is a directory"),
    (lambda p: p.write_text("", encoding="utf-8"), "holds no settings"),
    (lambda p: p.write_text("watch: " + "[" * 20000 + "]" * 20000, encoding="utf-8"), "nested more than"),
    (lambda p: p.write_bytes(b"http: {max_bytes: " + b"7" * 5000 + b"}"), "a number of 5000 digits"),
], ids=["directory", "empty", "deep", "huge-int"])
def test_check_config_refuses_odd_files_with_a_message_not_a_traceback(tmp_path, make, expected):
    from click.testing import CliRunner

    from repwatch.cli import cli

    path = tmp_path / "s.yaml"
    make(path)
    result = CliRunner().invoke(cli, ["check-config", "-c", str(path)])
    assert result.exit_code == 2, result.output
    assert expected in result.output and "Traceback" not in result.output
    assert result.exception is None or isinstance(result.exception, SystemExit)


def test_a_token_from_env_in_a_feed_url_is_masked_in_the_run_error(tmp_path, monkeypatch, http_server):
    # `repwatch run --due` from cron mails its output: a failing feed's error quotes the URL
    from click.testing import CliRunner

    from repwatch.cli import cli

    monkeypatch.setenv("REPWATCH_TEST_FEED_TOKEN", "tok-5ecret-99")
    path = tmp_path / "s.yaml"
    path.write_text("sources:\n  - {name: news, kind: feed, url: '" + http_server.url("/missing.xml")
                    + "?token=${REPWATCH_TEST_FEED_TOKEN}'}\n", encoding="utf-8")
    db = f"sqlite:///{tmp_path / 'r.db'}"
    result = CliRunner().invoke(cli, ["collect", "news", "-c", str(path), "--database", db])
    assert result.exit_code == 1 and "HTTP 404" in result.output and "token=***" in result.output
    assert "tok-5ecret-99" not in result.output
    import sqlite3
    with sqlite3.connect(tmp_path / "r.db") as conn:
        stored = conn.execute("SELECT error FROM collection_run").fetchone()[0]
    assert "HTTP 404" in stored and "tok-5ecret-99" not in stored


def test_pydantic_wording_is_translated_into_plain_words(tmp_path):
    path = tmp_path / "s.yaml"
    path.write_text("sources:\n  - {name: news, kind: feed, url: feed.xml}\nhttp: {max_redirects: lots"
                    "}\nweb: {cookie_secure: maybe}\nwatch: {name: acme}\n", encoding="utf-8")
    with pytest.raises(ConfigError) as err:
        load_config(path)
    message = str(err.value)
    for raw in ("relative URL without a base", "Input should be", "unable to parse"):
        assert raw not in message
    assert err.value.problems == [
        "line 2: sources[0].url: not a full web address; write it with its scheme and host, "
        "e.g. https://example.com/feed.xml",
        "line 3: http.max_redirects: expected a whole number; got text",
        "line 4: web.cookie_secure: expected true or false; got text",
        "line 5: watch: expected a list (lines starting with '- ', or [a, b]); got a section of settings",
    ]


def test_check_config_warns_of_a_missing_import_folder_and_no_notifiers(tmp_path, monkeypatch):
    from click.testing import CliRunner

    from repwatch.cli import cli

    monkeypatch.chdir(tmp_path)
    path = tmp_path / "s.yaml"
    path.write_text("sources:\n  - name: hotline\n    kind: import\n    path: exports/hotline\n"
                    "    columns: {text: 内容}\n", encoding="utf-8")
    result = CliRunner().invoke(cli, ["check-config", "-c", str(path)])
    assert result.exit_code == 0, result.output
    assert "OK with 2 warnings" in result.output
    assert "warning: line 4: sources[0].path: import folder 'exports/hotline' does not exist" in result.output
    assert "warning: notify: no notifiers are configured" in result.output
    strict = CliRunner().invoke(cli, ["check-config", "--strict", "-c", str(path)])
    assert strict.exit_code == 1
    (tmp_path / "exports" / "hotline").mkdir(parents=True)
    again = CliRunner().invoke(cli, ["check-config", "-c", str(path)])
    assert "import folder" not in again.output and "OK with 1 warning\n" in again.output
