"""`repwatch demo` (what `make demo` runs): offline, real posts, two passes, no duplicates."""
from __future__ import annotations

import re

from sqlalchemy import func, select

from repwatch.demo import load_posts, run_demo
from storage import Database
from storage.models import Analysis, Incident, IncidentMention, Mention, Notification, Ticket


def test_demo_runs_twice_and_the_second_pass_is_all_304(tmp_path):
    url = f"sqlite:///{tmp_path / 'demo.db'}"
    lines: list[str] = []
    assert run_demo(url, echo=lines.append) == 0
    out = "\n".join(lines)
    pass2 = out[out.index("== pass 2 =="):out.index("== summary ==")]
    assert pass2.count("[HTTP 304]") == 3 and "0 new" in pass2 and "tickets +0" in pass2
    db = Database(url)
    with db.session() as s:
        mentions = s.scalar(select(func.count(Mention.id)))
        tickets = s.scalar(select(func.count(Ticket.id)))
        sent = s.scalar(select(func.count(Notification.id)).where(Notification.status == "sent"))
    db.dispose()
    assert mentions == len(load_posts()) == 300
    assert tickets > 0 and f"tickets: {tickets}" in out
    emails = int(re.search(r"received by the loopback SMTP server: (\d+)", out).group(1))
    assert emails == sent > 0
    assert "repwatch serve" in out  # tells the user what to try next


def test_demo_groups_the_same_complaint_told_in_other_words(tmp_path):
    """The demo's complaints are real reviews, mostly about different dishes and shops, so most stay
    apart; the same problem told by many customers (late delivery, two hours, food cold) is one incident."""
    url = f"sqlite:///{tmp_path / 'demo.db'}"
    run_demo(url, echo=lambda line: None)
    db = Database(url)
    with db.session() as s:
        complaints = s.scalar(select(func.count(IncidentMention.id)))
        incidents = s.scalars(select(Incident).order_by(Incident.mention_count.desc(), Incident.id)).all()
        largest = incidents[0]
        texts = s.scalars(select(Mention.text).join(IncidentMention, IncidentMention.mention_id == Mention.id)
                          .where(IncidentMention.incident_id == largest.id)).all()
        graded = s.scalar(select(func.count(Analysis.id)).where(Analysis.severity != "none"))
    db.dispose()
    assert complaints == graded == 78
    assert len(incidents) <= complaints - 10            # was 78 incidents for 78 complaints (64 today)
    assert largest.mention_count >= 5 and largest.label
    assert largest.target == "快送外卖" and largest.category == "delivery"
    late = ("小时", "分钟", "慢", "才到", "才送", "超时")
    assert all(any(w in t for w in late) for t in texts), texts


def test_demo_rerun_on_the_same_database_adds_nothing(tmp_path):
    url = f"sqlite:///{tmp_path / 'demo.db'}"
    run_demo(url, echo=lambda line: None)
    db = Database(url)
    with db.session() as s:
        before = (s.scalar(select(func.count(Mention.id))), s.scalar(select(func.count(Ticket.id))),
                  s.scalar(select(func.count(Notification.id))))
    run_demo(url, echo=lambda line: None)
    with db.session() as s:
        after = (s.scalar(select(func.count(Mention.id))), s.scalar(select(func.count(Ticket.id))),
                 s.scalar(select(func.count(Notification.id))))
    db.dispose()
    assert after == before
