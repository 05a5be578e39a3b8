"""schedules.yaml, loaded strictly.

Order, as in Alertmanager: read YAML, interpolate ${ENV} secrets, validate every section against its
stage's own settings model (unknown keys are errors, defaults filled in), then check cross-field rules.
Every problem is reported at once, with the file, the key path and what was expected; values are
never echoed, so a secret cannot leak into a log."""
from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Any, Mapping, Optional
from zoneinfo import ZoneInfo

import yaml
from pydantic import BaseModel, ConfigDict, Field, PrivateAttr, ValidationError

from alerts import AlertSettings, get_notifier
from collectors.registry import get_collector
from collectors.settings import HttpSettings
from repwatch.config_yaml import key_lines, load_yaml
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


class TrainingSettings(Strict):
    """`repwatch train`: how much the team's corrections count."""

    corrections_weight: float = Field(default=3.0, ge=0, le=1000, description="sample weight of each corrected "
                                      "mention against 1 for a corpus text; 0 leaves the corrections out")


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
    training: TrainingSettings = TrainingSettings()


    # values taken from the environment; see redact()
    _secrets: frozenset[str] = PrivateAttr(default=frozenset())
    # line of each key path in the file it was read from; see config_warnings()
    _lines: dict = PrivateAttr(default_factory=dict)

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


# Pydantic's own wording ("relative URL without a base", "Input should be a valid integer, unable to
# parse string as an integer") is written for programmers; the common error types get plain words.
_PLAIN = {
    "url_parsing": "not a full web address; write it with its scheme and host, e.g. https://example.com/feed.xml",
    "url_type": "expected a web address such as https://example.com/feed.xml",
    "url_scheme": "this kind of address is not allowed here; expected one starting with {expected_schemes}",
    "url_too_long": "the address is too long",
    "int_parsing": "expected a whole number",
    "int_type": "expected a whole number",
    "int_from_float": "expected a whole number, not a fraction",
    "int_parsing_size": "the number is too large",
    "float_parsing": "expected a number",
    "float_type": "expected a number",
    "bool_parsing": "expected true or false",
    "bool_type": "expected true or false",
    "string_type": "expected text",
    "list_type": "expected a list (lines starting with '- ', or [a, b])",
    "dict_type": "expected a section of settings (key: value lines)",
    "model_type": "expected a section of settings (key: value lines)",
    "model_attributes_type": "expected a section of settings (key: value lines)",
    "greater_than": "must be more than {gt}",
    "greater_than_equal": "must be at least {ge}",
    "less_than": "must be less than {lt}",
    "less_than_equal": "must be at most {le}",
    "string_too_long": "must be at most {max_length} characters long",
    "too_short": "needs at least {min_length} entries",
    "too_long": "takes at most {max_length} entries",
    "literal_error": "expected {expected}",
    "enum": "expected {expected}",
    "finite_number": "expected an ordinary number (not inf or nan)",
    "none_required": "must be left empty",
}
# the type errors: for these the kind of value found is said too ("expected a whole number; got text")
_TYPE_ERRORS = {"url_type", "int_parsing", "int_type", "float_parsing", "float_type", "bool_parsing", "bool_type",
                "string_type", "list_type", "dict_type", "model_type", "model_attributes_type"}
_FOUND = {"str": "text", "int": "a number", "float": "a number", "bool": "true/false", "list": "a list",
          "dict": "a section of settings", "NoneType": "nothing (an empty value)"}


def _plain(err: Mapping[str, Any]) -> str:
    kind, ctx = err["type"], err.get("ctx") or {}
    if kind == "extra_forbidden":
        return "unknown key (check the spelling; see the README for the keys this section takes)"
    if kind == "missing":
        return "required key is missing"
    if kind == "string_too_short":
        return "must not be empty" if ctx.get("min_length") == 1 else \
            f"must be at least {ctx.get('min_length')} characters long"
    if kind == "string_pattern_mismatch":
        if ctx.get("pattern") == NAME:
            return "names may hold only letters, digits, '_', '.' and '-', and start with a letter or digit"
        return "does not have the expected form"
    if kind in _PLAIN:
        try:
            msg = _PLAIN[kind].format(**ctx)
        except (KeyError, IndexError):
            msg = err["msg"]
        if kind in _TYPE_ERRORS and "input" in err:
            found = type(err["input"]).__name__
            msg += f"; got {_FOUND.get(found, found)}"
        return msg
    # our own validators' messages are already written for people
    return err["msg"].removeprefix("Value error, ").removeprefix("Assertion failed, ")


def _describe(err: Mapping[str, Any], prefix: tuple = ()) -> str:
    loc = prefix + tuple(p for p in err["loc"] if not (isinstance(p, str) and p.startswith("function-")))
    return f"{_path(loc)}: {_plain(err)}"


_PARENT = re.compile(r"(\.[^.\[]+|\[\d+\])$")


def locate(problems: list[str], lines: dict[tuple, int]) -> list[str]:
    """Each problem "key.path: what" prefixed with the line of that key in the file, or of the nearest
    enclosing key that is there (a missing key is reported at the line of its section or list entry);
    sorted by line, so they read in the order of the file."""
    if not lines:
        return problems
    by_path = {_path(loc): line for loc, line in lines.items()}
    out = []
    for problem in problems:
        where, sep, _ = problem.partition(": ")
        line = None
        while sep and where and line is None:
            line = by_path.get(where)
            shorter = _PARENT.sub("", where)
            if shorter == where:
                break
            where = shorter
        out.append((line or 0, f"line {line}: {problem}" if line else problem))
    return [problem for _, problem in sorted(out, key=lambda lp: lp[0])]   # in the order of the file


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


def _plugin_options(section: str, items: list, raw: list, lookup, problems: list[str],
                    indices: list[int] | None = None) -> list:
    """Validate each entry's kind-specific keys with the plugin's own Options model. `indices` are the
    entries' positions in the file when some entries were left out for errors of their own."""
    out = []
    for position, item in enumerate(items):
        index = indices[position] if indices is not None else position
        try:
            plugin = lookup(item.kind)
        except (UnknownPlugin, BadPlugin) as exc:
            problems.append(f"{section}[{index}].kind: {exc}")
            continue
        extra = {k: v for k, v in raw[position].items() if k not in type(item).model_fields}
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


_LISTS = ("sources", "notify", "watch", "digests")


def _validate_partially(data: dict) -> tuple[Config | None, dict[str, list[int]], dict, list[str]]:
    """Config.model_validate, going on past the first errors: a section (or list entry) with an error is
    left out and the rest validated again, so the cross-field and plugin checks still see every good
    part and one pass reports every problem. Returns the config of the good parts, the file positions
    of the list entries kept, the data they came from, and the problems."""
    problems: list[str] = []
    pruned = dict(data)
    kept = {s: list(range(len(data[s]))) for s in _LISTS if isinstance(data.get(s), list)}
    for _ in range(10):
        try:
            return Config.model_validate(pruned), kept, pruned, problems
        except ValidationError as exc:
            drop_sections: set = set()
            drop_items: dict[str, set[int]] = {}
            for err in exc.errors():
                loc = list(err["loc"])
                if len(loc) > 1 and loc[0] in kept and isinstance(loc[1], int) and loc[1] < len(kept[loc[0]]):
                    drop_items.setdefault(loc[0], set()).add(loc[1])
                    loc[1] = kept[loc[0]][loc[1]]
                elif loc:
                    drop_sections.add(loc[0])
                else:   # a problem with the whole file: nothing to leave out
                    drop_sections.add(None)
                problems.append(_describe({**err, "loc": tuple(loc)}))
            if None in drop_sections:
                break
            for section in drop_sections:
                pruned.pop(section, None)
                kept.pop(section, None)
            for section, positions in drop_items.items():
                if section in kept:
                    pruned[section] = [v for i, v in enumerate(pruned[section]) if i not in positions]
                    kept[section] = [v for i, v in enumerate(kept[section]) if i not in positions]
    return None, kept, pruned, problems


def parse_config(data: Any, path: str = DEFAULT_PATH, lines: dict[tuple, int] | None = None) -> Config:
    """The validated config, or ConfigError listing every problem (each with its line when `lines`,
    the key paths' line numbers from config_yaml.key_lines, are given)."""
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise ConfigError(path, [f"(top level): expected a mapping of sections, got {type(data).__name__}"])
    problems: list[str] = []
    secrets: set[str] = set()
    data = interpolate(data, (), problems, secrets)
    config, kept, pruned, invalid = _validate_partially(data)
    problems.extend(invalid)
    if config is None:
        raise ConfigError(path, locate(redact(problems, secrets), lines or {}))
    sources = _plugin_options("sources", config.sources, pruned.get("sources") or [], get_collector, problems,
                              kept.get("sources"))
    notify = _plugin_options("notify", config.notify, pruned.get("notify") or [], get_notifier, problems,
                             kept.get("notify"))
    problems.extend(_cross_checks(config, kept, data))
    if problems:
        raise ConfigError(path, locate(redact(problems, secrets), lines or {}))
    config = config.model_copy(update={"sources": sources, "notify": notify})
    config._secrets = frozenset(secrets)
    config._lines = dict(lines or {})
    return config


def _raw_names(raw: dict | None, section: str) -> set[str]:
    """Names of a section's entries as written, those left out for errors of their own included, so a
    reference to them is not reported as a second, false problem."""
    entries = (raw or {}).get(section)
    if not isinstance(entries, list):
        return set()
    return {e["name"] for e in entries if isinstance(e, dict) and isinstance(e.get("name"), str)}


def _cross_checks(config: Config, kept: dict[str, list[int]] | None = None, raw: dict | None = None) -> list[str]:
    """Rules across entries and sections. `kept`: the file positions of the list entries validated
    (entries with errors of their own are left out), so each problem names the entry as written."""
    kept = kept or {}

    def at(section: str, index: int) -> int:
        positions = kept.get(section)
        return positions[index] if positions is not None and index < len(positions) else index

    problems = []
    # names as written, entries with errors of their own included: two `news` are one problem either way
    for section in ("sources", "notify", "watch", "digests"):
        entries = (raw or {}).get(section)
        if not isinstance(entries, list):
            entries = [item.model_dump() for item in getattr(config, section)]
        seen: set[str] = set()
        for index, entry in enumerate(entries):
            name = entry.get("name") if isinstance(entry, dict) else None
            if not isinstance(name, str):
                continue
            if name in seen:
                problems.append(f"{section}[{index}].name: {name!r} is used twice; names must be unique")
            seen.add(name)
    watch = {t.name for t in config.watch} | _raw_names(raw, "watch")
    for index, source in enumerate(config.sources):
        for t_index, target in enumerate(source.targets):
            if target not in watch:
                problems.append(f"sources[{at('sources', index)}].targets[{t_index}]: no watch target named {target!r}; "
                                f"defined: {', '.join(sorted(watch)) or 'none'}")
    names = {n.name for n in config.notify} | _raw_names(raw, "notify")
    for index, name in enumerate(config.alerts.notify or []):
        if name not in names:
            problems.append(f"alerts.notify[{index}]: no notifier named {name!r}; defined: {', '.join(sorted(names)) or 'none'}")
    for index, n in enumerate(config.notify):
        if n.min_severity not in SEVERITIES:
            problems.append(f"notify[{at('notify', index)}].min_severity: expected one of {', '.join(SEVERITIES)}")
    problems.extend(_digest_checks(config, watch, at, raw))
    return problems


def _digest_checks(config: Config, watch: set[str], at=lambda section, index: index,
                   raw: dict | None = None) -> list[str]:
    """Every recipient filter and digest channel names something that exists (unique names: _cross_checks)."""
    problems = []
    sources = {s.name for s in config.sources} | _raw_names(raw, "sources")
    notifiers = {n.name for n in config.notify} | _raw_names(raw, "notify")
    for index, digest in enumerate(config.digests):
        for n_index, name in enumerate(digest.notify):
            if name not in notifiers:
                problems.append(f"digests[{at('digests', index)}].notify[{n_index}]: no notifier named {name!r}; "
                                f"defined: {', '.join(sorted(notifiers)) or 'none'}")
        for r_index, r in enumerate(digest.recipients):
            for key, names, known in (("targets", r.targets, watch), ("sources", r.sources, sources)):
                for n_index, name in enumerate(names):
                    if name not in known:
                        problems.append(f"digests[{at('digests', index)}].recipients[{r_index}].{key}[{n_index}]: {name!r} is not "
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
    return parse_config(data, path, key_lines(text))


def config_warnings(config: Config) -> list[str]:
    """Things a valid config allows but that are most likely mistakes, for `check-config`: an import
    folder that is not there (the source would fail on every run) and no notifier at all (alerts
    would be stored but reach nobody). Each with its line, like the errors."""
    warnings = []
    for index, source in enumerate(config.sources):
        folder = getattr(source.options, "path", None) if source.kind == "import" else None
        if folder and not Path(folder).is_dir():
            warnings.append(f"sources[{index}].path: import folder {folder!r} does not exist (relative to "
                            f"{Path.cwd()}); create it or fix the path")
    if not config.notify:
        warnings.append("notify: no notifiers are configured, so alerts are stored but sent to nobody; "
                        "add one under `notify:` (see the README)")
    return locate(redact(warnings, config._secrets), config._lines)
