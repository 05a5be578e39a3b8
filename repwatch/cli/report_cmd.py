"""`repwatch report`: the manager's figures over a period (alerts/reports.py, the same as /reports and
GET /api/reports), as a table, CSV or JSON."""
from __future__ import annotations

import csv
import io
from datetime import date, timedelta

import click

from repwatch.cli.app import Context, cli, handle_errors, pass_ctx
from repwatch.cli.terminal import echo, json_line

GROUPINGS = ("severity", "category", "department")


def _table(header: list[str], rows: list[list[str]]) -> list[str]:
    """Rows measured in terminal cells (rich): labels left, figures right-aligned."""
    from repwatch.cli.tables import Col, render

    cols = [Col(h, "left" if i == 0 else "right", flexible=i == 0) for i, h in enumerate(header)]
    return render(cols, rows).rstrip("\n").split("\n")


def _h(v) -> str:
    return "-" if v is None else f"{v:g}"


def _pct(v) -> str:
    return "-" if v is None else f"{v * 100:.0f}%"


def _day(text: str | None, name: str) -> date | None:
    if text is None:
        return None
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise click.BadParameter(f"{text!r} is not a date like 2026-11-01", param_hint=name) from None


def _settings(ctx: Context):
    """The team's timezone and watch targets; the defaults when there is no valid config, so a report
    on a database does not need the collectors' config to be valid."""
    from repwatch.config import Config
    from repwatch.exceptions import ConfigError

    try:
        cfg = ctx.config
    except ConfigError:
        cfg = Config()
    return cfg.tz, [(w.name, w.kind) for w in cfg.watch]


def group_lines(report, by) -> list[str]:
    header = ["分组 group", "工单 tickets", "首响中位 1st resp median h", "首响P90 h", "解决中位 resolve median h",
              "解决P90 h", "首响达标 1st resp in SLA", "解决达标 resolve in SLA", "满意 satisfied"]
    lines = []
    for kind in ("all",) + tuple(by):
        groups = [report.total] if kind == "all" else report.groups[kind]
        rows = [[f"{g.label_zh} {g.label_en}" if g.label_zh != g.label_en else g.label_zh,
                 str(g.tickets), _h(g.first_response.median_hours), _h(g.first_response.p90_hours),
                 _h(g.resolution.median_hours), _h(g.resolution.p90_hours),
                 f"{_pct(g.first_response_sla.share)} ({g.first_response_sla.met}/"
                 f"{g.first_response_sla.met + g.first_response_sla.missed})",
                 f"{_pct(g.resolution_sla.share)} ({g.resolution_sla.met}/"
                 f"{g.resolution_sla.met + g.resolution_sla.missed})",
                 f"{_pct(g.satisfaction)} ({g.satisfied}/{g.asked})"] for g in groups]
        title = {"all": "全部 all", "severity": "按严重程度 by severity", "category": "按类别 by category",
                 "department": "按部门 by department"}[kind]
        lines += ["", f"## {title}"] + (_table(header, rows) if rows else ["  (无工单 no tickets)"])
    return lines


def other_lines(report) -> list[str]:
    from storage.vocabulary import label

    lines = ["", f"## 类别趋势 complaints by category, per {'week' if report.bin == 'week' else 'day'} (工单 tickets)"]
    if report.categories:
        header = ["类别 category"] + [d.strftime("%m-%d") for d in report.bins]
        rows = [[f"{label('category', c, 'zh')} {label('category', c, 'en')}"] + [str(n) for n in counts]
                for c, counts in report.by_category_over_time.items()]
        lines += _table(header, rows)
    else:
        lines.append("  (无工单 no tickets)")
    lines += ["", "## 重复投诉人 repeat complainants (same author, across sources)"]
    rows = [[c.author, str(c.posts), ", ".join(c.sources), " ".join(f"#{t}" for t in c.tickets) or "-"]
            for c in report.repeat_complainants]
    lines += _table(["作者 author", "投诉 posts", "来源 sources", "工单 tickets"], rows) if rows else ["  (无 none)"]
    lines += ["", "## 投诉来源 top sources"]
    rows = [[s.name, str(s.complaints)] for s in report.top_sources]
    lines += _table(["来源 source", "投诉 complaints"], rows) if rows else ["  (无 none)"]
    lines += ["", "## 监测对象对比 watch targets side by side"]
    rows = [[t.name, t.kind, str(t.mentions), _pct(t.negative_share), str(t.complaints),
             ", ".join(f"{label('category', c, 'zh')} {n}" for c, n in sorted(t.categories.items(),
                                                                             key=lambda kv: -kv[1])) or "-"]
            for t in report.targets]
    lines += (_table(["对象 target", "kind", "提及 mentions", "负面 negative", "投诉 complaints", "类别 categories"], rows)
              if rows else ["  (未配置 watch: none configured)"])
    return lines


@cli.command("report")
@click.option("--since", metavar="YYYY-MM-DD", help="First local day (team's timezone). Default: 30 days "
              "up to --until.")
@click.option("--until", metavar="YYYY-MM-DD", help="Last local day, included. Default: today.")
@click.option("--by", "by", multiple=True, type=click.Choice(GROUPINGS),
              help="Group the timings by these (repeatable). Default: all three.")
@click.option("--format", "fmt", type=click.Choice(["table", "csv", "json"]), default="table", show_default=True,
              help="csv: one row per group (the timing figures); json: every figure, one object.")
@click.option("--per", type=click.Choice(["day", "week"]), help="Bins of the complaints-by-category trend. "
              "Default: day up to 62 days, week beyond.")
@pass_ctx
@handle_errors
def report(ctx: Context, since: str | None, until: str | None, by: tuple[str, ...], fmt: str,
           per: str | None) -> None:
    """The manager's report over a period: time to first response and to resolution (median, 90th
    percentile) per severity, category and department; share within SLA; satisfaction from follow-ups;
    complaints by category over time; repeat complainants; top sources; watch targets side by side."""
    from alerts import build_report, period

    tz, targets = _settings(ctx)
    now = ctx.clock().now()
    try:
        start, end = period(_day(since, "--since"), _day(until, "--until"), tz, now)
    except ValueError as exc:
        raise click.UsageError(str(exc)) from None
    by = tuple(by) or GROUPINGS
    with ctx.db.session() as s:
        r = build_report(s, start, end, now=now, tz=tz, targets=targets, per=per)
    if fmt == "json":
        data = r.as_json()
        data["groups"] = {k: v for k, v in data["groups"].items() if k in by}
        echo(json_line(data))
        return
    if fmt == "csv":
        rows = r.rows(by)
        buf = io.StringIO()
        writer = csv.DictWriter(buf, fieldnames=list(rows[0]), lineterminator="\n")
        writer.writeheader()
        writer.writerows(rows)
        echo(buf.getvalue(), nl=False)
        return
    last_day = (end.astimezone(tz) - timedelta(days=1)).date()
    echo(f"报告 report {start.astimezone(tz):%Y-%m-%d} .. {last_day:%Y-%m-%d} ({tz.key}), "
         f"generated {ctx.when(now)}")
    echo("times in hours from opening (or reopening); SLA share = met / (met + missed), tickets still "
         "within their due time left out")
    for line in group_lines(r, by) + other_lines(r):
        echo(line)
    if r.truncated:
        echo("note: more posts than the report reads; post-based figures are partial")
