"""Sentiment fixtures: one analyzer per session (models load once, as in production), and the fixture posts."""
from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from sentiment import Analyzer, TextIn
from sentiment.settings import AnalysisSettings

FIXTURES = Path(__file__).parent / "fixtures"


def load_posts(name: str) -> list[dict]:
    return yaml.safe_load((FIXTURES / name).read_text(encoding="utf-8"))["posts"]


def as_text_in(post: dict) -> TextIn:
    return TextIn(text=post["text"], rating=post.get("rating"), lang=post.get("lang"), followers=post.get("followers"))


@pytest.fixture(scope="session")
def analyzer() -> Analyzer:
    a = Analyzer(AnalysisSettings(workers=1))
    a.warm_up()
    return a
