"""The `repwatch` command as an operator runs it: real files, real servers. A few smoke tests run the real
subprocess (entry point, exit codes, stderr); the rest go through click's CliRunner in-process, which tests the
same commands without paying the interpreter and model start-up for every call."""
from __future__ import annotations

import json
import re
import subprocess
import sys
from dataclasses import dataclass

import pytest
import yaml


def repwatch(*args, cwd=None, env=None, input=None, timeout=120):
    return subprocess.run([sys.executable, "-m", "repwatch", *args], capture_output=True, text=True, cwd=cwd,
                          env=env, input=input, timeout=timeout)


@dataclass
class Ran:
    returncode: int
    stdout: str
    stderr: str


def invoke(*args, input=None) -> Ran:
    """The same command in-process (click's CliRunner): exit code, stdout and stderr kept apart."""
    from click.testing import CliRunner

    from repwatch.cli import cli

    result = CliRunner().invoke(cli, list(args), input=input, prog_name="repwatch")
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        raise result.exception
    return Ran(result.exit_code, result.stdout, result.stderr)


@pytest.fixture
def workdir(tmp_path, monkeypatch):
    monkeypatch.delenv("REPWATCH_DATABASE_URL", raising=False)
    monkeypatch.delenv("REPWATCH_CONFIG", raising=False)
    return tmp_path


def write_config(path, data) -> str:
    path.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    return str(path)


def test_help_lists_every_command():
    out = repwatch("--help").stdout
    for command in ("run", "collect", "analyze", "tickets", "ticket", "check-config", "db", "demo"):
        assert f"  {command} " in out or f"  {command}\n" in out


def test_check_config_ok_and_invalid(workdir):
    good = write_config(workdir / "ok.yaml", {"sources": []})
    assert repwatch("-c", good, "check-config").returncode == 0
    bad = write_config(workdir / "bad.yaml", {"sources": [{"name": "x", "kind": "feed", "url": "nope"}]})
    result = repwatch("-c", bad, "check-config")
    assert result.returncode == 2
    assert f"{bad}: invalid configuration" in result.stderr and "sources[0].url" in result.stderr
    assert "Traceback" not in result.stderr


@pytest.mark.one_backend   # the real process's exit codes are the subject; what `run` stores is tested on both below
def test_run_exit_codes_config_database_and_source_failure(workdir, database_url, http_server):
    bad = write_config(workdir / "bad.yaml", {"bogus": True})
    assert repwatch("-c", bad, "--database", database_url, "run").returncode == 2

    cfg = write_config(workdir / "s.yaml", {"sources": [{"name": "down", "kind": "feed",
                                                         "url": http_server.url("/missing.xml")}]})
    result = repwatch("-c", cfg, "--database", database_url, "run")
    assert result.returncode == 0, result.stderr
    assert "down: failed" in result.stderr and "HTTP 404" in result.stderr
    assert "1 failed" in result.stdout

    unreachable = "postgresql+psycopg://nobody@127.0.0.1:1/none"
    result = repwatch("-c", cfg, "--database", unreachable, "run")
    assert result.returncode == 3 and "database error" in result.stderr and "Traceback" not in result.stderr


def test_run_then_tickets_then_move_through_the_process(workdir, database_url, http_server):
    from repwatch.loopback import Response

    body = ('<?xml version="1.0" encoding="utf-8"?><rss version="2.0"><channel><title>t</title><link>http://e/</link>'
            "<description>d</description><item><guid>a1</guid><description>快送外卖吃完全家食物中毒住院，"
            "我要找记者曝光</description></item></channel></rss>").encode()
    http_server.routes["/f.xml"] = Response(body, etag=True)
    cfg = write_config(workdir / "s.yaml", {"watch": [{"name": "快送外卖"}],
                                            "sources": [{"name": "f", "kind": "feed", "url": http_server.url("/f.xml")}]})
    base = ("-c", cfg, "--database", database_url)
    assert invoke(*base, "run").returncode == 0
    listed = invoke(*base, "tickets", "--json")
    rows = [json.loads(line) for line in listed.stdout.splitlines()]
    assert [(r["severity"], r["state"]) for r in rows] == [("urgent", "new")]
    ticket = str(rows[0]["id"])
    illegal = invoke(*base, "ticket", "move", ticket, "resolved")
    assert illegal.returncode == 1 and "cannot move to 'resolved'" in illegal.stderr
    # the assignee must exist: an unknown name is refused with the names there are
    unknown = invoke(*base, "ticket", "assign", ticket, "--to", "王芳")
    assert unknown.returncode == 1 and "no user named '王芳'" in unknown.stderr and "nobody yet" in unknown.stderr
    assert invoke(*base, "user", "add", "王芳", "--role", "agent").returncode == 0
    assert invoke(*base, "user", "add", "李雷", "--role", "agent").returncode == 0
    typo = invoke(*base, "ticket", "assign", ticket, "--to", "王方")
    assert typo.returncode == 1 and "assign to one of: 李雷, 王芳" in typo.stderr
    assert invoke(*base, "ticket", "assign", ticket, "--to", "王芳").returncode == 0
    assert invoke(*base, "ticket", "move", ticket, "investigating", "--note", "called the customer").returncode == 0
    shown = invoke(*base, "ticket", "show", ticket).stdout
    assert "investigating" in shown and "called the customer" in shown and "食物中毒" in shown
    # each post of the evidence with what the models said: calibrated score, categories with their confidence
    assert re.search(r"\n      complaint (0\.\d\d|1\.00); categories \w+ (0\.\d\d|1\.00).*; severity urgent;", shown), shown
    # the table pads by display width: a Chinese owner takes two cells a character, the columns line up
    from wcwidth import wcswidth

    header, row = invoke(*base, "tickets").stdout.splitlines()[:2]
    before, after = row.split("王芳", 1)
    sla_at = wcswidth(before + "王芳") + len(after) - len(after.lstrip(" "))
    assert wcswidth(before) == header.index("OWNER") and sla_at == header.index("SLA")
    # a second run changes nothing
    assert invoke(*base, "run").returncode == 0
    assert len(invoke(*base, "tickets", "--json", "--state", "open").stdout.splitlines()) == 1


def test_analyze_contract_keys_order_and_ids(workdir):
    lines = [{"id": 7, "text": "外卖送餐员态度恶劣，再也不点了"}, {"text": ""}, {"id": "x", "text": "东西很好"}]
    result = invoke("analyze", input="\n".join(json.dumps(x, ensure_ascii=False) for x in lines) + "\n")
    assert result.returncode == 0, result.stderr
    rows = [json.loads(line) for line in result.stdout.splitlines()]
    assert [r["id"] for r in rows] == [7, None, "x"]
    for r in rows:
        assert list(r) == ["id", "lang", "sentiment", "negative", "complaint", "categories", "severity", "signals",
                               "complaint_score", "confidence"]
        assert 0.0 <= r["sentiment"] <= 1.0 and r["severity"] in ("none", "general", "important", "urgent")
    assert rows[0]["negative"] is True


def test_analyze_rejects_bad_json_with_the_line_number(workdir):
    result = invoke("analyze", input='{"text": "ok"}\nnot json\n')
    assert result.returncode != 0 and "line 2" in result.stderr


def test_db_upgrade_on_a_new_sqlite_file(workdir):
    result = invoke("--database", f"sqlite:///{workdir / 'x.db'}", "db", "upgrade")
    assert result.returncode == 0 and "revision head" in result.stdout
    assert (workdir / "x.db").exists()
