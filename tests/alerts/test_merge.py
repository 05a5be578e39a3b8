"""Merging incidents and moving a mention out, on a real database, through the functions and the CLI."""
from __future__ import annotations

from zoneinfo import ZoneInfo

from datetime import timedelta

from storage.context import RunContext
import pytest
from sqlalchemy import select

from alerts.stage import evaluate
from alerts.incidents.merge import IncidentError, merge, move_out
from storage.models import Incident, IncidentMention, Ticket, TicketEvent
from tests.alerts.conftest import T0

H = timedelta(hours=1)
HAIR = "国贸店的拿铁里有一根头发，店员还不承认"
HAIR_AGAIN = "今天在国贸买的拿铁喝出头发，店员态度也差"
COLD = "等了两个小时外卖才到，饭菜全凉了"
REFUND = "退款申请提交一周了还没到账"


def run(db, settings, now):
    with db.session() as s:
        return evaluate(s, settings, RunContext(now, ZoneInfo("Asia/Shanghai"), "http://dash"))


def members(s, incident_id):
    return sorted(s.scalars(select(IncidentMention.mention_id).where(IncidentMention.incident_id == incident_id)))


def incident_of(s, mention_id):
    return s.scalar(select(Incident).join(IncidentMention).where(IncidentMention.mention_id == mention_id))


def test_merge_joins_mentions_tickets_and_the_audit_trail_and_later_posts_join_the_survivor(db, seed, settings):
    a = seed.mention(HAIR, at=T0, followers=100)
    b = seed.mention(COLD, at=T0 + H, followers=50, signals=("safety:中毒",))
    run(db, settings, T0 + 2 * H)
    with db.session() as s:
        ia, ib = incident_of(s, a), incident_of(s, b)
        assert ia.id != ib.id
        ta, tb = (s.scalar(select(Ticket).where(Ticket.incident_id == i.id)) for i in (ia, ib))
        dst = merge(s, ib.id, ia.id, actor="cli:wang", now=T0 + 3 * H, reason="same order")
        assert (dst.id, dst.mention_count, dst.reach, members(s, ia.id)) == (ia.id, 2, 150, [a, b])
        assert "safety:中毒" in dst.signals and dst.first_seen == T0 and dst.last_seen == T0 + H
        assert "凉" in "".join(dst.terms["c"]) or "两个" in dst.terms["c"]
        src = s.get(Incident, ib.id)
        assert (src.status, src.merged_into, src.mention_count) == ("merged", ia.id, 0)
        assert (tb.state, tb.open_incident_id) == ("closed", None) and ta.state == "new"
        closing = [e for e in tb.events if e.kind == "merged"]
        assert closing[0].detail["into_ticket"] == ta.id and "same order" in closing[0].note
        assert [e.detail["from_ticket"] for e in ta.events if e.kind == "merged"] == [tb.id]
        with pytest.raises(IncidentError):
            merge(s, ib.id, ia.id, actor="cli:wang", now=T0 + 3 * H)     # already merged
        with pytest.raises(IncidentError):
            merge(s, ia.id, ia.id, actor="cli:wang", now=T0 + 3 * H)
    # a later post in the merged incident's words joins the survivor, never the merged one
    c = seed.mention("外卖等了两个小时才到，饭菜都凉了", at=T0 + 4 * H)
    run(db, settings, T0 + 5 * H)
    with db.session() as s:
        assert incident_of(s, c).id == ia.id


def test_merge_refuses_two_targets(db, seed, settings):
    a = seed.mention(HAIR, at=T0)
    b = seed.mention(HAIR, at=T0, targets=("优选商城",))
    run(db, settings, T0 + H)
    with db.session() as s:
        with pytest.raises(IncidentError, match="one target"):
            merge(s, incident_of(s, b).id, incident_of(s, a).id, actor="x", now=T0 + H)


def test_move_out_puts_a_mention_in_its_own_incident_and_says_so_on_the_ticket(db, seed, settings):
    a = seed.mention(HAIR, at=T0, followers=10)
    b = seed.mention(HAIR_AGAIN, at=T0 + H, followers=20)
    run(db, settings, T0 + 2 * H)
    with db.session() as s:
        inc = incident_of(s, a)
        assert members(s, inc.id) == [a, b]                       # the same issue in other words
        new = move_out(s, inc.id, b, actor="cli:wang", now=T0 + 3 * H, reason="another store")
        assert members(s, inc.id) == [a] and members(s, new.id) == [b]
        assert (inc.mention_count, inc.reach, new.mention_count, new.reach) == (1, 10, 1, 20)
        assert new.label and inc.terms["n"] == 1 and new.terms["n"] == 1
        ticket = s.scalar(select(Ticket).where(Ticket.incident_id == inc.id))
        ev = s.scalar(select(TicketEvent).where(TicketEvent.ticket_id == ticket.id, TicketEvent.kind == "moved_out"))
        assert ev.detail == {"mention_id": b, "from_incident": inc.id, "to_incident": new.id}
        assert "another store" in ev.note
        with pytest.raises(IncidentError):
            move_out(s, inc.id, a, actor="x", now=T0 + 3 * H)     # its only mention
        with pytest.raises(IncidentError):
            move_out(s, inc.id, b, actor="x", now=T0 + 3 * H)     # not a member any more
    # a rerun does not put it back
    run(db, settings, T0 + 4 * H)
    with db.session() as s:
        assert members(s, incident_of(s, a).id) == [a]


def test_incident_commands(db, database_url, seed, settings):
    from click.testing import CliRunner

    from repwatch.cli import cli

    a = seed.mention(HAIR, at=T0)
    b = seed.mention(REFUND, at=T0, categories=("after_sales",))
    run(db, settings, T0 + H)
    with db.session() as s:
        ia, ib = incident_of(s, a).id, incident_of(s, b).id
    base = ["-c", "/nonexistent/schedules.yaml", "--database", database_url]
    listed = CliRunner().invoke(cli, [*base, "incidents"], catch_exceptions=False)
    assert listed.exit_code == 0 and f"#{ia} " in listed.stdout and "国贸" in listed.stdout   # the store: its label
    out = CliRunner().invoke(cli, [*base, "incident", "merge", str(ib), "--into", str(ia), "--reason", "x"],
                             catch_exceptions=False)
    assert out.exit_code == 0 and f"merged into #{ia}" in out.stdout
    again = CliRunner().invoke(cli, [*base, "incident", "merge", str(ib), "--into", str(ia)], catch_exceptions=False)
    assert again.exit_code == 1 and "was merged" in again.output
    moved = CliRunner().invoke(cli, [*base, "incident", "move-out", str(ia), "--mention", str(b)],
                               catch_exceptions=False)
    assert moved.exit_code == 0 and "new incident" in moved.stdout


def test_dismissing_an_incident_labels_its_posts_not_a_complaint_for_training(db, seed, settings):
    """A dismissal is the same verdict as correcting the ticket to 'not a complaint': each post gets a
    correction that `repwatch train` reads, and the open ticket closes as dismissed."""
    from alerts.stage import evaluate
    from alerts.incidents.merge import dismiss
    from storage.corrections import labelled_examples
    from storage.models import Incident, Ticket

    a = seed.mention("快送外卖测试账号发的演示投诉：外卖送错地址还冷了", at=T0)
    b = seed.mention("转发：快送外卖测试账号发的演示投诉：外卖送错地址还冷了", at=T0 + H)
    with db.session() as s:
        evaluate(s, settings, RunContext(T0 + 2 * H, ZoneInfo("UTC"), None))
    with db.session() as s:
        incident = s.scalars(select(Incident)).one()
        dismiss(s, incident.id, actor="web:li", now=T0 + 3 * H, reason="测试数据 test posts")
    with db.session() as s:
        assert sorted(s.scalars(select(IncidentMention.mention_id))) == sorted([a, b])
        examples = labelled_examples(s)
        ticket = s.scalars(select(Ticket)).one()
        assert s.get(Incident, incident.id).status == "dismissed" and ticket.state == "closed"
    assert sorted((e.complaint, e.categories, e.severity) for e in examples) == [(0, [], None)] * 2


def test_backfill_builds_the_state_of_incidents_made_before_grouping_by_meaning(db, database_url, seed, settings):
    """An incident stored without grouping state (as every incident made before grouping by meaning
    was) gets it from `repwatch incident backfill`, exactly what the pipeline would have stored; a second
    run writes nothing; and a reworded post then joins the old incident instead of starting its own."""
    from click.testing import CliRunner

    from repwatch.cli import cli

    from repwatch.vectors import encode

    a = seed.mention(HAIR, at=T0)
    encode(db, [a])                                 # the pipeline stores each complaint's sentence vector first
    run(db, settings, T0 + H)
    with db.session() as s:
        old = incident_of(s, a)
        stored = (old.terms, old.label, old.centroid)
        old.terms, old.label, old.centroid = None, None, None   # as written before grouping by meaning
    base = ["-c", "/nonexistent/schedules.yaml", "--database", database_url]
    out = CliRunner().invoke(cli, [*base, "incident", "backfill"], catch_exceptions=False)
    assert out.exit_code == 0 and "for 1 incident" in out.stdout
    with db.session() as s:
        assert (incident_of(s, a).terms, incident_of(s, a).label, incident_of(s, a).centroid) == stored
    again = CliRunner().invoke(cli, [*base, "incident", "backfill"], catch_exceptions=False)
    assert again.exit_code == 0 and "for 0 incident" in again.stdout
    rebuilt = CliRunner().invoke(cli, [*base, "incident", "backfill", "--rebuild"], catch_exceptions=False)
    assert rebuilt.exit_code == 0 and "for 0 incident" in rebuilt.stdout   # the same state: nothing changed

    with db.session() as s:
        incident_of(s, a).terms = None              # and without the command: the next run builds it itself
    b = seed.mention(HAIR_AGAIN, at=T0 + 2 * H)
    run(db, settings, T0 + 3 * H)
    with db.session() as s:
        assert incident_of(s, b).id == incident_of(s, a).id
        assert incident_of(s, a).terms["n"] == 2
