"""The team's corrections as training data and as a measure of the models.

- `labelled_examples()` turns the corrections into labelled examples for `repwatch train`:
  `(text, complaint 0/1, categories, severity or None, weight)`, one per corrected mention, the
  latest correction per mention winning.
- `precision_report()` compares the model's prediction stored with each correction against the
  correction: precision per category, for complaint yes/no and per severity.

Both read only the `correction` table (and the mentions' text), so they work on any database the
pipeline writes, without loading a model."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import NamedTuple

from sqlalchemy import select
from sqlalchemy.orm import Session

from storage.models import Correction, Mention
from storage.vocabulary import CATEGORIES, SEVERITIES


class LabelledExample(NamedTuple):
    """One training example from a correction. `severity` is None for a non-complaint, or when the
    severity of a complaint is not known."""

    text: str
    complaint: int
    categories: list[str]
    severity: str | None
    weight: float


def latest_corrections(session: Session) -> list[Correction]:
    """The latest correction of every corrected mention (by time, then by id), oldest mention first."""
    rows = session.scalars(select(Correction).where(Correction.mention_id.is_not(None))
                           .order_by(Correction.mention_id, Correction.at, Correction.id))
    latest: dict[int, Correction] = {}
    for row in rows:
        if row.mention_id is not None:   # the query keeps only these
            latest[row.mention_id] = row
    return list(latest.values())


def latest_labels(session: Session, mention_ids: list[int]) -> dict[int, Correction]:
    """The latest correction of each of these mentions that has one."""
    latest: dict[int, Correction] = {}
    for start in range(0, len(mention_ids), 500):
        for row in session.scalars(select(Correction).where(Correction.mention_id.in_(mention_ids[start:start + 500]))
                                   .order_by(Correction.at, Correction.id)):
            if row.mention_id is not None:   # IN (ids) never matches NULL
                latest[row.mention_id] = row
    return latest


def training_text(mention: Mention) -> str:
    """What the analyzer reads: the title and the text, unless the title is just the text's opening."""
    title = (mention.title or "").strip()
    if not title or " ".join(title.rstrip("…. ").split()) in " ".join(mention.text.split()):
        return mention.text
    return f"{title} {mention.text}"


def labelled_examples(session: Session, *, weight: float = 1.0) -> list[LabelledExample]:
    """Every corrected mention as a labelled example, the latest correction per mention winning."""
    if weight < 0:
        raise ValueError("a weight cannot be negative")
    latest = latest_corrections(session)
    texts = {m.id: training_text(m) for m in session.scalars(
        select(Mention).where(Mention.id.in_([c.mention_id for c in latest])))} if latest else {}
    return [LabelledExample(texts[c.mention_id], int(bool(c.complaint)),
                            list(c.categories or []) if c.complaint else [],
                            c.severity if c.complaint else None, float(weight))
            for c in latest if c.mention_id in texts]


@dataclass
class Precision:
    """How often the model was right when it said `label`, on the corrected mentions."""

    label: str
    predicted: int = 0      # corrected mentions the model gave this label
    correct: int = 0        # ... and the correction kept it
    missed: int = 0         # corrected mentions that have the label but the model did not give it

    @property
    def precision(self) -> float | None:
        return self.correct / self.predicted if self.predicted else None

    def as_dict(self) -> dict:
        p = self.precision
        return {"label": self.label, "predicted": self.predicted, "correct": self.correct, "missed": self.missed,
                "precision": None if p is None else round(p, 4)}


@dataclass
class CorrectionReport:
    mentions: int = 0                                    # corrected mentions with a stored prediction
    complaint: list[Precision] = field(default_factory=list)
    categories: list[Precision] = field(default_factory=list)
    severity: list[Precision] = field(default_factory=list)
    model_versions: dict[str, int] = field(default_factory=dict)

    def as_dict(self) -> dict:
        return {"mentions": self.mentions, "model_versions": self.model_versions,
                "complaint": [p.as_dict() for p in self.complaint],
                "categories": [p.as_dict() for p in self.categories],
                "severity": [p.as_dict() for p in self.severity]}


def _tally(rows: dict[str, Precision], predicted: set[str], actual: set[str]) -> None:
    for label in predicted | actual:
        p = rows[label]
        if label in predicted:
            p.predicted += 1
            p.correct += label in actual
        else:
            p.missed += 1


def precision_report(session: Session) -> CorrectionReport:
    """Precision of the model's stored predictions on the team's own corrections (latest per mention).

    Complaint: "yes" is right when the correction says it is a complaint, "no" when it says it is not.
    Categories: a predicted category is right when the corrected categories keep it; only mentions
    whose correction says they are complaints count (a non-complaint has no categories to compare).
    Severity: the predicted grade is right when it equals the corrected one; only complaints whose
    severity is known count. Mentions without a stored prediction (never analysed) are left out."""
    report = CorrectionReport()
    complaint = {k: Precision(k) for k in ("yes", "no")}
    categories = {k: Precision(k) for k in CATEGORIES}
    severity = {k: Precision(k) for k in SEVERITIES}
    for c in latest_corrections(session):
        pred = c.predicted or {}
        if "complaint" not in pred:
            continue
        report.mentions += 1
        version = pred.get("model_version") or "-"
        report.model_versions[version] = report.model_versions.get(version, 0) + 1
        said, truth = ("yes" if pred["complaint"] else "no"), ("yes" if c.complaint else "no")
        _tally(complaint, {said}, {truth})
        if not c.complaint:
            continue
        for label in set(pred.get("categories") or []) | set(c.categories or []):
            categories.setdefault(label, Precision(label))
        _tally(categories, set(pred.get("categories") or []) if pred["complaint"] else set(),
               set(c.categories or []))
        if c.severity in SEVERITIES:
            said_severity = pred.get("severity") if pred["complaint"] else None
            _tally(severity, set(SEVERITIES) & {said_severity}, {c.severity})
    report.complaint = list(complaint.values())
    report.categories = list(categories.values())
    report.severity = list(severity.values())
    return report
