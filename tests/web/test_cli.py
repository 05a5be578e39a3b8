"""`repwatch serve` (first admin, password printed once), `repwatch user ...`, `repwatch token ...`."""
from __future__ import annotations

import os
import re
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest
from click.testing import CliRunner
from sqlalchemy import select

from repwatch.cli import cli
from repwatch.loopback import free_port
from storage.models import ApiToken, User

REPWATCH = [sys.executable, "-c", "from repwatch.cli import main; main()"]


def _serve(database_url: str, port: int, cwd: Path) -> tuple[subprocess.Popen, list[str]]:
    env = {**os.environ, "REPWATCH_SECRET_KEY": "s" * 40}
    env.pop("REPWATCH_CONFIG", None)
    proc = subprocess.Popen(REPWATCH + ["--database", database_url, "-c", str(cwd / "none.yaml"), "serve",
                                        "--port", str(port)], stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
                            text=True, cwd=cwd, env=env)
    lines = []
    while True:  # the banner comes before uvicorn starts; EOF (a crash) ends the loop too
        line = proc.stdout.readline()
        lines.append(line)
        if not line or line.startswith("repwatch dashboard on"):
            return proc, lines


def _wait_ready(url: str) -> None:
    for _ in range(200):  # bounded: ~20 s
        try:
            httpx.get(url + "/login", timeout=1)
            return
        except httpx.TransportError:
            time.sleep(0.1)
    raise AssertionError("server did not come up")


@pytest.mark.one_backend   # the real process and its banner are the subject; creating users is tested on both below
def test_serve_creates_the_first_admin_once(database_url, tmp_path):
    port = free_port()
    proc, lines = _serve(database_url, port, tmp_path)
    try:
        banner = "".join(lines)
        match = re.search(r"created the first admin user 'admin' with password: (\S+)", banner)
        assert match, banner
        _wait_ready(f"http://127.0.0.1:{port}")
        with httpx.Client(base_url=f"http://127.0.0.1:{port}", follow_redirects=True) as c:
            token = re.search(r'name="csrf_token" value="([^"]+)"', c.get("/login").text).group(1)
            r = c.post("/login", data={"username": "admin", "password": match.group(1), "csrf_token": token})
            assert r.status_code == 200 and 'href="/admin/users"' in r.text   # the queue, with the admin menu
    finally:
        proc.terminate()
        proc.wait(timeout=20)
        proc.stdout.close()
    proc, lines = _serve(database_url, free_port(), tmp_path)
    proc.terminate()
    proc.wait(timeout=20)
    proc.stdout.close()
    assert "password" not in "".join(lines)            # printed once, never again


def test_user_and_token_commands(db, database_url, tmp_path):
    runner = CliRunner()
    base = ["--database", database_url, "-c", str(tmp_path / "none.yaml")]
    r = runner.invoke(cli, base + ["user", "add", "王芳", "--role", "agent"])
    assert r.exit_code == 0, r.output
    password = re.search(r"with password: (\S+)", r.output).group(1)
    assert runner.invoke(cli, base + ["user", "add", "王芳", "--role", "agent"]).exit_code != 0  # exists
    r = runner.invoke(cli, base + ["user", "add", "li", "--role", "viewer", "--password-stdin"], input="short\n")
    assert r.exit_code != 0 and "at least 10" in r.output
    r = runner.invoke(cli, base + ["user", "set", "王芳", "--role", "admin", "--disable"])
    assert r.exit_code == 0 and "admin, disabled" in r.output
    r = runner.invoke(cli, base + ["token", "create", "--user", "王芳", "--name", "jira-sync"])
    assert r.exit_code == 0, r.output
    token = r.output.strip().splitlines()[-1]
    assert token.startswith("rw_")
    listed = runner.invoke(cli, base + ["token", "list"]).output
    assert "jira-sync" in listed and token not in listed
    with db.session() as s:
        user = s.scalar(select(User).where(User.name == "王芳"))
        assert (user.role, user.disabled) == ("admin", True)
        assert password not in user.password_hash and user.password_hash.startswith("$argon2")
        token_id = s.scalar(select(ApiToken.id))
    assert runner.invoke(cli, base + ["token", "revoke", str(token_id)]).exit_code == 0
    with db.session() as s:
        assert s.scalar(select(ApiToken.id)) is None
    assert "王芳" in runner.invoke(cli, base + ["user", "list"]).output
