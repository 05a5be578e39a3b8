"""Corrections on a real database: a ticket's category, severity or complaint verdict changes its
routing, SLA or state at once, with one audit event; every post is labelled; the export and the
precision report read the labels back (the report against figures computed by hand)."""
from __future__ import annotations

from datetime import timedelta

from storage.context import RunContext
import pytest
from sqlalchemy import select

from alerts.tickets.corrections import Change, CorrectionError, correct_mention, correct_ticket
from alerts.stage import evaluate
from alerts.settings import AlertSettings
from alerts.tickets.sla import check_sla
from storage.corrections import labelled_examples, precision_report
from storage.models import Correction, Incident, Mention, Ticket, TicketEvent
from tests.alerts.conftest import T0

HOUR = timedelta(hours=1)
ROUTED = AlertSettings(routing={"product": {"department": "品控部", "assignee": "李工"},
                                "delivery": {"department": "物流部"}})
TEXT = "快送外卖的汉堡里吃出了头发，恶心死了，客服还不理人，差评"


def one_ticket(db, seed, *, texts=(TEXT, TEXT + "！"), categories=("product",), severity="important",
               settings=ROUTED) -> int:
    """Near-duplicate posts through the real alert stage: one incident, one ticket."""
    for i, text in enumerate(texts):
        seed.mention(text, at=T0 + i * timedelta(minutes=5), categories=categories, severity=severity)
    with db.session() as s:
        evaluate(s, settings, RunContext(T0 + HOUR))
    with db.session() as s:
        tickets = list(s.scalars(select(Ticket)))
        assert len(tickets) == 1 and tickets[0].incident.mention_count == len(texts)
        return tickets[0].id


def test_a_new_category_reroutes_the_ticket_at_once_and_labels_every_post(db, seed):
    ticket_id = one_ticket(db, seed)
    with db.session() as s:
        t = s.get(Ticket, ticket_id)
        assert (t.category, t.department, t.assignee) == ("product", "品控部", "李工")
        rows = correct_ticket(s, t, Change(categories=("delivery", "service"), reason="送餐问题"), ROUTED,
                              actor="web:agent", now=T0 + 2 * HOUR)
        assert len(rows) == 2
    with db.session() as s:
        t = s.get(Ticket, ticket_id)
        assert (t.category, t.department, t.assignee, t.state) == ("delivery", "物流部", None, "new")
        assert t.first_response_at == T0 + 2 * HOUR          # classifying is a person's first response
        assert s.get(Incident, t.incident_id).category == "product"   # grouping keeps the model's category
        labels = [(c.mention_id, c.complaint, c.categories, c.severity, c.actor, c.at, c.predicted["categories"])
                  for c in s.scalars(select(Correction).order_by(Correction.mention_id))]
        assert labels == [(m, True, ["delivery", "service"], "important", "web:agent", T0 + 2 * HOUR, ["product"])
                          for m in (1, 2)]
        event = t.events[-1]
        assert (event.kind, event.actor, event.note) == ("correction", "web:agent", "送餐问题")
        assert event.detail["from"]["department"] == "品控部" and event.detail["to"]["department"] == "物流部"
        assert event.detail["correction_ids"] == [r.id for r in s.scalars(select(Correction).order_by(Correction.id))]


def test_a_new_severity_sets_priority_and_sla_from_the_opening(db, seed):
    ticket_id = one_ticket(db, seed)
    opened = T0 + HOUR
    with db.session() as s:
        t = s.get(Ticket, ticket_id)
        assert (t.first_response_due, t.resolution_due) == (opened + 4 * HOUR, opened + 72 * HOUR)
        correct_ticket(s, t, Change(severity="urgent"), ROUTED, actor="cli:wang", now=opened + 2 * HOUR)
    with db.session() as s:
        t = s.get(Ticket, ticket_id)
        assert (t.severity, t.priority) == ("urgent", 1)
        assert t.resolution_due == opened + 24 * HOUR
        assert s.get(Incident, t.incident_id).severity == "urgent"
        # it was answered by the correction itself, so no first-response breach; lowering relaxes the SLA
        correct_ticket(s, t, Change(severity="general"), ROUTED, actor="cli:wang", now=opened + 3 * HOUR)
    with db.session() as s:
        t = s.get(Ticket, ticket_id)
        assert (t.severity, t.priority, t.resolution_due) == ("general", 3, opened + 7 * 24 * HOUR)
        assert check_sla(s, opened + 8 * 24 * HOUR)                # the new due time is the one enforced
        assert not check_sla(s, opened + 8 * 24 * HOUR)


def test_an_urgent_grade_breaches_at_once_when_an_hour_has_passed_unanswered(db, seed):
    ticket_id = one_ticket(db, seed)
    with db.session() as s:
        t = s.get(Ticket, ticket_id)
        t.first_response_at = None
        # a severity correction over the API by an integration (SYSTEM is not a person) keeps first response open
        correct_ticket(s, t, Change(severity="urgent"), ROUTED, actor="repwatch", now=T0 + 3 * HOUR)
        assert t.first_response_due == T0 + 2 * HOUR               # opened at T0+1h, urgent answers within 1h
        kinds = [a.figures.get("sla") for a in check_sla(s, T0 + 3 * HOUR)]
    assert kinds == ["first_response"]


@pytest.mark.parametrize("state", ["new", "assigned", "investigating", "resolved"])
def test_not_a_complaint_dismisses_the_ticket_from_any_open_state(db, seed, state):
    ticket_id = one_ticket(db, seed)
    with db.session() as s:
        t = s.get(Ticket, ticket_id)
        t.state = state
        correct_ticket(s, t, Change(complaint=False, reason="新闻转发，不是顾客"), ROUTED, actor="web:agent",
                       now=T0 + 2 * HOUR)
    with db.session() as s:
        t = s.get(Ticket, ticket_id)
        assert (t.state, t.closed_at, t.open_incident_id) == ("closed", T0 + 2 * HOUR, None)
        assert s.get(Incident, t.incident_id).status == "dismissed"
        correction, close = t.events[-2:]
        assert (correction.kind, correction.detail["complaint"], correction.detail["to"]["state"]) == (
            "correction", False, "closed")
        assert (close.kind, close.from_state, close.to_state, close.detail) == (
            "state", state, "closed", {"dismissed": "not_a_complaint"})
        assert "新闻转发" in close.note
        assert [(c.complaint, c.categories, c.severity) for c in s.scalars(select(Correction))] == [
            (False, [], None)] * 2
        with pytest.raises(CorrectionError, match="already dismissed"):
            correct_ticket(s, t, Change(complaint=False), ROUTED, actor="web:agent", now=T0 + 3 * HOUR)


def test_a_dismissed_incident_opens_no_ticket_again_unless_a_post_escalates(db, seed):
    ticket_id = one_ticket(db, seed)
    with db.session() as s:
        correct_ticket(s, s.get(Ticket, ticket_id), Change(complaint=False), ROUTED, actor="web:agent",
                       now=T0 + 2 * HOUR)
    seed.mention(TEXT + "！！", at=T0 + 3 * HOUR, categories=("product",))
    with db.session() as s:
        report = evaluate(s, ROUTED, RunContext(T0 + 3 * HOUR))
        assert (report.tickets_opened, report.reopened) == (0, 0)
        assert s.get(Incident, s.get(Ticket, ticket_id).incident_id).mention_count == 3   # still grouped
        assert s.get(Ticket, ticket_id).state == "closed"
    seed.mention(TEXT + "，吃完进了医院，食物中毒", at=T0 + 4 * HOUR, categories=("product",), severity="urgent",
                 signals=("safety:中毒",))
    with db.session() as s:
        report = evaluate(s, ROUTED, RunContext(T0 + 4 * HOUR))
        t = s.get(Ticket, ticket_id)
        assert report.reopened == 1 and t.state == "new" and s.get(Incident, t.incident_id).status == "open"


def test_is_a_complaint_reopens_a_dismissed_ticket_with_a_fresh_sla(db, seed):
    ticket_id = one_ticket(db, seed)
    with db.session() as s:
        t = s.get(Ticket, ticket_id)
        correct_ticket(s, t, Change(complaint=False), ROUTED, actor="web:a", now=T0 + 2 * HOUR)
        correct_ticket(s, t, Change(complaint=True, categories=("delivery",)), ROUTED, actor="web:b",
                       now=T0 + 5 * HOUR)
    with db.session() as s:
        t = s.get(Ticket, ticket_id)
        assert (t.state, t.reopen_count, t.open_incident_id, t.department) == ("new", 1, t.incident_id, "物流部")
        assert t.resolution_due == T0 + 5 * HOUR + 72 * HOUR
        assert s.get(Incident, t.incident_id).status == "open"
        assert [e.kind for e in t.events][-4:] == ["correction", "state", "reopened", "correction"]
        # the label after the second correction: a complaint about delivery, severity as the model said
        latest = s.scalars(select(Correction).where(Correction.actor == "web:b")).all()
        assert [(c.complaint, c.categories, c.severity) for c in latest] == [(True, ["delivery"], None)] * 2


@pytest.mark.parametrize("change,message", [
    (Change(complaint=False, categories=("delivery",)), "no category or severity"),
    (Change(categories=("shipping",)), "unknown category shipping"),
    (Change(severity="critical"), "unknown severity"),
    (Change(), "nothing to correct"),
    (Change(categories=()), "at least one category"),
])
def test_impossible_corrections_are_refused_and_change_nothing(db, seed, change, message):
    ticket_id = one_ticket(db, seed)
    with db.session() as s:
        with pytest.raises(CorrectionError, match=message):
            correct_ticket(s, s.get(Ticket, ticket_id), change, ROUTED, actor="web:agent", now=T0 + 2 * HOUR)
    with db.session() as s:
        assert s.scalar(select(Correction.id)) is None
        assert s.get(Ticket, ticket_id).department == "品控部"


def test_a_post_correction_labels_the_post_and_notes_it_without_rerouting(db, seed):
    ticket_id = one_ticket(db, seed)
    with db.session() as s:
        m = s.get(Mention, 2)
        row = correct_mention(s, m, Change(complaint=False, reason="重复转发"), actor="api:bot", now=T0 + 2 * HOUR)
        assert (row.ticket_id, row.mention_id, row.complaint) == (ticket_id, 2, False)
    with db.session() as s:
        t = s.get(Ticket, ticket_id)
        assert (t.state, t.department) == ("new", "品控部")
        e = t.events[-1]
        assert (e.kind, e.actor, e.detail["scope"], e.detail["mention_id"]) == ("correction", "api:bot", "mention", 2)


def test_a_post_outside_any_incident_is_labelled_without_a_ticket(db, seed):
    mention_id = seed.mention("今天天气不错，外卖到得很快", at=T0, severity="none")
    with db.session() as s:
        row = correct_mention(s, s.get(Mention, mention_id), Change(categories=("delivery",)), actor="cli:wang",
                              now=T0)
        assert (row.ticket_id, row.complaint, row.categories, row.severity) == (None, True, ["delivery"], None)
        assert row.predicted == {"complaint": False, "categories": [], "severity": "none", "model_version": "test"}
        assert s.scalar(select(TicketEvent.id).where(TicketEvent.kind == "correction")) is None


def _fixture(db, seed):
    """Five posts, the model's prediction and the team's corrections; the figures are worked out by hand
    in test_precision_report_matches_the_hand_computed_figures."""
    m1 = seed.mention("汉堡送错了", at=T0, categories=("product",), severity="important")
    m2 = seed.mention("送餐慢，客服态度差", at=T0, categories=("delivery", "service"), severity="general")
    m3 = seed.mention("12315公布年度投诉数据", at=T0, categories=("product",), severity="urgent")
    m4 = seed.mention("价格比标价贵了十块", at=T0, severity="none")
    m5 = seed.mention("三天还没送到", at=T0, categories=("delivery",), severity="important")
    steps = [(m1, Change(categories=("delivery",))),
             (m2, Change(severity="urgent")),
             (m3, Change(complaint=False, reason="新闻")),
             (m4, Change(complaint=True, categories=("price",), severity="general")),
             (m5, Change(complaint=False)),
             (m5, Change(complaint=True, categories=("delivery",)))]   # the latest correction wins
    with db.session() as s:
        for i, (mention_id, change) in enumerate(steps):
            correct_mention(s, s.get(Mention, mention_id), change, actor="cli:wang", now=T0 + i * HOUR)
    return m1, m2, m3, m4, m5


def test_export_gives_one_example_per_post_latest_correction_winning(db, seed):
    _fixture(db, seed)
    with db.session() as s:
        examples = labelled_examples(s, weight=2.5)
    assert [tuple(e) for e in examples] == [
        ("汉堡送错了", 1, ["delivery"], "important", 2.5),          # severity kept from the model
        ("送餐慢，客服态度差", 1, ["delivery", "service"], "urgent", 2.5),
        ("12315公布年度投诉数据", 0, [], None, 2.5),
        ("价格比标价贵了十块", 1, ["price"], "general", 2.5),
        ("三天还没送到", 1, ["delivery"], None, 2.5),                 # dismissed first: its grade is unknown
    ]
    assert (examples[0].text, examples[0].complaint, examples[0].weight) == ("汉堡送错了", 1, 2.5)


def test_precision_report_matches_the_hand_computed_figures(db, seed):
    _fixture(db, seed)
    with db.session() as s:
        report = precision_report(s).as_dict()
    assert report["mentions"] == 5 and report["model_versions"] == {"test": 5}

    def table(rows):
        return {r["label"]: (r["predicted"], r["correct"], r["precision"], r["missed"]) for r in rows}

    # complaint: said yes for m1 m2 m3 m5, right for m1 m2 m5; said no for m4, wrong; m3 was said yes wrongly
    assert table(report["complaint"]) == {"yes": (4, 3, 0.75, 1), "no": (1, 0, 0.0, 1)}
    # categories, over the posts that are complaints after correction (m1 m2 m4 m5):
    # m1 product→delivery; m2 delivery+service kept; m4 (model: no complaint) → price; m5 delivery kept
    cats = table(report["categories"])
    assert cats["product"] == (1, 0, 0.0, 0)
    assert cats["delivery"] == (2, 2, 1.0, 1)
    assert cats["service"] == (1, 1, 1.0, 0)
    assert cats["price"] == (0, 0, None, 1)
    assert all(cats[c] == (0, 0, None, 0) for c in ("after_sales", "communication", "promise"))
    # severity, over complaints whose grade is known (m1 important, m2 urgent, m4 general; m5 unknown)
    assert table(report["severity"]) == {"important": (1, 1, 1.0, 0), "general": (1, 0, 0.0, 1),
                                         "urgent": (0, 0, None, 1)}


def test_a_category_change_keeps_posts_already_labelled_not_a_complaint(db, seed):
    ticket_id = one_ticket(db, seed)
    with db.session() as s:
        correct_mention(s, s.get(Mention, 2), Change(complaint=False), actor="web:a", now=T0 + 2 * HOUR)
        rows = correct_ticket(s, s.get(Ticket, ticket_id), Change(categories=("delivery",)), ROUTED, actor="web:b",
                              now=T0 + 3 * HOUR)
        assert [r.mention_id for r in rows] == [1]
        # saying outright that the ticket is a complaint does label every post
        rows = correct_ticket(s, s.get(Ticket, ticket_id), Change(complaint=True), ROUTED, actor="web:b",
                              now=T0 + 4 * HOUR)
        assert [r.mention_id for r in rows] == [1, 2]
    with db.session() as s:
        assert [(e.text, e.complaint) for e in labelled_examples(s)] == [(TEXT, 1), (TEXT + "！", 1)]


def test_a_missed_complaint_gets_its_incident_and_a_routed_ticket_at_once(db, seed):
    heater = "取暖器用了三天就起火了，我已经联系律师并向消协投诉"
    missed = seed.mention(heater, at=T0, severity="none", targets=("快送外卖",))
    with db.session() as s:
        row = correct_mention(s, s.get(Mention, missed), Change(categories=("product",), severity="urgent"),
                              actor="web:agent", now=T0 + HOUR, settings=ROUTED)
        ticket_id = row.ticket_id
        assert ticket_id is not None
    with db.session() as s:
        t = s.get(Ticket, ticket_id)
        assert (t.state, t.category, t.department, t.assignee, t.severity) == ("new", "product", "品控部", "李工",
                                                                             "urgent")
        assert t.resolution_due == T0 + HOUR + 24 * HOUR
        assert [e.kind for e in t.events] == ["opened", "correction"] and t.events[-1].detail["raised"] is True
        assert s.get(Incident, t.incident_id).mention_count == 1
    # the same complaint reposted and missed again joins that incident and ticket as evidence
    again = seed.mention(heater + "！", at=T0 + HOUR, severity="none", targets=("快送外卖",))
    with db.session() as s:
        row = correct_mention(s, s.get(Mention, again), Change(complaint=True, categories=("product",)),
                              actor="web:agent", now=T0 + 2 * HOUR, settings=ROUTED)
        assert row.ticket_id == ticket_id
        t = s.get(Ticket, ticket_id)
        assert [e.kind for e in t.events][-2:] == ["evidence", "correction"]
        assert s.get(Incident, t.incident_id).mention_count == 2
        assert len(list(s.scalars(select(Ticket)))) == 1
    # without the settings (a label only) nothing is raised; a non-complaint is never raised
    other = seed.mention("外卖一直没到，客服电话打不通", at=T0, severity="none")
    with db.session() as s:
        assert correct_mention(s, s.get(Mention, other), Change(complaint=True), actor="cli:x",
                               now=T0 + 3 * HOUR).ticket_id is None
        assert correct_mention(s, s.get(Mention, other), Change(complaint=False), actor="cli:x",
                               now=T0 + 3 * HOUR, settings=ROUTED).ticket_id is None
        assert len(list(s.scalars(select(Ticket)))) == 1


def test_a_reason_is_stored_clean(db, seed):
    ticket_id = one_ticket(db, seed)
    with db.session() as s:
        rows = correct_ticket(s, s.get(Ticket, ticket_id), Change(severity="general", reason="\x1b[2J误报\x00 "),
                              ROUTED, actor="cli:x", now=T0 + 2 * HOUR)
    with db.session() as s:
        assert {c.reason for c in s.scalars(select(Correction))} == {"[2J误报"} and len(rows) == 2
        assert s.get(Ticket, ticket_id).events[-1].note == "[2J误报"
