"""`repwatch group FILE.jsonl`: group posts into incidents with the pipeline's own online grouping.

Contract (tooling depends on it): input is JSON Lines, one post per line, `{"id": ..., "text": "...",
"published_at": "2026-11-20T08:00:00+08:00", "target": "快送外卖", "category": "delivery"}` (only `id`
and `text` are required); output is one JSON object per input line, in input order,
`{"id": <the post's id>, "incident": <the id of the incident's first post>}`. Posts are placed one at a
time, in input order, by alerts.incidents.grouping (the code `repwatch run` uses), so the output for a prefix of a
file is exactly the full run's output for those lines. A line that is not a post gets
`{"id": null, "incident": null}` (or its id, when it has one) and a warning on standard error."""
from __future__ import annotations

import json
import sys
from datetime import datetime, timezone

import click

from repwatch.cli.app import Context, cli, handle_errors, pass_ctx
from repwatch.cli.terminal import json_line


def _when(value) -> datetime | None:
    if value in (None, ""):
        return None
    when = datetime.fromisoformat(str(value).strip().replace("Z", "+00:00"))
    return when if when.tzinfo else when.replace(tzinfo=timezone.utc)


def group_lines(lines, grouper, *, warn=lambda msg: None):
    """Yield one contract object per input line."""
    first_post: dict[int, object] = {}
    for line_no, line in enumerate(lines, start=1):
        if not line.strip():
            warn(f"line {line_no}: empty")
            yield {"id": None, "incident": None}
            continue
        post = None
        try:
            post = json.loads(line)
            if not isinstance(post, dict) or "id" not in post or not isinstance(post.get("text"), str):
                raise ValueError("needs `id` and `text`")
            when = _when(post.get("published_at"))
        except (ValueError, TypeError) as exc:
            pid = post.get("id") if isinstance(post, dict) else None
            warn(f"line {line_no}: not grouped ({exc})")
            yield {"id": pid, "incident": None}
            continue
        incident, _ = grouper.group(post["text"], target=post.get("target") or None,
                                    category=post.get("category") or None, when=when, new_id=line_no)
        first_post.setdefault(incident, post["id"])
        yield {"id": post["id"], "incident": first_post[incident]}


@cli.command("group")
@click.argument("file", type=click.File("r", encoding="utf-8-sig"))
@click.option("--set", "overrides", multiple=True, metavar="KEY=VALUE",
              help="Override a grouping setting (alerts.incidents in docs/alerts.md), e.g. --set threshold=0.4.")
@click.option("--from-config", is_flag=True, help="Use alerts.incidents from the config file instead of the defaults.")
@pass_ctx
@handle_errors
def group(ctx: Context, file, overrides: tuple[str, ...], from_config: bool) -> None:
    """Group FILE.jsonl (one post per line: id, text, optional published_at, target, category) into
    incidents, in input order; print {"id": ..., "incident": ...} per line. `-` reads standard input."""
    from pydantic import ValidationError

    from alerts import Grouper, IncidentSettings, grouping_settings

    base = ctx.config.alerts.incidents.model_dump() if from_config else {}
    try:
        pairs = dict(item.split("=", 1) for item in overrides)
    except ValueError:
        raise click.UsageError("--set takes KEY=VALUE, e.g. --set threshold=0.4") from None
    try:
        settings = IncidentSettings.model_validate({**base, **pairs})
    except ValidationError as exc:
        raise click.UsageError("; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors())) from None
    warned = []

    def warn(msg: str) -> None:
        warned.append(msg)
        if len(warned) <= 10:
            click.echo(msg, err=True)

    for obj in group_lines(file, Grouper(grouping_settings(settings)), warn=warn):
        click.echo(json_line(obj))
    if len(warned) > 10:
        click.echo(f"... {len(warned)} lines not grouped in all", err=True)
    sys.stdout.flush()
