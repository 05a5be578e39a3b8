"""`repwatch analyze`: the output contract from the walking-skeleton issue, and garbage in, a row out."""
from __future__ import annotations

import json
import math

from click.testing import CliRunner

from repwatch.cli import cli
from sentiment import TextIn

KEYS = ["id", "lang", "sentiment", "negative", "complaint", "categories", "severity", "signals", "complaint_score",
        "confidence"]   # issue 15 added the last two
SEVERITIES = {"none", "general", "important", "urgent"}
CATEGORIES = {"product", "service", "price", "delivery", "after_sales", "communication", "promise"}


def run_analyze(lines: list[str], *args: str):
    result = CliRunner().invoke(cli, ["analyze", *args], input="".join(line + "\n" for line in lines))
    return result


def test_exact_keys_order_preserved_ids_echoed():
    rows = [{"id": 7, "text": "快递又丢件了，等了一个星期还没到，客服也联系不上"},
            {"id": "b", "text": "味道不错，下次还来", "rating": 5},
            {"text": "The battery died after two days, want a refund", "lang": "en"},
            {"id": None, "text": "Produkt ist gut", "title": "Bewertung"}]
    result = run_analyze([json.dumps(r, ensure_ascii=False) for r in rows])
    assert result.exit_code == 0, result.output
    out = [json.loads(line) for line in result.output.splitlines()]
    assert len(out) == len(rows)
    assert [list(o) for o in out] == [KEYS] * len(rows)
    assert [o["id"] for o in out] == [7, "b", None, None]
    assert out[0]["complaint"] is True and out[0]["negative"] is True and "delivery" in out[0]["categories"]
    assert out[1]["complaint"] is False and out[1]["negative"] is False
    assert out[2]["lang"] == "en" and out[2]["complaint"] is True
    for o in out:
        assert 0.0 <= o["sentiment"] <= 1.0 and o["severity"] in SEVERITIES and set(o["categories"]) <= CATEGORIES


def test_a_line_that_is_not_json_is_a_clear_error():
    result = run_analyze(['{"text": "好"}', "not json"])
    assert result.exit_code != 0
    assert "line 2" in result.output


def test_workers_option_gives_the_same_rows():
    lines = [json.dumps({"id": i, "text": t}, ensure_ascii=False)
             for i, t in enumerate(["送餐太慢了，饭都凉了", "很好吃", "", "😡"] * 3)]
    one = run_analyze(lines, "--workers", "1")
    assert one.exit_code == 0
    assert len(one.output.splitlines()) == 12


GARBAGE = {
    "empty": "",
    "spaces": "   \n\t ",
    "huge": "质量太差了，" * 20_000,                           # 120k characters
    "binary": bytes(range(256)).decode("latin-1") + "\x00\ud800\udfff",
    "emoji": "😡😡😡🤬",
    "emoticons only": "[怒][怒][泪]",
    "punctuation": "？？？！！！……",
    "digits": "1234567890",
    "url only": "https://example.com/a?b=c",
    "control": "\x00\x01\x02\x1b[31m",
    "arabic": "المنتج سيء جدا",
    "thai": "สินค้าไม่ดี",
    "private use": "\ue000\ue001",
}


def test_garbage_returns_a_row_each(analyzer):
    items = [TextIn(text=t, id=name) for name, t in GARBAGE.items()]
    items.append(TextIn(text=None, title=None))                       # type: ignore[arg-type]
    items.append(TextIn(text=b"\xff\xfe raw bytes", rating=float("nan"), followers=-3))  # type: ignore[arg-type]
    results = analyzer.score(items)
    assert len(results) == len(items)
    for item, r in zip(items, results):
        row = r.contract(item.id)
        assert list(row) == KEYS
        assert math.isfinite(row["sentiment"]) and 0 <= row["sentiment"] <= 1
        json.dumps(row)   # serialisable as the CLI writes it
    by_name = {item.id: r for item, r in zip(items, results)}
    assert by_name["empty"].lang == "und" and by_name["empty"].sentiment == 0.5
    assert by_name["emoji"].negative is True            # angry emoji count even with no words
    assert by_name["arabic"].lang == "ar" and by_name["arabic"].sentiment == 0.5
    assert by_name["huge"].complaint is True and by_name["huge"].lang == "zh"


def test_garbage_through_the_cli():
    lines = [json.dumps({"id": name, "text": t}) for name, t in GARBAGE.items() if name != "binary"]
    result = run_analyze(lines)
    assert result.exit_code == 0, result.output
    assert [json.loads(x)["id"] for x in result.output.splitlines()] == [n for n in GARBAGE if n != "binary"]
