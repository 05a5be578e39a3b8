"""The CLI's tables line up with Chinese text (measured in terminal cells with wcwidth, independently of
rich, which draws them), fit a terminal's width, and leave machine output alone; progress bars appear only
when a person watches (stdout and stderr are terminals)."""
from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from datetime import datetime, timedelta, timezone

import pytest
import yaml
from click.testing import CliRunner
from wcwidth import wcswidth

from repwatch.cli import cli
from repwatch.cli.tables import Col, render
from repwatch.clock import FrozenClock
from storage.models import Analysis, Incident, IncidentMention, Mention, Source, Ticket

NOW = datetime(2026, 12, 1, 5, 0, tzinfo=timezone.utc)   # 13:00 in Beijing
H = timedelta(hours=1)
# (title, severity, category, department, assignee, source, author)
ROWS = [
    ("送餐速度太慢了,用了快2个小时才送到。每次都这样，没法用", "urgent", "delivery", "物流部", "欧阳娜娜", "waimai-reviews", "张三"),
    ("late delivery again", "important", "delivery", "物流部", None, "weibo", "bob"),
    ("假货！！假货！！京东现在自营也开始卖假货了", "urgent", "product", "品控部", "李雷", "shopping", "王五"),
    ("退款一直没处理", "general", "after_sales", "客服中心", "Wang Fang", "waimai-reviews", "张三"),
]
CELL = re.compile(r"\S+(?: \S+)*")   # a cell: words with single spaces; cells are two or more spaces apart


def cells(line: str) -> list[tuple[int, int, str]]:
    """(first cell, cell after the last, text) of each cell, in terminal cells as wcwidth counts them."""
    out = []
    for m in CELL.finditer(line):
        start = wcswidth(line[:m.start()])
        out.append((start, start + wcswidth(m.group()), m.group()))
    return out


def assert_aligned(text: str, right: set[str] = frozenset()) -> list[list[str]]:
    """Every row has one cell per header column, left-aligned columns start where their header starts and
    right-aligned ones end where it ends. Returns the rows' cell texts."""
    lines = [ln for ln in text.splitlines() if ln.strip()]
    header = cells(lines[0])
    rows = []
    for line in lines[1:]:
        row = cells(line)
        assert len(row) == len(header), f"{line!r} does not have the header's {len(header)} columns"
        for (h0, h1, name), (c0, c1, value) in zip(header, row):
            if name in right:
                assert c1 == h1, f"{value!r} ends at cell {c1}, its column {name!r} at {h1}:\n{text}"
            else:
                assert c0 == h0, f"{value!r} starts at cell {c0}, its column {name!r} at {h0}:\n{text}"
        rows.append([v for _, _, v in row])
    return rows


@pytest.fixture
def seeded(db, database_url, monkeypatch):
    """Tickets, incidents and sources with Chinese titles, owners, departments and source names."""
    with db.session() as s:
        sources = {}
        for name in dict.fromkeys(r[5] for r in ROWS):
            sources[name] = Source(name=name, kind="feed", state={}, error_counts={"http": 2} if name == "weibo" else {},
                                   health="ok", last_run_at=NOW - H, last_success_at=NOW - H,
                                   last_error="第3行：缺少字段 text" if name == "waimai-reviews" else None)
        s.add_all(sources.values())
        s.flush()
        for i, (title, sev, cat, dept, who, src, author) in enumerate(ROWS):
            inc = Incident(key=f"k{i}", target="快送外卖", category=cat, title=title, label=title[:8], severity=sev,
                           signals=[], first_seen=NOW - 5 * H, last_seen=NOW - H, mention_count=i + 1, reach=10,
                           status="open")
            s.add(inc)
            s.flush()
            m = Mention(source_id=sources[src].id, external_id=f"m{i}", content_hash=f"h{i}", text=title, raw={},
                        author=author, published_at=NOW - 2 * H, collected_at=NOW - 2 * H)
            s.add(m)
            s.flush()
            s.add(IncidentMention(incident_id=inc.id, mention_id=m.id))
            s.add(Analysis(mention_id=m.id, sentiment=0.1, negative=True, complaint=True, categories=[cat],
                           severity=sev, signals=[], targets=["快送外卖"], model_version="test"))
            s.add(Ticket(incident_id=inc.id, open_incident_id=inc.id, state="new" if who is None else "assigned",
                         severity=sev, priority={"urgent": 1, "important": 2, "general": 3}[sev], category=cat,
                         title=title, department=dept, assignee=who, opened_at=NOW - 3 * H, updated_at=NOW,
                         first_response_due=NOW + (i + 1) * H, resolution_due=NOW + 24 * H, external_refs={}))
    monkeypatch.setattr("repwatch.cli.app.Context.clock", lambda self: FrozenClock(NOW))
    return ["-c", "/nonexistent/schedules.yaml", "--database", database_url]


def run(*args) -> str:
    result = CliRunner().invoke(cli, list(args), catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return result.stdout


def test_tickets_table_aligns_chinese_owners_and_titles_and_shows_the_team_time(seeded):
    rows = assert_aligned(run(*seeded, "tickets"), right={"ID"})
    by_id = {r[0]: r for r in rows}
    assert by_id["1"][4] == "欧阳娜娜" and by_id["1"][5] == "respond by 12-01 14:00 CST"   # 06:00 UTC
    assert by_id["3"][6].startswith("假货！！假货！！")
    assert {r[4] for r in rows} == {"欧阳娜娜", "物流部", "李雷", "Wang Fang"}


def test_incidents_and_sources_tables_align(seeded, tmp_path):
    rows = assert_aligned(run(*seeded, "incidents"), right={"ID", "POSTS", "AUTHORS"})
    assert rows[0][0] == "#4" and rows[0][-1] == "退款一直没处理" and rows[0][7] == "12-01 12:00 CST"
    config = tmp_path / "schedules.yaml"
    config.write_text(yaml.safe_dump({"timezone": "Asia/Shanghai", "sources": [
        {"name": "waimai-reviews", "kind": "feed", "url": "http://127.0.0.1:9/a.xml"},
        {"name": "hotline", "kind": "feed", "url": "http://127.0.0.1:9/b.xml"}]}, allow_unicode=True), encoding="utf-8")
    out = run("-c", str(config), *seeded[2:], "sources")
    rows = assert_aligned(out.split("\n\n")[0], right={"fails", "typical"})
    by_name = {r[0]: r for r in rows}
    assert set(by_name) == {"waimai-reviews", "hotline", "weibo (not in config)", "shopping (not in config)"}
    assert by_name["waimai-reviews"][4] == "12-01 12:00 CST"                  # last success, in the team's time
    assert by_name["hotline"][2:5] == ["unknown", "never", "never"]
    assert by_name["waimai-reviews"][-1] == "第3行：缺少字段 text" and by_name["weibo (not in config)"][6] == "http×2"


def test_report_tables_align(seeded, tmp_path):
    config = tmp_path / "schedules.yaml"
    config.write_text(yaml.safe_dump({"watch": [{"name": "快送外卖"}, {"name": "优选商城", "kind": "competitor"}]},
                                     allow_unicode=True), encoding="utf-8")
    out = run("-c", str(config), *seeded[2:], "report", "--since", "2026-11-25", "--until", "2026-12-01")
    assert "generated 2026-12-01 13:00 CST" in out
    sections = [block for block in out.split("\n## ")[1:]]
    checked = 0
    for block in sections:
        title, _, table = block.partition("\n")
        if not table.strip() or table.strip().startswith("("):
            continue
        first = cells(table.splitlines()[0])
        assert_aligned(table, right={name for _, _, name in first[1:]})   # figures are right-aligned
        checked += 1
    assert checked == 8, out
    assert "物流部" in out and "waimai-reviews" in out and "张三" in out and "快送外卖" in out


def test_machine_output_is_unchanged_json_lines(seeded):
    lines = run(*seeded, "tickets", "--json").splitlines()
    rows = [json.loads(line) for line in lines]
    assert [r["id"] for r in rows] == [1, 3, 2, 4]
    assert rows[0]["first_response_due"] == "2026-12-01T14:00:00+08:00"
    for line in run(*seeded, "incidents", "--json").splitlines():
        assert json.loads(line)["last_seen"] == "2026-12-01T12:00:00+08:00"
    csv_out = run(*seeded, "report", "--since", "2026-11-25", "--until", "2026-12-01", "--format", "csv")
    assert csv_out.splitlines()[0].startswith("by,key,label_zh,") and "\x1b" not in csv_out


def test_on_a_terminal_long_text_columns_shrink_to_fit_and_stay_aligned():
    cols = [Col("ID", "right"), Col("OWNER", max_width=16), Col("SLA"), Col("TITLE", flexible=True, max_width=60)]
    rows = [[r_id, who or "-", "respond by 12-01 14:00 CST", title] for r_id, (title, _, _, _, who, _, _) in
            enumerate(ROWS, 1)]
    text = render(cols, rows, terminal=True, terminal_width=70)
    plain = re.sub(r"\x1b\[[0-9;]*m", "", text)                         # the header is bold on a terminal
    assert all(wcswidth(line) <= 70 for line in plain.splitlines())
    got = assert_aligned(plain, right={"ID"})
    assert got[0][3].endswith("…") and "\x1b[1m" in text
    # off a terminal: natural width, no colour, the same columns
    wide = render(cols, rows, terminal=False)
    assert "\x1b" not in wide and "送餐速度太慢了,用了快2个小时才送到。每次都这样，没法用" in wide


def test_a_cell_is_text_never_markup_or_a_control_sequence():
    text = render([Col("A"), Col("B")], [["[bold red]x[/]", "y\x1b[31m\tz\nw"]], terminal=True, terminal_width=80)
    assert "[bold red]x[/]" in text and "\x1b[31m" not in text and "y[31m z w" in text


def _in_a_terminal(args: list[str], cwd) -> tuple[int, str]:
    """Run `repwatch ARGS` with stdout and stderr on a pseudo-terminal; returns its exit code and output."""
    import pty

    master, slave = pty.openpty()
    env = {**os.environ, "COLUMNS": "100", "TERM": "xterm"}
    proc = subprocess.Popen([sys.executable, "-m", "repwatch", *args], stdin=subprocess.DEVNULL, stdout=slave,
                            stderr=slave, cwd=cwd, env=env, close_fds=True)
    os.close(slave)
    out = b""
    while True:
        try:
            data = os.read(master, 65536)
        except OSError:   # the child closed the terminal
            break
        if not data:
            break
        out += data
    os.close(master)
    return proc.wait(timeout=300), out.decode("utf-8", "replace")


@pytest.mark.slow
def test_analyze_shows_a_progress_bar_only_to_a_person(tmp_path):
    src = tmp_path / "in.jsonl"
    src.write_text("".join(json.dumps({"id": i, "text": f"送餐太慢了，等了两个小时 {i}"}, ensure_ascii=False) + "\n"
                           for i in range(300)), encoding="utf-8")
    code, shown = _in_a_terminal(["analyze", str(src), "-o", str(tmp_path / "out.jsonl"), "--workers", "1",
                                  "--batch", "100"], tmp_path)
    assert code == 0 and "scoring" in shown and "100%" in shown
    assert len((tmp_path / "out.jsonl").read_text(encoding="utf-8").splitlines()) == 300
    piped = subprocess.run([sys.executable, "-m", "repwatch", "analyze", str(src), "-o", str(tmp_path / "o2.jsonl"),
                            "--workers", "1"], capture_output=True, text=True, timeout=300)
    assert piped.returncode == 0 and piped.stderr == "" and piped.stdout == ""
    # JSONL to stdout: never a bar, even on a terminal
    code, shown = _in_a_terminal(["analyze", str(src), "--workers", "1"], tmp_path)
    assert code == 0 and "scoring" not in shown and shown.count('"lang"') == 300
