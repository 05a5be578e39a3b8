"""Charts as inline SVG, drawn on the server: no script, nothing to download, works offline and under
the strict CSP. Colours come from classes in app.css. Every label passes through `escape`."""
from __future__ import annotations

from datetime import datetime
from typing import Sequence
from zoneinfo import ZoneInfo

from markupsafe import Markup, escape

from storage.timefmt import local_time

W, H = 720, 230
LEFT, RIGHT, TOP, BOTTOM = 44, 48, 14, 34


def _nice_max(value: float) -> float:
    if value <= 0:
        return 1
    for step in (1, 2, 5, 10, 20, 25, 50, 100, 200, 250, 500, 1000, 2000, 5000, 10000):
        if value <= step:
            return step
    return float(int(value * 1.2))


def _fmt(n: float) -> str:
    return f"{n:.1f}".rstrip("0").rstrip(".") if n % 1 else str(int(n))


def bar_line_chart(bins: Sequence[datetime], bars: Sequence[float], line: Sequence[float | None], *, tz: ZoneInfo,
                   time_fmt: str, bar_name: str, line_name: str, line_share: bool = False,
                   caption: str = "", width: int = W) -> Markup:
    """Bars (counts per bin) with a line over them: the expected level, or a 0–100 % share on its own axis.
    `width` is the drawing's own width: match it roughly to the box it fills, so text stays ~12px."""
    W = width  # noqa: N806
    n = max(len(bins), 1)
    plot_w, plot_h = W - LEFT - RIGHT, H - TOP - BOTTOM
    slot = plot_w / n
    line_values = [v for v in line if v is not None]
    # counts: at least 0–2, so small numbers get whole-number gridlines (0, 1, 2), not 0.5
    top = max(_nice_max(max([*bars, *([] if line_share else line_values)], default=0)), 2)
    y = lambda v: TOP + plot_h - (v / top) * plot_h  # noqa: E731
    y_line = (lambda v: TOP + plot_h - v * plot_h) if line_share else y
    parts = [f'<svg class="chart" viewBox="0 0 {W} {H}" role="img" aria-label="{escape(caption or bar_name)}">']
    if caption:
        parts.append(f"<title>{escape(caption)}</title>")
    for frac in (0, 0.5, 1):  # grid and left axis
        gy = TOP + plot_h - frac * plot_h
        parts.append(f'<line class="grid" x1="{LEFT}" x2="{W - RIGHT}" y1="{gy:.1f}" y2="{gy:.1f}"/>')
        parts.append(f'<text class="axis" x="{LEFT - 6}" y="{gy + 4:.1f}" text-anchor="end">{_fmt(top * frac)}</text>')
        if line_share:
            parts.append(f'<text class="axis share" x="{W - RIGHT + 6}" y="{gy + 4:.1f}">{int(frac * 100)}%</text>')
    for i, (b, v) in enumerate(zip(bins, bars)):
        x = LEFT + i * slot + slot * 0.15
        label = f"{local_time(b, tz, fmt=time_fmt)}: {_fmt(v)} {bar_name}"   # the tooltip names the zone
        if v:
            parts.append(f'<rect class="bar" x="{x:.1f}" y="{y(v):.1f}" width="{slot * 0.7:.1f}" '
                         f'height="{TOP + plot_h - y(v):.1f}"><title>{escape(label)}</title></rect>')
    every = max(1, -(-n // 6))  # at most ~6 time labels, so they never overlap
    for i, b in enumerate(bins):
        if i % every == 0:
            x = LEFT + i * slot + slot / 2
            parts.append(f'<text class="axis" x="{x:.1f}" y="{H - BOTTOM + 16}" text-anchor="middle">'
                         f"{escape(b.astimezone(tz).strftime(time_fmt))}</text>")
    points = [(LEFT + i * slot + slot / 2, y_line(v)) for i, v in enumerate(line) if v is not None]
    if points:
        path = " ".join(f"{'M' if k == 0 else 'L'}{px:.1f},{py:.1f}" for k, (px, py) in enumerate(points))
        parts.append(f'<path class="{"share" if line_share else "expected"}" d="{path}"><title>{escape(line_name)}</title></path>')
    lx = LEFT
    parts.append(f'<rect class="bar" x="{lx}" y="{H - 12}" width="10" height="8"/>'
                 f'<text class="legend" x="{lx + 14}" y="{H - 4}">{escape(bar_name)}</text>')
    parts.append(f'<line class="{"share" if line_share else "expected"}" x1="{lx + 160}" x2="{lx + 180}" '
                 f'y1="{H - 8}" y2="{H - 8}"/><text class="legend" x="{lx + 186}" y="{H - 4}">{escape(line_name)}</text>')
    parts.append("</svg>")
    return Markup("".join(parts))


def hbars(items: list[tuple[str, float]], *, unit: str = "", caption: str = "", css: str = "bar",
          width: int = 600) -> Markup:
    """Horizontal bars, one row per item, longest first as given."""
    rows = max(len(items), 1)
    row_h, label_w = 26, 160
    height = rows * row_h + 8
    top = max((v for _, v in items), default=0) or 1
    plot_w = width - label_w - 70
    parts = [f'<svg class="chart hbars" viewBox="0 0 {width} {height}" role="img" aria-label="{escape(caption)}">']
    if not items:
        parts.append(f'<text class="axis" x="10" y="20">{escape("暂无数据 no data")}</text>')
    for i, (label, value) in enumerate(items):
        y0 = 4 + i * row_h
        w = plot_w * value / top
        parts.append(f'<text class="label" x="{label_w - 8}" y="{y0 + 16}" text-anchor="end">{escape(label[:24])}</text>')
        parts.append(f'<rect class="{escape(css)}" x="{label_w}" y="{y0 + 3}" width="{max(w, 1):.1f}" height="{row_h - 8}">'
                     f"<title>{escape(label)}: {_fmt(value)}{escape(unit)}</title></rect>")
        parts.append(f'<text class="axis" x="{label_w + w + 6:.1f}" y="{y0 + 16}">{_fmt(value)}{escape(unit)}</text>')
    parts.append("</svg>")
    return Markup("".join(parts))


def _linked(href: str | None, inner: str) -> str:
    """An SVG element that clicks through (to the queue with the figure's filters), or as is."""
    return f'<a href="{escape(href)}">{inner}</a>' if href else inner


def linked_hbars(items: list[tuple[str, float, str | None]], *, unit: str = "", caption: str = "",
                 css: str = "bar", width: int = 600) -> Markup:
    """hbars whose rows are links: (label, value, href) per row; the label and the bar both click through."""
    rows = max(len(items), 1)
    row_h, label_w = 26, 170
    height = rows * row_h + 8
    top = max((v for _, v, _ in items), default=0) or 1
    plot_w = width - label_w - 70
    parts = [f'<svg class="chart hbars" viewBox="0 0 {width} {height}" role="img" aria-label="{escape(caption)}">']
    if not items:
        parts.append(f'<text class="axis" x="10" y="20">{escape("暂无数据 no data")}</text>')
    for i, (label, value, href) in enumerate(items):
        y0 = 4 + i * row_h
        w = plot_w * value / top
        row = (f'<text class="label" x="{label_w - 8}" y="{y0 + 16}" text-anchor="end">{escape(label[:26])}</text>'
               f'<rect class="{escape(css)}" x="{label_w}" y="{y0 + 3}" width="{max(w, 1):.1f}" height="{row_h - 8}">'
               f"<title>{escape(label)}: {_fmt(value)}{escape(unit)}</title></rect>"
               f'<text class="axis" x="{label_w + w + 6:.1f}" y="{y0 + 16}">{_fmt(value)}{escape(unit)}</text>')
        parts.append(_linked(href, row))
    parts.append("</svg>")
    return Markup("".join(parts))


def stacked_bars(labels: list[str], series: list[tuple[str, list[int], str | None, list[str] | None]], *,
                 caption: str = "", width: int = W) -> Markup:
    """Counts per bin, stacked by series (name, counts, href, bin_hrefs): each segment clicks through to
    the tickets behind it (bin_hrefs[i], else href), each legend entry to its series' tickets (href).
    Series take the classes s0, s1, ... (colours in app.css)."""
    n = max(len(labels), 1)
    legend_rows = -(-len(series) // 4) if series else 1
    height = H + 16 * (legend_rows - 1)
    plot_w, plot_h = width - LEFT - RIGHT, H - TOP - BOTTOM
    slot = plot_w / n
    totals = [sum(s[1][i] for s in series) for i in range(len(labels))]
    top = max(_nice_max(max(totals, default=0)), 2)
    y = lambda v: TOP + plot_h - (v / top) * plot_h  # noqa: E731
    parts = [f'<svg class="chart stacked" viewBox="0 0 {width} {height}" role="img" aria-label="{escape(caption)}">']
    if caption:
        parts.append(f"<title>{escape(caption)}</title>")
    for frac in (0, 0.5, 1):
        gy = TOP + plot_h - frac * plot_h
        parts.append(f'<line class="grid" x1="{LEFT}" x2="{width - RIGHT}" y1="{gy:.1f}" y2="{gy:.1f}"/>')
        parts.append(f'<text class="axis" x="{LEFT - 6}" y="{gy + 4:.1f}" text-anchor="end">{_fmt(top * frac)}</text>')
    for i, lab in enumerate(labels):
        base = 0
        x = LEFT + i * slot + slot * 0.15
        for k, (name, counts, href, bin_hrefs) in enumerate(series):
            v = counts[i]
            if not v:
                continue
            rect = (f'<rect class="bar s{k % 8}" x="{x:.1f}" y="{y(base + v):.1f}" width="{slot * 0.7:.1f}" '
                    f'height="{y(base) - y(base + v):.1f}"><title>{escape(lab)} {escape(name)}: {v}</title></rect>')
            parts.append(_linked(bin_hrefs[i] if bin_hrefs else href, rect))
            base += v
    every = max(1, -(-n // 8))
    for i, lab in enumerate(labels):
        if i % every == 0:
            x = LEFT + i * slot + slot / 2
            parts.append(f'<text class="axis" x="{x:.1f}" y="{H - BOTTOM + 16}" text-anchor="middle">{escape(lab)}</text>')
    col_w = (width - LEFT) / 4
    for k, (name, _, href, _) in enumerate(series):
        lx = LEFT + (k % 4) * col_w
        ly = H - 12 + 16 * (k // 4)
        parts.append(_linked(href, f'<rect class="bar s{k % 8}" x="{lx:.1f}" y="{ly}" width="10" height="8"/>'
                                   f'<text class="legend" x="{lx + 14:.1f}" y="{ly + 8}">{escape(name)}</text>'))
    parts.append("</svg>")
    return Markup("".join(parts))
