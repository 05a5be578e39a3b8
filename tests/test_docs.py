"""Documentation that tests check (datasette's test_docs.py): every schedules.yaml key the program
accepts, and every CLI command, appears in README.md or docs/*.md."""
from __future__ import annotations

import re
from pathlib import Path

import click
import pytest
import yaml
from pydantic import BaseModel

from alerts.notify.registry import get_notifier, known_notifiers
from collectors.registry import get_collector, known_kinds
from repwatch.cli import cli
from repwatch.config import Config, NotifierConfig, SourceConfig

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def docs() -> str:
    parts = [REPO / "README.md", *sorted((REPO / "docs").glob("*.md"))]
    return "\n".join(p.read_text(encoding="utf-8") for p in parts)


def documented(word: str, text: str) -> bool:
    return re.search(rf"(?<![\w-]){re.escape(word)}(?![\w-])", text) is not None


def model_keys(model: type[BaseModel], seen: set | None = None) -> set[str]:
    """Every key a settings model accepts, recursively (aliases as written in YAML)."""
    seen = seen if seen is not None else set()
    if model in seen:
        return set()
    seen.add(model)
    keys = set()
    for name, field in model.model_fields.items():
        if name == "options":
            continue
        keys.add(field.alias or name)
        for sub in _models_in(field.annotation):
            keys |= model_keys(sub, seen)
    return keys


def _models_in(annotation) -> list[type[BaseModel]]:
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return [annotation]
    return [m for arg in getattr(annotation, "__args__", ()) or () for m in _models_in(arg)]


def all_config_keys() -> set[str]:
    keys = model_keys(Config) | model_keys(SourceConfig) | model_keys(NotifierConfig)
    for kind in known_kinds():
        keys |= model_keys(get_collector(kind).Options)
    for kind in known_notifiers():
        keys |= model_keys(get_notifier(kind).Options)
    return keys


def sample_keys(node) -> set[str]:
    if isinstance(node, dict):
        return {str(k) for k in node} | {k for v in node.values() for k in sample_keys(v)}
    if isinstance(node, list):
        return {k for v in node for k in sample_keys(v)}
    return set()


def command_paths(group: click.Group, prefix: str = "") -> list[str]:
    out = []
    for name, command in group.commands.items():
        path = f"{prefix}{name}"
        out.append(path)
        if isinstance(command, click.Group):
            out += command_paths(command, path + " ")
    return out


def test_every_config_key_is_documented(docs):
    missing = sorted(k for k in all_config_keys() if not documented(k, docs))
    assert missing == [], f"config keys not mentioned in README.md or docs/*.md: {missing}"


def test_every_key_in_the_sample_schedules_yaml_is_documented(docs):
    sample = yaml.safe_load((REPO / "schedules.yaml").read_text(encoding="utf-8"))
    missing = sorted(k for k in sample_keys(sample) if not documented(k, docs))
    assert missing == [], f"schedules.yaml keys not mentioned in README.md or docs/*.md: {missing}"


def test_every_cli_command_is_documented(docs):
    missing = [p for p in command_paths(cli) if f"repwatch {p}" not in docs and f"`{p}" not in docs]
    assert missing == [], f"commands not documented in README.md or docs/*.md: {missing}"


def test_every_command_has_help_text():
    def walk(group, prefix=""):
        for name, command in group.commands.items():
            yield f"{prefix}{name}", command
            if isinstance(command, click.Group):
                yield from walk(command, f"{prefix}{name} ")

    assert [p for p, c in walk(cli) if not (c.help or c.short_help)] == []


def test_readme_shows_the_two_setup_commands_first():
    readme = (REPO / "README.md").read_text(encoding="utf-8")
    first_code = readme[readme.index("```"):]
    assert first_code.index("make demo") < first_code.index("make test") < 200
