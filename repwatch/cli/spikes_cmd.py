"""`repwatch spikes FILE.csv`: replay a count series through the pipeline's own online detector.

Contract (tooling depends on it): input is CSV with the header `timestamp,value`, one row per time bin,
in time order; output is one JSON object per alarm on stdout,
`{"timestamp": "YYYY-MM-DD HH:MM:SS", "value": n, "expected": x, "score": s}`. Rows are fed one at a
time, so the alarms of a prefix of a file are exactly the full run's alarms up to that point."""
from __future__ import annotations

import csv
import json
import sys
from datetime import datetime

import click

from repwatch.cli.terminal import echo
from repwatch.cli.app import Context, cli, handle_errors, pass_ctx

TIME_FORMAT = "%Y-%m-%d %H:%M:%S"


def parse_time(text: str) -> datetime:
    """`2015-02-26 21:42:53`, or ISO 8601 (`2015-02-26T21:42:53`, fractions, offsets)."""
    return datetime.fromisoformat(text.strip())


def _number(value: float):
    return int(value) if float(value).is_integer() else value


def replay(rows, detector, *, warn=lambda msg: None):
    """Feed (timestamp text, value text) rows through `detector`; yield the contract's alarm objects.
    Bad rows are skipped and reported through `warn`, never fatal: one typo must not hide the rest."""
    for line_no, (stamp, value) in rows:
        try:
            when, count = parse_time(stamp), float(value)
        except (TypeError, ValueError):
            warn(f"line {line_no}: skipped, expected `timestamp,value` like `2015-02-26 21:42:53,104`")
            continue
        if count < 0:
            warn(f"line {line_no}: skipped, a count cannot be negative")
            continue
        if detector.last is not None and when <= detector.last:
            warn(f"line {line_no}: skipped, {stamp.strip()} is not after the previous row (rows must be in time order)")
            continue
        alarm = detector.update(when, count)
        if alarm is not None:
            yield {"timestamp": alarm.bin_time.strftime(TIME_FORMAT), "value": _number(alarm.value),
                   "expected": round(alarm.expected, 3), "score": round(alarm.score, 3)}


def read_rows(handle):
    reader = csv.reader(handle)
    header = next(reader, None)
    if header is None or [h.strip().lower() for h in header[:2]] != ["timestamp", "value"]:
        raise click.ClickException("the first line must be the header `timestamp,value`")
    for line_no, row in enumerate(reader, start=2):
        if not row or not "".join(row).strip():
            continue
        yield line_no, (row[0], row[1] if len(row) > 1 else None)


@cli.command("spikes")
@click.argument("file", type=click.File("r", encoding="utf-8-sig"))
@click.option("--set", "overrides", multiple=True, metavar="KEY=VALUE",
              help="Override a detector setting (alerts.detect in docs/alerts.md), e.g. --set cooldown=24h.")
@click.option("--from-config", is_flag=True, help="Use alerts.detect from the config file instead of the defaults.")
@pass_ctx
@handle_errors
def spikes(ctx: Context, file, overrides: tuple[str, ...], from_config: bool) -> None:
    """Replay FILE.csv (header `timestamp,value`, one row per bin, in time order) through the online
    spread detector; print one JSON object per alarm. `-` reads standard input."""
    from pydantic import ValidationError

    from alerts import DetectorSettings, SpreadDetector

    base = ctx.config.alerts.detect.model_dump() if from_config else {}
    try:
        pairs = dict(item.split("=", 1) for item in overrides)
    except ValueError:
        raise click.UsageError("--set takes KEY=VALUE, e.g. --set cooldown=24h") from None
    try:
        settings = DetectorSettings.model_validate({**base, **pairs})
    except ValidationError as exc:
        raise click.UsageError("; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors())) from None
    skipped = []

    def warn(msg: str) -> None:
        skipped.append(msg)
        if len(skipped) <= 10:
            echo(msg, err=True)

    for alarm in replay(read_rows(file), SpreadDetector(settings), warn=warn):
        echo(json.dumps(alarm))
    if len(skipped) > 10:
        echo(f"... {len(skipped)} rows skipped in all", err=True)
    sys.stdout.flush()
