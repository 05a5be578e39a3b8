"""`repwatch sources`: the health of every source, as a table or JSON lines."""
from __future__ import annotations

from datetime import datetime

import click
from sqlalchemy import func

from repwatch.cli.terminal import echo, json_line
from repwatch.cli.app import Context, cli, handle_errors, pass_ctx
from storage.timefmt import local_time

COLUMNS = ("name", "kind", "health", "last run", "last success", "fails", "error kinds", "typical", "last error")
LAST_ERROR_WIDTH = 70


def source_rows(db, config) -> list[dict]:
    """One dict per source: every configured source (never run ones show health 'unknown'),
    plus sources still in the database but no longer in the config."""
    from sqlalchemy import select

    from storage.models import CollectionRun, Source

    with db.session() as s:
        stored = {src.name: src for src in s.scalars(select(Source))}
        last_id = dict(s.execute(select(CollectionRun.source_id, func.max(CollectionRun.id))
                                 .group_by(CollectionRun.source_id)).all())
        last_runs = {r.source_id: r for r in s.scalars(select(CollectionRun).where(
            CollectionRun.id.in_(list(last_id.values()))))} if last_id else {}
        rows = []
        configured = {c.name: c for c in config.sources}
        iso = lambda v: local_time(v, config.tz, "iso", missing=None)  # noqa: E731
        for name in sorted(set(stored) | set(configured)):
            src, cfg = stored.get(name), configured.get(name)
            rows.append({
                "name": name,
                "kind": cfg.kind if cfg else src.kind if src else "",   # one of them is there
                "health": (src.health if src else "unknown") if (cfg is None or cfg.enabled) else "disabled",
                "in_config": cfg is not None,
                "last_run_at": iso(src.last_run_at) if src else None,
                "last_success_at": iso(src.last_success_at) if src else None,
                "last_item_at": iso(src.last_item_at) if src else None,
                "consecutive_failures": src.consecutive_failures if src else 0,
                "error_counts": dict(src.error_counts or {}) if src else {},
                "last_error": src.last_error if src else None,
                "typical_items": round(src.typical_items, 1) if src and src.typical_items is not None else None,
                "paused": bool(src and src.paused),
                "paused_by": src.paused_by if src and src.paused else None,
                "last_run": _run_dict(last_runs.get(src.id), config.tz) if src else None,
            })
    return rows


def _run_dict(run, tz) -> dict | None:
    """The last run, with its problems in full: kind and message (which line or entry, which field, why)."""
    if run is None:
        return None
    return {"status": run.status, "started_at": local_time(run.started_at, tz, "iso", missing=None),
            "new": run.new_count, "duplicates": run.duplicate_count, "failed": run.failed_count,
            "http_status": run.http_status, "error": run.error,
            "problems": [{"kind": p.get("kind"), "message": p.get("message")} for p in (run.problems or [])]}


def _shown(iso: str | None, tz) -> str:
    """A JSON time of source_rows as the table shows it: local, labelled, without the year."""
    return local_time(datetime.fromisoformat(iso), tz, "short") if iso else "never"


def _cells(row: dict, tz) -> list[str]:
    kinds = ", ".join(f"{k}×{v}" for k, v in sorted(row["error_counts"].items(), key=lambda kv: -kv[1]))
    name = row["name"] + ("" if row["in_config"] else " (not in config)")
    health = row["health"] + (" (paused)" if row["paused"] else "")
    last = row["last_run"]
    return [name, row["kind"], health, f"{last['status']} {_shown(last['started_at'], tz)}" if last else "never",
            _shown(row["last_success_at"], tz), str(row["consecutive_failures"]), kinds or "-",
            "-" if row["typical_items"] is None else f"{row['typical_items']:g}", row["last_error"] or "-"]


@cli.command("sources")
@click.option("--json", "as_json", is_flag=True, help="One JSON object per source.")
@pass_ctx
@handle_errors
def sources(ctx: Context, as_json: bool) -> None:
    """Health of every source: last success, failures in a row, error kinds, typical items per run.

    \b
    health: ok | degraded (1-2 failures, or 0 items where it used to return many) | failing (3+ failures
    in a row) | silent (no new item for longer than its expected_period) | unknown (never run) | disabled;
    "(paused)" when an admin paused it on the sources page (runs skip it until resumed).
    Below the table, each source's last-run problems in full (which line or entry, which field, why)."""

    rows = source_rows(ctx.db, ctx.config)
    if as_json:
        for row in rows:
            echo(json_line(row))
        return
    if not rows:
        echo("no sources: add some under `sources:` in the config")
        return
    from repwatch.cli.tables import Col, print_table

    tz = ctx.config.tz
    print_table([Col(h, "right" if h in ("fails", "typical") else "left", flexible=h == "last error",
                     max_width=LAST_ERROR_WIDTH if h == "last error" else None) for h in COLUMNS],
                [_cells(r, tz) for r in rows])
    for row in rows:
        last = row["last_run"]
        if last and last["problems"]:
            echo(f"\n{row['name']}: last run {last['status']}, {len(last['problems'])} problem"
                 f"{'s' if len(last['problems']) != 1 else ''}:")
            for p in last["problems"]:
                echo(f"  - [{p['kind']}] {p['message']}")
