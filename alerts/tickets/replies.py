"""Reply templates (macros): the answer to a complainant, drafted from DOMAIN.md's six steps.

任发泄 let them vent → 诚致歉 apologise → 汇信息 gather facts → 给方案 offer a solution → 询意见 ask their
view → 紧跟进 follow up ("respond within 24 hours"). alerts/data/replies.yaml holds one template per
complaint category and language, plus a general one; it is validated strictly when loaded. A draft is a
template filled from the ticket; the agent edits it, copies it to the platform, and records it on the
ticket (`reply`), which is the ticket's first response."""
from __future__ import annotations

import string
from dataclasses import dataclass
from datetime import datetime, timedelta, tzinfo
from functools import lru_cache
from pathlib import Path

import yaml
from pydantic import BaseModel, ConfigDict, ValidationError
from sqlalchemy import select
from sqlalchemy.orm import Session

from alerts.exceptions import AlertError
from alerts.tickets.process import record
from storage.models import IncidentMention, Mention, Ticket
from storage.vocabulary import CATEGORIES, label

DATA = Path(__file__).resolve().parents[1] / "data" / "replies.yaml"
GENERAL = "general"
LANGS = ("zh", "en")
STEPS = ("vent", "apologise", "gather", "solution", "ask", "follow_up")   # the six steps, in order
STEP_LABELS = {"vent": "任发泄", "apologise": "诚致歉", "gather": "汇信息", "solution": "给方案",
               "ask": "询意见", "follow_up": "紧跟进"}
PLACEHOLDERS = ("author", "post", "category", "target", "ticket_id", "title", "due")
FOLLOW_UP_WITHIN = timedelta(hours=24)
POST_EXCERPT = 80
MAX_REPLY = 8000


class ReplyError(AlertError):
    """A template file that does not validate, an unknown template, or a reply that cannot be recorded."""


class _Steps(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)
    vent: str
    apologise: str
    gather: str
    solution: str
    ask: str
    follow_up: str


class _File(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)
    version: int
    templates: dict[str, dict[str, _Steps]]


@dataclass(frozen=True)
class Template:
    name: str          # a category, or "general"
    lang: str
    steps: tuple[tuple[str, str], ...]   # (step, text) in the six steps' order

    @property
    def key(self) -> str:
        return f"{self.name}.{self.lang}"

    def fill(self, values: dict[str, str]) -> str:
        return "\n\n".join(text.format_map(values) for _, text in self.steps)


class _Loader(yaml.SafeLoader):
    """Safe YAML that refuses a key given twice (PyYAML would keep the last one without a word)."""


def _mapping(loader: _Loader, node: yaml.MappingNode, deep: bool = False):
    seen = set()
    for key_node, _ in node.value:
        key = loader.construct_object(key_node, deep=deep)
        if key in seen:
            raise yaml.constructor.ConstructorError(None, None, f"{key!r} is given twice", key_node.start_mark)
        seen.add(key)
    return yaml.SafeLoader.construct_mapping(loader, node, deep=deep)


_Loader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _mapping)


def _placeholders(text: str) -> set[str]:
    return {field for _, field, _, _ in string.Formatter().parse(text) if field is not None}


def parse(text: str, where: str = "replies.yaml") -> dict[str, Template]:
    """Every template in a replies file, keyed 'category.lang'; every problem at once, or ReplyError."""
    try:
        raw = yaml.load(text, Loader=_Loader)  # noqa: S506 (a SafeLoader)
    except yaml.YAMLError as exc:
        raise ReplyError(f"{where}: not valid YAML: {exc}") from None
    try:
        data = _File.model_validate(raw)
    except ValidationError as exc:
        errors = "; ".join(f"{'.'.join(str(p) for p in e['loc'])}: {e['msg']}" for e in exc.errors())
        raise ReplyError(f"{where}: {errors}") from None
    problems: list[str] = []
    if data.version != 1:
        problems.append(f"version {data.version} is not supported (1 is)")
    for name in sorted(set(data.templates) - set(CATEGORIES) - {GENERAL}):
        problems.append(f"templates.{name}: not a category ({', '.join(CATEGORIES)}) nor '{GENERAL}'")
    for name in (GENERAL,) + CATEGORIES:
        langs = data.templates.get(name)
        if langs is None:
            problems.append(f"templates.{name}: missing")
            continue
        for lang in sorted(set(langs) - set(LANGS)):
            problems.append(f"templates.{name}.{lang}: not a language ({', '.join(LANGS)})")
        problems += [f"templates.{name}.{lang}: missing" for lang in LANGS if lang not in langs]
    out = {}
    for name, langs in data.templates.items():
        for lang, steps in langs.items():
            for step in STEPS:
                value = getattr(steps, step)
                try:
                    unknown = _placeholders(value) - set(PLACEHOLDERS)
                except ValueError as exc:
                    problems.append(f"templates.{name}.{lang}.{step}: {exc}")
                    continue
                if unknown:
                    problems.append(f"templates.{name}.{lang}.{step}: unknown placeholder "
                                    f"{', '.join('{' + u + '}' for u in sorted(unknown))} "
                                    f"(known: {', '.join('{' + p + '}' for p in PLACEHOLDERS)})")
                if not value.strip():
                    problems.append(f"templates.{name}.{lang}.{step}: empty")
            out[f"{name}.{lang}"] = Template(name, lang, tuple((s, getattr(steps, s)) for s in STEPS))
    if problems:
        raise ReplyError(f"{where}: " + "; ".join(problems))
    return out


@lru_cache(maxsize=1)
def templates() -> dict[str, Template]:
    return parse(DATA.read_text(encoding="utf-8"), str(DATA))


def default_template(ticket: Ticket, lang: str = "zh") -> str:
    name = ticket.category if ticket.category in CATEGORIES else GENERAL
    return f"{name}.{lang}"


def resolve(name: str | None, ticket: Ticket) -> Template:
    """A template by 'category.lang', by category alone (Chinese), or the ticket's own category."""
    found = templates()
    key = name or default_template(ticket)
    if "." not in key:
        key = f"{key}.zh"
    if key not in found:
        raise ReplyError(f"no reply template {name!r}; there are: {', '.join(sorted(found))}")
    return found[key]


def first_post(session: Session, ticket: Ticket) -> Mention | None:
    return session.scalars(select(Mention).join(IncidentMention, IncidentMention.mention_id == Mention.id)
                           .where(IncidentMention.incident_id == ticket.incident_id)
                           .order_by(Mention.published_at.is_(None), Mention.published_at, Mention.id)
                           .limit(1)).first()


def _excerpt(text: str, limit: int = POST_EXCERPT) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[:limit - 1] + "…"


def values(session: Session, ticket: Ticket, *, lang: str, now: datetime, tz: tzinfo) -> dict[str, str]:
    post = first_post(session, ticket)
    tz_name = getattr(tz, "key", None) or str(tz)
    due = (now + FOLLOW_UP_WITHIN).astimezone(tz)
    customer = "您" if lang == "zh" else "there"
    return {
        "author": (post.author if post is not None and post.author else customer),
        "post": _excerpt(post.text) if post is not None else ticket.title,
        "category": label("category", ticket.category or "other", lang),
        "target": (ticket.incident.target if ticket.incident is not None and ticket.incident.target else ""),
        "ticket_id": str(ticket.id),
        "title": ticket.title,
        "due": f"{due:%Y-%m-%d %H:%M} ({tz_name})",
    }


def draft(session: Session, ticket: Ticket, name: str | None, *, now: datetime, tz: tzinfo) -> tuple[Template, str]:
    """The filled reply for this ticket: (template, text)."""
    template = resolve(name, ticket)
    return template, template.fill(values(session, ticket, lang=template.lang, now=now, tz=tz))


def reply(session: Session, ticket: Ticket, text: str, *, actor: str, now: datetime,
          template: str | None = None) -> bool:
    """Record the answer given to the customer on the ticket (a `reply` event with the text). The first
    reply is the ticket's first response. Returns True when it was the first response."""
    text = (text or "").replace("\x00", "").replace("\r\n", "\n").strip()   # a browser form sends CRLF
    if not text:
        raise ReplyError("the reply is empty")
    if len(text) > MAX_REPLY:
        raise ReplyError(f"the reply is too long ({len(text)} characters; at most {MAX_REPLY})")
    if ticket.state == "closed":
        raise ReplyError(f"ticket #{ticket.id} is closed; reopen it before replying")
    first = ticket.first_response_at is None
    if first:
        ticket.first_response_at = now
    ticket.updated_at = now
    record(session, ticket, at=now, actor=actor, kind="reply", note=text,
           detail={"template": template, "first_response": first})
    return first
