"""Mention search: full text plus filters by date, source, sentiment and category.

How text matches, per database (the objects come from migration 0002_fulltext):
- SQLite: terms of three or more characters go to the FTS5 trigram index (substring match, any
  script); shorter terms, which a trigram index cannot serve, use LIKE.
- PostgreSQL: every term is ILIKE '%term%' over title + text, the expression the pg_trgm GIN index
  covers, so terms of three or more characters are served by the index in any script. (A 'simple'
  tsvector would keep "我要投诉到12315" as one token and find neither "投诉" nor "12315".)
Every term must match (AND). All user input is passed as bound parameters."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import String, bindparam, cast, func, or_, select, text
from sqlalchemy.sql.elements import ColumnElement, TextClause
from sqlalchemy.orm import Session

from repwatch.web.labels import CATEGORIES
from storage.models import Analysis, Mention, Source

SENTIMENTS = ("negative", "positive", "complaint")
MAX_TERMS = 8
PG_TEXT = "(coalesce(mention.title, '') || ' ' || mention.text)"  # = the index expression in 0002_fulltext


@dataclass
class MentionFilters:
    q: str = ""
    since: datetime | None = None
    until: datetime | None = None
    source: int | None = None
    sentiment: str | None = None   # negative | positive | complaint
    category: str | None = None


def terms(q: str) -> list[str]:
    return [t for t in q.split() if t][:MAX_TERMS]


def _like(term: str):
    return or_(Mention.text.icontains(term, autoescape=True), Mention.title.icontains(term, autoescape=True))


def _like_pattern(term: str) -> str:
    # backslash is PostgreSQL's default LIKE escape: the term's own %, _ and \ match literally
    return "%" + term.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"


def _fts5_phrase(term: str) -> str:
    # A quoted FTS5 string is matched literally: operators and column filters inside it are inert.
    return '"' + term.replace('"', '""') + '"'


def text_clauses(dialect: str, q: str) -> list[ColumnElement[bool] | TextClause]:
    clauses: list[ColumnElement[bool] | TextClause] = []
    long_terms: list[str] = []
    for n, term in enumerate(terms(q)):
        if dialect == "sqlite" and len(term) >= 3:
            long_terms.append(_fts5_phrase(term))
        elif dialect == "postgresql":
            param = f"term{n}"
            clauses.append(text(f"{PG_TEXT} ILIKE :{param}").bindparams(bindparam(param, _like_pattern(term))))
        else:
            clauses.append(_like(term))
    if long_terms:
        match = text("SELECT rowid FROM fts_mention WHERE fts_mention MATCH :fts").bindparams(
            bindparam("fts", " ".join(long_terms)))
        clauses.append(Mention.id.in_(match))
    return clauses


def search_stmt(dialect: str, f: MentionFilters):
    when = Mention.happened_at
    stmt = (select(Mention, Source, Analysis)
            .outerjoin(Source, Source.id == Mention.source_id)
            .outerjoin(Analysis, Analysis.mention_id == Mention.id))
    for clause in text_clauses(dialect, f.q):
        stmt = stmt.where(clause)
    if f.since:
        stmt = stmt.where(when >= f.since)
    if f.until:
        stmt = stmt.where(when < f.until)
    if f.source:
        stmt = stmt.where(Mention.source_id == f.source)
    if f.sentiment == "negative":
        stmt = stmt.where(Analysis.negative.is_(True))
    elif f.sentiment == "positive":
        stmt = stmt.where(Analysis.negative.is_(False))
    elif f.sentiment == "complaint":
        stmt = stmt.where(Analysis.complaint.is_(True))
    if f.category in CATEGORIES:
        # categories is a JSON list of ASCII keys, so its text form contains "key" exactly
        stmt = stmt.where(cast(Analysis.categories, String).like(f'%"{f.category}"%'))
    return stmt, when


def search(session: Session, f: MentionFilters, limit: int = 50, offset: int = 0):
    """(rows of (Mention, Source, Analysis), total matching)."""
    dialect = session.get_bind().dialect.name
    stmt, when = search_stmt(dialect, f)
    total = session.scalar(select(func.count()).select_from(stmt.with_only_columns(Mention.id).subquery()))
    rows = session.execute(stmt.order_by(when.desc(), Mention.id.desc()).limit(limit).offset(offset)).all()
    return rows, total or 0
