from __future__ import annotations

from datetime import datetime


from repwatch.cli.terminal import echo
from repwatch.cli.app import Context, cli, handle_errors, pass_ctx


@cli.command("status")
@pass_ctx
@handle_errors
def status(ctx: Context) -> None:
    """Scheduler heartbeat, last cron run, locks, and per source and digest the last and next run."""
    from repwatch.heartbeat import CRON, SCHEDULER
    from repwatch.status import ago, gather_status

    cfg = ctx.config
    now = ctx.clock().now()
    st = gather_status(ctx.db, cfg, now)

    def when(dt) -> str:
        return ctx.when(dt, "short")

    beat = st.beats.get(SCHEDULER)
    alive = st.scheduler_alive(cfg)
    if beat is None:
        echo("scheduler: never started (cron mode, or not set up)")
    elif alive is None:
        echo(f"scheduler: stopped ({ago(now, beat.at)})")
    else:
        d = beat.detail
        state = "running" if alive else "NOT RESPONDING (heartbeat stale: dead or hung?)"
        echo(f"scheduler: {state} on {d.get('host')} pid {beat.pid}, last heartbeat {ago(now, beat.at)}, "
             f"{len(d.get('jobs') or [])} jobs")
        reload = d.get("reload") or {}
        if reload and not reload.get("ok"):
            first = (reload.get("error") or "").splitlines()
            at = datetime.fromisoformat(reload["at"]) if reload.get("at") else None
            echo(f"  last reload FAILED at {when(at)}; old jobs kept: {' '.join(first[1:2]) or first[:1]}")
    cron = st.beats.get(CRON)
    if cron is not None:
        d = cron.detail
        sent = sum(1 for x in d.get("digests", []) if x.get("status") == "sent")
        echo(f"cron (run --due): last {ago(now, cron.at)}; ran {len(d.get('ran', []))} sources, "
             f"sent {sent} digests")
    for name, info in st.locks.items():
        echo(f"lock {name}: " + (info.describe(now, ctx.tz) if info else "free"))
    echo("sources:")
    if st.sources:
        from repwatch.cli.tables import Col, render

        table = render([Col("source"), Col("schedule"), Col("last run"), Col("status"), Col("next"), Col("health")],
                       [[due.name, due.schedule.describe(), when(due.last_run), last_status or "-",
                         "due now" if due.due else when(due.next_fire), health or "-"] for due, last_status, health
                        in st.sources])
        for line in table.splitlines():
            echo("  " + line)
    if st.digests:
        echo("digests:")
    for due, counts, day in st.digests:
        tally = ", ".join(f"{n} {s}" for s, n in sorted(counts.items())) or "none sent yet"
        waiting = [f"{len(due.pending)} recipients"] if due.pending else []
        waiting += [f"{len(due.channels)} channels"] if due.channels else []
        state = f"due now for {' and '.join(waiting)}" if due.due else f"next {when(due.next_fire)}"
        echo(f"  {due.job.name:<24} {due.job.schedule.describe():<18} latest day {day or '-'}: {tally}; {state}")
        if counts.get("pending"):
            echo("    a temporary failure is retried by the digest's next runs (alerts.delivery.retry_backoff)")
