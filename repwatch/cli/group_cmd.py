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


BATCH = 256   # posts encoded and scored against the open incidents together (same result as one at a time)


def _parse(line_no: int, line: str, warn):
    """(post, when) or (None, the contract object for a line that is not a post)."""
    if not line.strip():
        warn(f"line {line_no}: empty")
        return None, {"id": None, "incident": None}
    post = None
    try:
        post = json.loads(line)
        if not isinstance(post, dict) or "id" not in post or not isinstance(post.get("text"), str):
            raise ValueError("needs `id` and `text`")
        return (post, _when(post.get("published_at"))), None
    except (ValueError, TypeError) as exc:
        pid = post.get("id") if isinstance(post, dict) else None
        warn(f"line {line_no}: not grouped ({exc})")
        return None, {"id": pid, "incident": None}


def group_lines(lines, grouper, *, warn=lambda msg: None, embed=None, progress=lambda n: None):
    """Yield one contract object per input line. `embed(texts) -> (n, dim) unit vectors` gives the posts'
    sentence vectors (None: words only); lines are read BATCH at a time, each batch's vectors scored
    against the open incidents in one matrix product."""
    from alerts import encoder_text

    first_post: dict[int, object] = {}
    batch: list = []
    done = 0

    def flush():
        nonlocal done
        posts = [(line_no, parsed) for line_no, parsed, _ in batch if parsed is not None]
        # the watch target's name is cut before encoding, as the pipeline does (alerts' encoder_text)
        embs = embed([encoder_text(post["text"], post.get("target") or None) for _, (post, _) in posts]) \
            if embed is not None and posts else None
        placed = iter(grouper.group_batch(
            [{"text": post["text"], "target": post.get("target") or None, "category": post.get("category") or None,
              "when": when, "new_id": line_no} for line_no, (post, when) in posts], embs))
        for line_no, parsed, bad in batch:
            if parsed is None:
                yield bad
                continue
            incident, _ = next(placed)
            first_post.setdefault(incident, parsed[0]["id"])
            yield {"id": parsed[0]["id"], "incident": first_post[incident]}
        done += len(batch)
        progress(done)
        batch.clear()

    for line_no, line in enumerate(lines, start=1):
        parsed, bad = _parse(line_no, line, warn)
        batch.append((line_no, parsed, bad))
        if len(batch) >= BATCH:
            yield from flush()
    if batch:
        yield from flush()


@cli.command("group")
@click.argument("file", type=click.File("r", encoding="utf-8-sig"))
@click.option("--set", "overrides", multiple=True, metavar="KEY=VALUE",
              help="Override a grouping setting (alerts.incidents in docs/alerts.md), e.g. --set threshold=0.4.")
@click.option("--from-config", is_flag=True, help="Use alerts.incidents from the config file instead of the defaults.")
@click.option("--no-encoder", is_flag=True, help="Group on words alone, without sentence vectors (about 40x faster; "
              "the encoder reads about 29 posts per CPU-second).")
@click.option("--quiet", "-q", is_flag=True, help="No progress on standard error.")
@pass_ctx
@handle_errors
def group(ctx: Context, file, overrides: tuple[str, ...], from_config: bool, no_encoder: bool, quiet: bool) -> None:
    """Group FILE.jsonl (one post per line: id, text, optional published_at, target, category) into
    incidents, in input order; print {"id": ..., "incident": ...} per line. `-` reads standard input.
    By meaning: each post's sentence vector (multilingual-e5-small, shipped in the package) and its words,
    the same code `repwatch run` uses; progress goes to standard error every 1,024 lines."""
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

    embed = None
    if not no_encoder and settings.encoder:
        from repwatch.vectors import load_encoder

        embed = load_encoder()
        if embed is None:
            click.echo("the sentence encoder could not be loaded: grouping on words alone (as --no-encoder)", err=True)

    def progress(done: int) -> None:
        if not quiet and done % 1024 == 0:
            click.echo(f"grouped {done:,} lines", err=True)

    for obj in group_lines(file, Grouper(grouping_settings(settings)), warn=warn, embed=embed, progress=progress):
        click.echo(json_line(obj))
    if len(warned) > 10:
        click.echo(f"... {len(warned)} lines not grouped in all", err=True)
    sys.stdout.flush()
