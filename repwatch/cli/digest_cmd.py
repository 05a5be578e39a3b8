from __future__ import annotations

import sys
from datetime import date, timedelta
from pathlib import Path

import click

from repwatch.cli.terminal import echo
from repwatch.cli.app import Context, cli, handle_errors, pass_ctx
from repwatch.exceptions import RepwatchError


@cli.command("digest")
@click.option("--date", "day", metavar="YYYY-MM-DD", help="The local day to report (default: yesterday, "
              "or today for a digest with covers: today).")
@click.option("--to", "to", metavar="ADDR", help="Only this recipient (its filters and locale apply).")
@click.option("--send", is_flag=True, help="Send to every recipient and channel, once per day: already sent is skipped.")
@click.option("--out", type=click.Path(dir_okay=False), metavar="FILE.eml", help="Write the email to a file, "
              "without sending.")
@click.option("--html", type=click.Path(dir_okay=False), metavar="FILE.html", help="Also write the HTML part "
              "with the charts beside it (FILE-hourly.png, FILE-trend.png), to view in a browser.")
@click.option("--digest", "name", help="Which entry of `digests:` (needed when there are several).")
@pass_ctx
@handle_errors
def digest(ctx: Context, day: str | None, to: str | None, send: bool, out: str | None, html: str | None,
           name: str | None) -> None:
    """The daily digest email: figures vs the day before, incidents and spikes, tickets, categories,
    top negative posts, source health, with an inline chart.

    Without --send or --out it prints the text part."""
    from alerts import Recipient
    from repwatch.digests import build, digest_zone, find_job, send_digest, write_eml

    if send and (out or html):
        raise click.UsageError("--send sends; --out and --html write files. Pick one.")
    cfg = ctx.config
    job = find_job(cfg, name)
    now = ctx.clock().now()
    if day is None:
        today = now.astimezone(digest_zone(cfg, job)).date()
        the_day = today - timedelta(days=1) if job.covers == "yesterday" else today
    else:
        try:
            the_day = date.fromisoformat(day)
        except ValueError:
            raise click.BadParameter(f"{day!r} is not a date like 2026-11-22", param_hint="--date") from None
    if send:
        from repwatch.jobs import RunLockBusy, locked_run

        # the run lock, as the scheduler's and cron's digest runs take it: one sender at a time
        try:
            with locked_run(ctx.db, ctx.clock(), cfg.scheduler.lock_lease):
                outcomes = send_digest(ctx.db, cfg, job.name, the_day, now, only=[to] if to else None,
                                       with_channels=not to)
        except RunLockBusy as busy:
            raise RepwatchError(f"{busy}; try again when it is done") from None
        if to and not outcomes:
            raise click.UsageError(f"{to} is not a recipient of digest {job.name!r}; recipients: "
                                   + ", ".join(r.to for r in job.recipients))
        for o in outcomes:
            echo(o.line())
        if any(o.status in ("failed", "retry_later") for o in outcomes):
            sys.exit(1)
        return
    if to:
        recipient = job.recipient(to) or Recipient(to=to)
    elif len(job.recipients) == 1:
        recipient = job.recipients[0]
    else:
        raise click.UsageError("this digest has several recipients with their own filters; pick one with --to")
    message = build(ctx.db, cfg, job, recipient, the_day, now)
    if out:
        write_eml(message, out)
        echo(f"wrote {out}: {message['Subject']}")
    if html:
        images = write_preview(message, Path(html))
        echo(f"wrote {html}" + "".join(f" and {p.name}" for p in images))
    if not (out or html):
        body = message.get_body(("plain",))
        assert body is not None   # a digest always has its plain-text part
        echo(body.get_content())


def write_preview(message, path: Path) -> list[Path]:
    """The HTML part with its cid: references pointed at the charts saved beside it (FILE-hourly.png,
    FILE-trend.png; none for a digest with nothing to chart)."""
    page = message.get_body(("html",)).get_content()
    written: list[Path] = []
    for part in message.walk():
        if part.get_content_maintype() != "image" or not part["Content-ID"]:
            continue
        name = (part.get_filename() or f"chart{len(written)}.png").removeprefix("repwatch-")
        image = path.with_name(f"{path.stem}-{name}")
        image.write_bytes(part.get_content())
        page = page.replace(f"cid:{part['Content-ID'].strip('<>')}", image.name)
        written.append(image)
    path.write_text(page, encoding="utf-8")
    return written
