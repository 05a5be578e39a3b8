"""`repwatch demo` (what `make demo` runs): offline, real posts, two passes, no duplicates."""
from __future__ import annotations

import re
from collections import Counter

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


def test_demo_finds_the_complaints_and_groups_the_same_one_told_in_other_words(tmp_path):
    """The demo's posts are real reviews and Weibo posts, labelled positive/negative by their corpora.
    A negative review is a complaint about what it reviews; a sad or angry Weibo post about life is not.
    Most complaints are about different dishes and shops, so most stay apart; the same problem told by
    many customers (late delivery, two hours, food cold) is one incident."""
    url = f"sqlite:///{tmp_path / 'demo.db'}"
    run_demo(url, echo=lambda line: None)
    by_id = {p["id"]: p for p in load_posts()}
    db = Database(url)
    with db.session() as s:
        post = lambda ext: by_id[ext.rsplit(":", 1)[-1]]   # noqa: E731  (feeds use urn:demo:<id>)
        found = Counter((post(ext)["feed"], post(ext)["label"]) for ext, in s.execute(
            select(Mention.external_id).join(Analysis, Analysis.mention_id == Mention.id)
            .where(Analysis.complaint.is_(True))))
        complaints = s.scalar(select(func.count(IncidentMention.id)))
        graded = s.scalar(select(func.count(Analysis.id)).where(Analysis.severity != "none"))
        incidents = s.scalars(select(Incident).order_by(Incident.mention_count.desc(), Incident.id)).all()
        late = [i for i in incidents if i.category == "delivery" and i.target == "快送外卖"][0]
        texts = s.scalars(select(Mention.text).join(IncidentMention, IncidentMention.mention_id == Mention.id)
                          .where(IncidentMention.incident_id == late.id)).all()
    db.dispose()
    posts = Counter((p["feed"], p["label"]) for p in by_id.values())
    negative_reviews = posts[("waimai", 0)] + posts[("shopping", 0)]
    assert found[("waimai", 0)] + found[("shopping", 0)] >= 0.9 * negative_reviews   # 148 of 160 today
    assert found[("waimai", 1)] + found[("shopping", 1)] <= 0.1 * (posts[("waimai", 1)] + posts[("shopping", 1)])
    assert found[("weibo", 0)] + found[("weibo", 1)] == 0        # feelings about life, not complaints
    assert complaints == graded == sum(found.values())
    assert len(incidents) <= complaints - 10            # was one incident per complaint before grouping by meaning
    assert late.mention_count >= 5 and late.label and late.mention_count == incidents[0].mention_count
    words = ("小时", "分钟", "慢", "才到", "才送", "超时", "延误", "迟到", "等了好久", "等的时间长")
    # with sentence vectors (issue 16) at least eight customers' late deliveries, told in other words, are one
    # incident; a join on shared words alone also needs a vector cosine of 0.3 (`floor`), which keeps out
    # most posts about other delivery problems (docs/alerts.md, Demo). Which borderline post joins changed
    # between two machines with the same code and pins (9 of 10 late, not 12 of 12), so the bar is issue 16's
    # precision, 0.8, not one machine's exact figure.
    late_ones = [t for t in texts if any(w in t for w in words)]
    assert len(late_ones) >= 8 and len(late_ones) >= 0.8 * len(texts), texts


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
