"""schedules.yaml, loaded strictly.

Order, as in Alertmanager: read YAML, interpolate ${ENV} secrets, validate every section against its
stage's own settings model (unknown keys are errors, defaults filled in), then check cross-field rules.
Every problem is reported at once, with the file, the key path and what was expected; values are
never echoed, so a secret cannot leak into a log."""
from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Any, Optional
from zoneinfo import ZoneInfo

import yaml
from pydantic import BaseModel, ConfigDict, Field, PrivateAttr, ValidationError

from alerts.notify.registry import get_notifier
from alerts.settings import AlertSettings
from collectors.registry import get_collector
from collectors.settings import HttpSettings
from repwatch.config_yaml import load_yaml
from repwatch.exceptions import ConfigError
from repwatch.distributed.settings import DistributedSettings
from repwatch.schedule import DigestJob, Schedule, SchedulerSettings
from repwatch.web.settings import WebSettings
from sentiment.settings import AnalysisSettings
from storage.plugins import BadPlugin, UnknownPlugin
from storage.types import Duration, Strict, TimeZoneName
from storage.vocabulary import SEVERITIES

DEFAULT_PATH = "schedules.yaml"
_ENV = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?\}")
NAME = r"^[A-Za-z0-9][A-Za-z0-9_.-]*$"


class WatchTarget(Strict):
    """A brand, product or store to watch, with the names people use for it."""

    name: str
    kind: str = "brand"
    aliases: list[str] = Field(default_factory=list)


class SourceConfig(BaseModel):
    """Common keys of a source; everything else is validated by the collector kind's own Options."""

    model_config = ConfigDict(extra="allow", frozen=True)
    name: str = Field(pattern=NAME)
    kind: str
    schedule: Optional[Schedule] = None
    enabled: bool = True
    targets: list[str] = Field(default_factory=list, description="watch targets everything from this source is about")
    expected_period: Optional[Duration] = Field(default=None, description="health: no new item for longer than "
                                                "this marks the source silent")
    options: Any = None


class NotifierConfig(BaseModel):
    model_config = ConfigDict(extra="allow", frozen=True)
    name: str = Field(pattern=NAME)
    kind: str
    min_severity: str = "general"
    options: Any = None


class Config(Strict):
    timezone: TimeZoneName = "Asia/Shanghai"
    database: Optional[str] = None
    base_url: Optional[str] = Field(default=None, description="dashboard URL used in links in alerts and digests")
    http: HttpSettings = HttpSettings()
    watch: list[WatchTarget] = Field(default_factory=list)
    sources: list[SourceConfig] = Field(default_factory=list)
    analysis: AnalysisSettings = AnalysisSettings()
    alerts: AlertSettings = AlertSettings()
    notify: list[NotifierConfig] = Field(default_factory=list)
    scheduler: SchedulerSettings = SchedulerSettings()
    digests: list[DigestJob] = Field(default_factory=list)
    web: WebSettings = WebSettings()
    distributed: DistributedSettings = DistributedSettings()


    # values taken from the environment; see redact()
    _secrets: frozenset[str] = PrivateAttr(default=frozenset())

    def redact(self, text: str) -> str:
        """`text` with every value that came from ${ENV} masked: a token in a feed's URL
        (`?token=${FEED_TOKEN}`) otherwise reaches the run's error, the cron mail and the dashboard."""
        return redact([text], self._secrets)[0] if self._secrets and text else text

    @property
    def tz(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)

    def source(self, name: str) -> SourceConfig:
        for s in self.sources:
            if s.name == name:
                return s
        known = ", ".join(s.name for s in self.sources) or "none configured"
        raise KeyError(f"no source named {name!r} in the config; sources: {known}")

    def targets(self) -> dict[str, list[str]]:
        return {t.name: list(t.aliases) for t in self.watch}


def _path(loc: tuple) -> str:
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += f".{part}" if out else str(part)
    return out or "(top level)"


def _describe(err: dict, prefix: tuple = ()) -> str:
    loc = prefix + tuple(p for p in err["loc"] if not (isinstance(p, str) and p.startswith("function-")))
    msg = err["msg"].removeprefix("Value error, ")
    if err["type"] == "extra_forbidden":
        msg = "unknown key (check the spelling; see the README for the keys this section takes)"
    elif err["type"] == "missing":
        msg = "required key is missing"
    else:
        msg = f"{msg} (got {type(err.get('input')).__name__})" if "input" in err else msg
    return f"{_path(loc)}: {msg}"


def interpolate(node: Any, loc: tuple, problems: list[str], secrets: set[str] | None = None) -> Any:
    """Replace ${NAME} and ${NAME:-default} from the environment, anywhere in the tree. Each value
    taken from the environment is added to `secrets`, so no error message can repeat it."""
    if isinstance(node, dict):
        return {k: interpolate(v, loc + (k,), problems, secrets) for k, v in node.items()}
    if isinstance(node, list):
        return [interpolate(v, loc + (i,), problems, secrets) for i, v in enumerate(node)]
    if isinstance(node, str) and "${" in node:
        def sub(m: re.Match) -> str:
            value = os.environ.get(m.group(1))
            if value is None:
                if m.group(2) is not None:
                    return m.group(2)
                problems.append(f"{_path(loc)}: environment variable {m.group(1)} is not set")
                return ""
            if secrets is not None and value:
                secrets.add(value)
            return value
        return _ENV.sub(sub, node)
    return node


MIN_SECRET = 6   # shorter environment values (a port, "true") would mask ordinary words and numbers


def redact(problems: list[str], secrets: set[str] | frozenset[str]) -> list[str]:
    """Validators quote some values (a cron expression, an address); one from the environment may be
    a password put in the wrong key, so it is masked wherever it appears."""
    out = []
    for problem in problems:
        for value in sorted((v for v in secrets if len(v) >= MIN_SECRET), key=len, reverse=True):
            problem = problem.replace(value, "***")
        out.append(problem)
    return out


def _plugin_options(section: str, items: list, raw: list, lookup, problems: list[str]) -> list:
    """Validate each entry's kind-specific keys with the plugin's own Options model."""
    out = []
    for index, item in enumerate(items):
        try:
            plugin = lookup(item.kind)
        except (UnknownPlugin, BadPlugin) as exc:
            problems.append(f"{section}[{index}].kind: {exc}")
            continue
        extra = {k: v for k, v in raw[index].items() if k not in type(item).model_fields}
        try:
            options = plugin.Options.model_validate(extra)
        except ValidationError as exc:
            problems.extend(_describe(e, (section, index)) for e in exc.errors())
            continue
        validated = item.model_copy(update={"options": options})
        # The raw extras are now held, validated, in `options` (secrets as SecretStr); dropping them
        # keeps a plain-text password out of every repr and log line.
        object.__setattr__(validated, "__pydantic_extra__", {})
        out.append(validated)
    return out


def parse_config(data: Any, path: str = DEFAULT_PATH) -> Config:
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise ConfigError(path, [f"(top level): expected a mapping of sections, got {type(data).__name__}"])
    problems: list[str] = []
    secrets: set[str] = set()
    data = interpolate(data, (), problems, secrets)
    try:
        config = Config.model_validate(data)
    except ValidationError as exc:
        raise ConfigError(path, redact(problems + [_describe(e) for e in exc.errors()], secrets)) from None
    sources = _plugin_options("sources", config.sources, data.get("sources") or [], get_collector, problems)
    notify = _plugin_options("notify", config.notify, data.get("notify") or [], get_notifier, problems)
    problems.extend(_cross_checks(config))
    if problems:
        raise ConfigError(path, redact(problems, secrets))
    config = config.model_copy(update={"sources": sources, "notify": notify})
    config._secrets = frozenset(secrets)
    return config


def _cross_checks(config: Config) -> list[str]:
    problems = []
    for section, items in (("sources", config.sources), ("notify", config.notify), ("watch", config.watch)):
        seen: set[str] = set()
        for index, item in enumerate(items):
            if item.name in seen:
                problems.append(f"{section}[{index}].name: {item.name!r} is used twice; names must be unique")
            seen.add(item.name)
    watch = {t.name for t in config.watch}
    for index, source in enumerate(config.sources):
        for t_index, target in enumerate(source.targets):
            if target not in watch:
                problems.append(f"sources[{index}].targets[{t_index}]: no watch target named {target!r}; "
                                f"defined: {', '.join(sorted(watch)) or 'none'}")
    names = {n.name for n in config.notify}
    for index, name in enumerate(config.alerts.notify or []):
        if name not in names:
            problems.append(f"alerts.notify[{index}]: no notifier named {name!r}; defined: {', '.join(sorted(names)) or 'none'}")
    for index, n in enumerate(config.notify):
        if n.min_severity not in SEVERITIES:
            problems.append(f"notify[{index}].min_severity: expected one of {', '.join(SEVERITIES)}")
    problems.extend(_digest_checks(config, watch))
    return problems


def _digest_checks(config: Config, watch: set[str]) -> list[str]:
    """Digest names are unique and every recipient filter names something that exists."""
    problems, seen = [], set()
    sources = {s.name for s in config.sources}
    for index, digest in enumerate(config.digests):
        if digest.name in seen:
            problems.append(f"digests[{index}].name: {digest.name!r} is used twice; names must be unique")
        seen.add(digest.name)
        for r_index, r in enumerate(digest.recipients):
            for key, names, known in (("targets", r.targets, watch), ("sources", r.sources, sources)):
                for n_index, name in enumerate(names):
                    if name not in known:
                        problems.append(f"digests[{index}].recipients[{r_index}].{key}[{n_index}]: {name!r} is not "
                                        f"defined; defined: {', '.join(sorted(known)) or 'none'}")
    return problems


def load_config(path: str | os.PathLike = DEFAULT_PATH) -> Config:
    path = str(path)
    try:
        text = Path(path).read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError(path, ["file not found; pass --config PATH or create schedules.yaml "
                                 "(see the sample in the repository)"]) from None
    except IsADirectoryError:
        raise ConfigError(path, ["is a directory; pass the path of the schedules.yaml file itself"]) from None
    except PermissionError:
        raise ConfigError(path, ["cannot be read (permission denied); check the file's owner and mode"]) from None
    except UnicodeDecodeError as exc:
        raise ConfigError(path, [f"not UTF-8 text: {exc}"]) from None
    except OSError as exc:
        raise ConfigError(path, [f"cannot be read: {exc.strerror or exc}"]) from None
    try:
        data = load_yaml(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"line {mark.line + 1}, column {mark.column + 1}: " if mark else ""
        raise ConfigError(path, [f"{where}not valid YAML: {getattr(exc, 'problem', None) or exc}"]) from None
    except RecursionError:   # a construct the depth guard does not see; never a traceback
        raise ConfigError(path, ["not valid YAML: nested too deeply"]) from None
    if data is None:
        # an empty file is more likely a failed copy than a wish to watch nothing
        raise ConfigError(path, ["the file holds no settings (it is empty or only comments); "
                                 "see the sample schedules.yaml"])
    return parse_config(data, path)
