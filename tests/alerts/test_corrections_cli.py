"""Corrections through the real CLI (click's CliRunner): `repwatch ticket correct`, `mention correct`,
`corrections list|export`, and `repwatch train` taking the corrections in (with the configured weight)
and reporting precision on them."""
from __future__ import annotations

import json

from storage.context import RunContext
import pytest
import yaml
from click.testing import CliRunner
from sqlalchemy import select

from alerts.stage import evaluate
from repwatch.cli import cli
from storage.models import Correction, Ticket
from tests.alerts.conftest import T0
from tests.alerts.test_corrections import ROUTED, TEXT, _fixture

ROUTING = {"product": {"department": "品控部", "assignee": "李工"}, "delivery": {"department": "物流部"}}


@pytest.fixture
def config(tmp_path):
    path = tmp_path / "schedules.yaml"
    path.write_text(yaml.safe_dump({"sources": [], "alerts": {"routing": ROUTING},
                                    "training": {"corrections_weight": 4.0}}, allow_unicode=True), encoding="utf-8")
    return str(path)


@pytest.fixture
def run(config, database_url, monkeypatch):
    monkeypatch.delenv("REPWATCH_DATABASE_URL", raising=False)

    def invoke(*args):
        return CliRunner().invoke(cli, ["-c", config, "--database", database_url, *args], catch_exceptions=False)

    return invoke


@pytest.fixture
def ticket_id(db, seed) -> int:
    for i, text in enumerate((TEXT, TEXT + "！")):
        seed.mention(text, at=T0, categories=("product",))
    with db.session() as s:
        evaluate(s, ROUTED, RunContext(T0))
        return s.scalar(select(Ticket.id))


def test_ticket_correct_reroutes_and_shows_in_the_audit_trail(run, db, ticket_id):
    result = run("ticket", "correct", str(ticket_id), "--category", "delivery", "--severity", "urgent",
                 "--reason", "送餐问题")
    assert result.exit_code == 0, result.output
    assert "2 posts labelled" in result.output and "department 物流部" in result.output
    with db.session() as s:
        t = s.get(Ticket, ticket_id)
        assert (t.category, t.department, t.assignee, t.severity) == ("delivery", "物流部", None, "urgent")
        assert {c.actor.split(":")[0] for c in s.scalars(select(Correction))} == {"cli"}
    assert str(ticket_id) in run("tickets", "--department", "物流部").output
    shown = run("ticket", "show", str(ticket_id)).output
    assert ("correction (complaint; categories delivery; severity urgent; department 品控部 → 物流部; "
            "assignee 李工 → -)") in shown
    assert "送餐问题" in shown

    result = run("ticket", "correct", str(ticket_id), "--not-complaint", "--reason", "误报")
    assert result.exit_code == 0 and "closed" in result.output
    assert "not a complaint" in run("ticket", "show", str(ticket_id)).output
    refused = run("ticket", "correct", str(ticket_id), "--not-complaint", "--severity", "general")
    assert refused.exit_code == 1 and "no category or severity" in refused.output
    assert run("ticket", "correct", "999", "--complaint").exit_code == 1


def test_mention_correct_and_list(run, db, ticket_id):
    result = run("mention", "correct", "1", "--not-complaint", "--reason", "广告")
    assert result.exit_code == 0 and f"mention #1 labelled: not a complaint (ticket #{ticket_id})" in result.output
    listed = [json.loads(line) for line in run("corrections", "list", "--json").stdout.splitlines()]
    assert [(c["mention_id"], c["complaint"], c["reason"], c["predicted"]["categories"]) for c in listed] == [
        (1, False, "广告", ["product"])]
    assert "model said complaint product important; now not a complaint - 广告" in run("corrections", "list").output
    with db.session() as s:
        assert s.get(Ticket, ticket_id).state == "new"


def test_export_uses_the_configured_weight(run, db, seed):
    _fixture(db, seed)
    rows = [json.loads(line) for line in run("corrections", "export").stdout.splitlines()]
    assert rows[0] == {"text": "汉堡送错了", "complaint": 1, "categories": ["delivery"], "severity": "important",
                       "weight": 4.0}
    assert len(rows) == 5 and {r["weight"] for r in rows} == {4.0}
    assert {r["weight"] for r in map(json.loads, run("corrections", "export", "--weight", "1.5").stdout.splitlines())
            } == {1.5}


def test_train_report_shows_the_hand_computed_precision(run, db, seed):
    _fixture(db, seed)
    figures = json.loads(run("train", "--report", "--json").stdout)
    assert figures["mentions"] == 5
    assert {r["label"]: r["precision"] for r in figures["complaint"]} == {"yes": 0.75, "no": 0.0}
    cats = {r["label"]: r["precision"] for r in figures["categories"]}
    assert (cats["product"], cats["delivery"], cats["service"], cats["price"]) == (0.0, 1.0, 1.0, None)
    assert {r["label"]: r["precision"] for r in figures["severity"]} == {"important": 1.0, "general": 0.0,
                                                                         "urgent": None}
    text = run("train", "--report").output
    assert "5 corrected posts" in text
    assert [line.split() for line in text.splitlines() if line.strip().startswith(("yes", "delivery"))] == [
        ["yes", "4", "3", "0.75", "1"], ["delivery", "2", "2", "1.00", "1"]]


def test_train_passes_the_corrections_in_with_their_weight(run, db, seed, tmp_path, monkeypatch):
    """The real training run on a tiny corpus: the corrected complaints join the training texts."""
    from sentiment import zh_model
    from tests.sentiment.test_models import _write_corpora

    _fixture(db, seed)
    data = tmp_path / "data"
    data.mkdir()
    _write_corpora(data)
    import sentiment.train as train_module

    seen = {}
    real_build = train_module.build

    def spy(*args, **kwargs):
        seen["extra"] = kwargs.get("extra")
        return real_build(*args, **kwargs)

    monkeypatch.setattr(train_module, "build", spy)
    with_corrections = run("train", "--data", str(data), "--out", str(tmp_path / "a"))
    assert with_corrections.exit_code == 0, with_corrections.output
    assert "corrections: 5 labelled posts, weight 4" in with_corrections.output
    assert [(e.text, e.complaint, e.weight) for e in seen["extra"]][:2] == [("汉堡送错了", 1, 4.0),
                                                                           ("送餐慢，客服态度差", 1, 4.0)]
    without = run("train", "--data", str(data), "--out", str(tmp_path / "b"), "--corrections-weight", "0")
    assert "corrections: 0 labelled posts" in without.output and seen["extra"] == []
    a = zh_model.load(tmp_path / "a" / zh_model.ARTIFACT).meta
    b = zh_model.load(tmp_path / "b" / zh_model.ARTIFACT).meta
    assert "corrections" in a["trained_on"] and "corrections" not in b["trained_on"]
    # the four corrected complaints (not the non-complaint) were added to the training split
    assert a["train_texts"] == b["train_texts"] + 4


def test_correction_examples_become_weighted_negatives_for_the_polarity_models():
    from sentiment.train import correction_examples

    zh, en = correction_examples([("送餐太慢了", 1, ["delivery"], "general", 3.0),
                                  ("12315公布年度数据", 0, [], None, 3.0),
                                  ("The delivery was two hours late and cold", 1, ["delivery"], None, 2.0),
                                  ("没用的", 1, [], None, 0.0)])
    assert [(e.text, e.label, e.corpus, e.split, e.weight) for e in zh] == [("送餐太慢了", 0, "corrections", "train", 3.0)]
    assert [(e.text, e.label, e.weight) for e in en] == [("The delivery was two hours late and cold", 0, 2.0)]


def test_mention_correct_raises_a_missed_complaint_with_the_configured_routing(run, db, seed):
    missed = seed.mention("外卖三天都没送到，客服电话打不通", at=T0, severity="none")
    result = run("mention", "correct", str(missed), "--category", "delivery")
    assert result.exit_code == 0, result.output
    with db.session() as s:
        t = s.scalar(select(Ticket))
        assert (t.category, t.department, t.severity) == ("delivery", "物流部", "general")
    assert f"mention #{missed} labelled: complaint, delivery (ticket #{t.id})" in result.output
