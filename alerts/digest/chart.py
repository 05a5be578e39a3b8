"""The digest's inline charts: mentions and negative share per hour for the day, and the 7-day trend.

The images carry no words, only numbers (hours, dates, counts, percentages). Every word a chart needs,
its title, what its axes measure and its legend, is set beside it in the email (digest.html.j2) from the
digest's labels in the recipient's language (labels.py, built on storage.vocabulary.LABELS): a Chinese
digest reads in Chinese whether or not the machine that drew the chart has a CJK font, and the words stay
readable when a mail client blocks images. A chart with nothing to show is not drawn at all
(`hourly_chart` / `trend_chart` return None) and the email says so in words instead.

matplotlib is imported here and only here, inside the functions (it costs ~0.5 s), and through the
object API with the Agg canvas: no pyplot global state, no display, safe in a scheduler thread."""
from __future__ import annotations

import io
from typing import Any, Optional

from alerts.digest.data import DigestData

BAR = "#8fb3d9"
BAR_DAY = "#3a6ea5"
NEG = "#e8a09a"          # the negative part of each bar
LINE = "#b03a2e"
COLORS = {"mentions": BAR_DAY, "negative": NEG, "negative_share": LINE}   # the legend in the email uses these
RC: dict[Any, Any] = {"font.family": ["sans-serif"], "font.sans-serif": ["DejaVu Sans"], "axes.spines.top": False,
                      "font.size": 9}


def _share(negative: int, analyzed: int) -> Optional[float]:
    return 100.0 * negative / analyzed if analyzed else None


def _figure():
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=(6.4, 2.6), dpi=150, layout="constrained")
    FigureCanvasAgg(fig)
    return fig


def _png(fig) -> bytes:
    out = io.BytesIO()
    fig.savefig(out, format="png", facecolor="white")
    return out.getvalue()


def hourly_chart(data: DigestData) -> Optional[bytes]:
    """Bars: mentions per local hour, their negative part at the bottom; line: negative share (right axis).
    None when the day has no mentions: an empty chart says nothing a sentence does not."""
    if not data.today.mentions:
        return None
    import matplotlib

    with matplotlib.rc_context(RC):
        fig = _figure()
        ax = fig.subplots()
        hours = [h for h, *_ in data.hourly]
        negative = [n for _, _, _, n in data.hourly]
        ax.bar(hours, negative, color=NEG, width=0.8)
        ax.bar(hours, [m - n for (_, m, _, n) in data.hourly], bottom=negative, color=BAR_DAY, width=0.8)
        ax.set_xticks(range(0, 24, 3), [f"{h:02d}:00" for h in range(0, 24, 3)])
        ax.set_xlim(-0.6, 23.6)
        _counts_axis(ax)
        ax.set_ylim(0, max([m for _, m, _, _ in data.hourly] + [1]) * 1.1)
        _share_line(ax, hours, [_share(n, a) for _, _, a, n in data.hourly])
        return _png(fig)


def trend_chart(data: DigestData) -> Optional[bytes]:
    """The 7 days ending with the day: mentions (the day darker), negative part, negative share.
    None when none of the seven days has a mention."""
    if not any(f.mentions for f in data.trend):
        return None
    import matplotlib

    with matplotlib.rc_context(RC):
        fig = _figure()
        ax = fig.subplots()
        days = [f"{f.day:%m-%d}" for f in data.trend]
        xs = list(range(len(days)))
        colors = [BAR] * (len(days) - 1) + [BAR_DAY]
        ax.bar(xs, [f.negative for f in data.trend], color=NEG, width=0.6)
        ax.bar(xs, [f.mentions - f.negative for f in data.trend], bottom=[f.negative for f in data.trend],
               color=colors, width=0.6)
        for x, f in zip(xs, data.trend):
            ax.annotate(str(f.mentions), (x, f.mentions), ha="center", va="bottom", fontsize=7,
                        xytext=(0, 2), textcoords="offset points")
        ax.set_xticks(xs, days)
        _counts_axis(ax)
        ax.set_ylim(0, max([f.mentions for f in data.trend] + [1]) * 1.15)
        _share_line(ax, xs, [_share(f.negative, f.analyzed) for f in data.trend])
        return _png(fig)


def _counts_axis(ax) -> None:
    from matplotlib.ticker import MaxNLocator

    ax.yaxis.set_major_locator(MaxNLocator(integer=True, nbins=4))
    ax.tick_params(axis="y", colors=BAR_DAY)
    ax.grid(axis="y", color="#e5e5e5", linewidth=0.6)
    ax.set_axisbelow(True)


def _share_line(ax, xs: list, shares: list[Optional[float]]):
    """Negative share on a second axis; hours with nothing analysed are gaps, not zeros."""
    from matplotlib.ticker import PercentFormatter

    twin = ax.twinx()
    (line,) = twin.plot(xs, [float("nan") if s is None else s for s in shares], color=LINE, marker="o",
                        markersize=3, linewidth=1.4, clip_on=False)
    twin.set_ylim(0, 100)
    twin.yaxis.set_major_formatter(PercentFormatter(decimals=0))
    twin.tick_params(axis="y", colors=LINE)
    twin.spines["top"].set_visible(False)
    return line
