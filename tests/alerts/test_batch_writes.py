"""The alert stage writes a pass's incident links and evidence events together (issue 18), with the
same result as one post at a time, and a pass that finds its posts linked by another meanwhile
writes nothing."""
from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import event, func, select

from alerts.exceptions import ConcurrentPass
from alerts.incidents.index import IncidentIndex, join
from alerts.stage import evaluate
from storage.context import RunContext
from storage.models import Analysis, Incident, IncidentMention, Mention, Ticket, TicketEvent

from .conftest import T0

HOUR = timedelta(hours=1)


def inserts_into(db, table: str):
    seen = []

    def count(conn, cursor, statement, *args):
        if statement.lstrip().upper().startswith("INSERT INTO") and f"{table} " in statement.split("(")[0] + " ":
            seen.append(statement)
    event.listen(db.engine, "before_cursor_execute", count)
    return seen


def test_a_pass_links_posts_and_records_evidence_in_one_statement_each(db, seed, settings):
    for n in range(12):
        seed.mention(f"快送外卖骑手又把餐送错了，第{n}次，客服不管", at=T0 + n * timedelta(minutes=5))
    links, events = inserts_into(db, "incident_mention"), inserts_into(db, "ticket_event")
    with db.session() as s:
        report = evaluate(s, settings, RunContext(T0 + 2 * HOUR))
    assert len(links) == 1
    # the evidence as one batch; the rest are the opening ticket's own events, whatever the posts' number
    assert len([e for e in events if "EVENT_KEY" in e.upper().partition("RETURNING")[2]]) == 1 and len(events) <= 3
    with db.session() as s:
        assert s.scalar(select(func.count()).select_from(IncidentMention)) == 12
        incident = s.scalars(select(Incident)).one()
        assert incident.mention_count == 12
        ticket = s.scalars(select(Ticket)).one()
        evidence = s.scalar(select(func.count()).select_from(TicketEvent).where(TicketEvent.kind == "evidence"))
    assert report.attached == evidence == 11   # the first post opened the ticket; the rest are evidence
    assert ticket.incident_id == incident.id
    with db.session() as s:   # a rerun changes nothing
        again = evaluate(s, settings, RunContext(T0 + 3 * HOUR))
    assert again.attached == 0 and again.incidents_opened == 0


def test_posts_another_pass_linked_meanwhile_roll_this_pass_back(db, seed, settings):
    mention_id = seed.mention("快送外卖退款一个月没到账", at=T0)
    with db.session() as s:
        index = IncidentIndex(s, settings.incidents, T0 + HOUR)
        index.links = []
        analysis, mention = s.execute(select(Analysis, Mention).join(Mention, Mention.id == Analysis.mention_id)).one()
        incident, _, added = join(s, index, analysis, mention, T0 + HOUR)
        assert added and index.links == [dict(incident_id=incident.id, mention_id=mention_id, added_at=T0 + HOUR)]
        # another pass got there first (as a second process would, committed before this one writes)
        s.add(IncidentMention(incident_id=incident.id, mention_id=mention_id, added_at=T0 + HOUR))
        s.flush()
        with pytest.raises(ConcurrentPass):
            index.write_links(s)


def test_a_new_incident_and_its_ticket_are_one_insert_each_and_no_read_back(db, seed, settings):
    """INSERT … RETURNING brings the new rows back as ORM objects: no SELECT of the incident or ticket just
    written (issue 18: it was an INSERT, a read of the id and a load of the row, for each)."""
    seed.mention("快送外卖退款一个月没到账，客服不回", at=T0)
    seen = []
    event.listen(db.engine, "before_cursor_execute", lambda conn, cursor, statement, *a: seen.append(statement))
    with db.session() as s:
        report = evaluate(s, settings, RunContext(T0 + HOUR))
    assert report.incidents_opened == 1 and report.tickets_opened == 1
    into = [st.split("(")[0].split()[-1] for st in seen if st.lstrip().upper().startswith("INSERT INTO")]
    assert into.count("incident") == 1 and into.count("ticket") == 1
    reads = [st for st in seen if st.lstrip().upper().startswith("SELECT")]
    assert not [st for st in reads if "WHERE incident.key" in st or "WHERE incident.id =" in st], reads
    # nor for a ticket to reopen: an incident this pass opened has none
    assert not [st for st in reads if "WHERE ticket.open_incident_id" in st or "WHERE ticket.incident_id" in st], reads
    with db.session() as s:   # a rerun opens nothing and the rows are whole
        again = evaluate(s, settings, RunContext(T0 + 2 * HOUR))
        incident, ticket = s.scalars(select(Incident)).one(), s.scalars(select(Ticket)).one()
    assert again.incidents_opened == 0 and again.tickets_opened == 0
    assert incident.mention_count == 1 and ticket.open_incident_id == incident.id and ticket.state == "new"
