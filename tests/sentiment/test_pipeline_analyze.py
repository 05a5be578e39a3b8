"""The pipeline's analyze stage stores one Analysis per mention with the real model version and evidence."""
from __future__ import annotations

from datetime import datetime, timezone

from sqlalchemy import func, select

from repwatch.pipeline import analyze_pending
from sentiment import TextIn
from sentiment.analyzer import model_version
from storage.models import Analysis
from storage.records import MentionIn
from storage.writes import get_or_create_source, store_mentions

NOW = datetime(2026, 11, 23, 2, 0, tzinfo=timezone.utc)


def test_analyze_pending_scores_each_mention_once(db, analyzer):
    items = [MentionIn(external_id="1", text="吃了这家外卖全家拉肚子，已经打12315投诉了"),
             MentionIn(external_id="2", text="外婆去世了，好难过[泪]"),
             MentionIn(external_id="3", text="Great service, thank you!", author_followers=10),
             MentionIn(external_id="4", text="")]
    with db.session() as s:
        store_mentions(s, get_or_create_source(s, "posts", "feed"), items, NOW)
    assert analyze_pending(db, analyzer, batch_size=2) == 4
    assert analyze_pending(db, analyzer, batch_size=2) == 0                  # rerun: nothing new
    with db.session() as s:
        assert s.scalar(select(func.count(Analysis.id))) == 4
        rows = {a.mention.external_id: a for a in s.scalars(select(Analysis))}
        assert rows["1"].complaint and rows["1"].severity == "urgent"
        assert {"safety:拉肚子", "regulator:12315"} <= set(rows["1"].signals)
        assert not rows["2"].complaint and rows["2"].negative and rows["2"].severity == "none"
        assert rows["3"].lang == "en" and rows["3"].snownlp is None and not rows["3"].negative
        assert rows["1"].snownlp is not None
        assert {a.model_version for a in rows.values()} == {model_version()}
        # the learned models' view is stored as `repwatch analyze` prints it (issue 15)
        contract = analyzer.score_one(TextIn(items[0].text)).contract()
        assert rows["1"].complaint_score == contract["complaint_score"] > 0.5
        assert rows["1"].confidence == contract["confidence"] and set(rows["1"].confidence) == set(rows["1"].categories)
        assert rows["2"].complaint_score < 0.5 and rows["2"].confidence == {}
        assert (rows["4"].complaint_score, rows["4"].confidence) == (None, None)   # nothing a model could read
