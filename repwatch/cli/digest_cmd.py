from __future__ import annotations

import sys
from datetime import date, timedelta
from pathlib import Path

import click

from repwatch.cli.terminal import echo
from repwatch.cli.app import Context, cli, handle_errors, pass_ctx


@cli.command("digest")
@click.option("--date", "day", metavar="YYYY-MM-DD", help="The local day to report (default: yesterday, "
              "or today for a digest with covers: today).")
@click.option("--to", "to", metavar="ADDR", help="Only this recipient (its filters and locale apply).")
@click.option("--send", is_flag=True, help="Send over SMTP, once per (day, recipient): already sent is skipped.")
@click.option("--out", type=click.Path(dir_okay=False), metavar="FILE.eml", help="Write the email to a file, "
              "without sending.")
@click.option("--html", type=click.Path(dir_okay=False), metavar="FILE.html", help="Also write the HTML part "
              "with the chart beside it (FILE.png), to view in a browser.")
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
        outcomes = send_digest(ctx.db, cfg, job.name, the_day, now, only=[to] if to else None)
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
        write_preview(message, Path(html))
        echo(f"wrote {html} and {Path(html).with_suffix('.png').name}")
    if not (out or html):
        body = message.get_body(("plain",))
        assert body is not None   # a digest always has its plain-text part
        echo(body.get_content())


def write_preview(message, path: Path) -> None:
    """The HTML part with its cid: reference pointed at the chart saved beside it."""
    html_part = message.get_body(("html",))
    chart = next(p for p in message.walk() if p.get_content_type() == "image/png")
    cid = chart["Content-ID"].strip("<>")
    png = path.with_suffix(".png")
    png.write_bytes(chart.get_content())
    path.write_text(html_part.get_content().replace(f"cid:{cid}", png.name), encoding="utf-8")
