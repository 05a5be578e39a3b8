"""Reply templates: the shipped file validates, every category has zh and en with the six steps, a bad
file is refused with every problem named, and a draft is filled from the ticket."""
from __future__ import annotations

from datetime import timedelta
from zoneinfo import ZoneInfo

from storage.context import RunContext
import pytest

from alerts.tickets import replies
from alerts.stage import evaluate
from storage.models import Ticket, TicketEvent
from storage.vocabulary import CATEGORIES
from sqlalchemy import select

GOOD_STEPS = {s: f"{s} for {{author}}" for s in replies.STEPS}


def _file(templates: dict) -> str:
    import yaml

    return yaml.safe_dump({"version": 1, "templates": templates}, allow_unicode=True)


def _complete() -> dict:
    return {name: {"zh": dict(GOOD_STEPS), "en": dict(GOOD_STEPS)} for name in ("general",) + CATEGORIES}


def test_the_shipped_templates_cover_every_category_in_both_languages_with_the_six_steps():
    found = replies.templates()
    assert set(found) == {f"{n}.{lang}" for n in ("general",) + CATEGORIES for lang in ("zh", "en")}
    for t in found.values():
        assert [s for s, _ in t.steps] == ["vent", "apologise", "gather", "solution", "ask", "follow_up"]
        assert "24" in dict(t.steps)["follow_up"] and "{due}" in dict(t.steps)["follow_up"]


def test_a_complete_file_parses():
    assert len(replies.parse(_file(_complete()))) == 16


@pytest.mark.parametrize("break_it, message", [
    (lambda d: d["delivery"].pop("en"), "templates.delivery.en: missing"),
    (lambda d: d.pop("general"), "templates.general: missing"),
    (lambda d: d["price"]["zh"].pop("ask"), "price.zh.ask"),
    (lambda d: d["price"]["zh"].update(thanks="谢谢"), "price.zh.thanks"),
    (lambda d: d.update(shipping=d["delivery"]), "templates.shipping: not a category"),
    (lambda d: d["service"].update(fr=d["service"]["en"]), "templates.service.fr: not a language"),
    (lambda d: d["product"]["en"].update(vent="Hi {name}"), "unknown placeholder {name}"),
    (lambda d: d["product"]["en"].update(vent="Hi {author"), "templates.product.en.vent"),
    (lambda d: d["product"]["en"].update(vent="  "), "templates.product.en.vent: empty"),
    (lambda d: d["product"]["en"].update(vent=3), "product.en.vent"),
])
def test_a_broken_file_is_refused_naming_the_problem(break_it, message):
    data = _complete()
    break_it(data)
    with pytest.raises(replies.ReplyError, match="^<t>: .*" + __import__("re").escape(message)):
        replies.parse(_file(data), "<t>")


def test_every_problem_is_reported_at_once_and_duplicate_keys_are_refused():
    data = _complete()
    data["delivery"].pop("en")
    data["product"]["zh"].update(vent="{who}")
    with pytest.raises(replies.ReplyError) as err:
        replies.parse(_file(data), "<t>")
    assert "templates.delivery.en: missing" in str(err.value) and "{who}" in str(err.value)
    with pytest.raises(replies.ReplyError, match="given twice"):
        replies.parse("version: 1\nversion: 1\ntemplates: {}\n", "<t>")


def test_a_draft_is_filled_from_the_ticket_and_a_reply_is_the_first_response(db, seed, settings, clock):
    seed.mention("快送外卖送餐太慢，等了两个小时还没到，我要投诉", at=clock.now() - timedelta(hours=1),
                 categories=("delivery",), severity="important")
    with db.session() as s:
        evaluate(s, settings, RunContext(clock.now()))
    with db.session() as s:
        t = s.scalar(select(Ticket))
        template, text = replies.draft(s, t, None, now=clock.now(), tz=ZoneInfo("Asia/Shanghai"))
        assert template.key == "delivery.zh"
        assert text.startswith("user1您好") and "送餐太慢" in text and f"#{t.id}" in text
        assert "2026-11-24 10:00 (Asia/Shanghai)" in text      # T0 02:00 UTC + 24 h, in the team's timezone
        _, en = replies.draft(s, t, "delivery.en", now=clock.now(), tz=ZoneInfo("UTC"))
        assert en.startswith("Hello user1") and "2026-11-24 02:00 (UTC)" in en
        with pytest.raises(replies.ReplyError, match="no reply template 'shipping.zh'"):
            replies.draft(s, t, "shipping.zh", now=clock.now(), tz=ZoneInfo("UTC"))
        assert t.first_response_at is None
        with pytest.raises(replies.ReplyError, match="empty"):
            replies.reply(s, t, "  ", actor="cli:wang", now=clock.now())
        assert replies.reply(s, t, text, actor="cli:wang", now=clock.advance(timedelta(minutes=20)),
                             template=template.key) is True
        assert t.first_response_at == clock.now()
        assert replies.reply(s, t, "补充：已补发", actor="cli:wang", now=clock.advance(timedelta(hours=1))) is False
        assert t.first_response_at == clock.now() - timedelta(hours=1)
        events = s.scalars(select(TicketEvent).where(TicketEvent.kind == "reply").order_by(TicketEvent.id)).all()
        assert [(e.note == text, e.detail) for e in events] == [
            (True, {"template": "delivery.zh", "first_response": True}),
            (False, {"template": None, "first_response": False})]
