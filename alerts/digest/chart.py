"""The digest's inline chart: mentions and negative share per hour for the day, and the 7-day trend.

matplotlib is imported here and only here, inside the function (it costs ~0.5 s), and through the
object API with the Agg canvas: no pyplot global state, no display, safe in a scheduler thread."""
from __future__ import annotations

import io
from functools import lru_cache
from typing import Optional

from alerts.digest.data import DigestData
from alerts.digest.labels import LABELS

CJK_FONTS = ("Noto Sans CJK SC", "Noto Sans CJK JP", "Source Han Sans SC", "WenQuanYi Zen Hei",
             "WenQuanYi Micro Hei", "Microsoft YaHei", "PingFang SC", "SimHei")
BAR = "#8fb3d9"
BAR_DAY = "#3a6ea5"
NEG = "#e8a09a"          # the negative part of each bar
LINE = "#b03a2e"


@lru_cache(maxsize=1)
def cjk_font() -> Optional[str]:
    from matplotlib import font_manager

    installed = {f.name for f in font_manager.fontManager.ttflist}
    return next((name for name in CJK_FONTS if name in installed), None)


def chart_locale(locale: str) -> str:
    """Chinese labels need a CJK font; without one they would render as empty boxes, so fall back to English."""
    return locale if locale != "zh" or cjk_font() else "en"


def _share(negative: int, analyzed: int) -> Optional[float]:
    return 100.0 * negative / analyzed if analyzed else None


def render_chart(data: DigestData, locale: str = "zh") -> bytes:
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure
    from matplotlib.ticker import MaxNLocator, PercentFormatter

    locale = chart_locale(locale)
    text = LABELS[locale]
    import matplotlib

    with matplotlib.rc_context({"font.family": ["sans-serif"],
                                "font.sans-serif": [cjk_font() or "DejaVu Sans", "DejaVu Sans"],
                                "axes.spines.top": False, "font.size": 9}):
        fig = Figure(figsize=(6.4, 5.2), dpi=150, layout="constrained")
        FigureCanvasAgg(fig)
        top, bottom = fig.subplots(2, 1, height_ratios=[1.15, 1])

        # Bars: mentions, with their negative part at the bottom; line: negative share (right axis).
        hours = [h for h, *_ in data.hourly]
        negative = [n for _, _, _, n in data.hourly]
        top.bar(hours, negative, color=NEG, width=0.8, label=text["negative"])
        top.bar(hours, [m - n for (_, m, _, n) in data.hourly], bottom=negative, color=BAR_DAY, width=0.8,
                label=text["mentions"])
        top.set_title(text["chart_hourly"].format(tz=getattr(data.tz, "key", str(data.tz))), loc="left",
                      fontsize=10, fontweight="bold")
        top.set_xticks(range(0, 24, 3), [f"{h:02d}:00" for h in range(0, 24, 3)])
        top.set_xlim(-0.6, 23.6)
        _counts_axis(top, text["mentions"], MaxNLocator)
        line = _share_line(top, hours, [_share(n, a) for _, _, a, n in data.hourly], text["negative_share"],
                           PercentFormatter)
        handles, names = top.get_legend_handles_labels()
        top.legend(handles[::-1] + [line], names[::-1] + [text["negative_share"]], loc="upper left", fontsize=7,
                   frameon=False, ncols=3)
        top.set_ylim(0, max([m for _, m, _, _ in data.hourly] + [1]) * 1.25)   # room for the legend

        days = [f"{f.day:%m-%d}" for f in data.trend]
        xs = list(range(len(days)))
        colors = [BAR] * (len(days) - 1) + [BAR_DAY]
        bottom.bar(xs, [f.negative for f in data.trend], color=NEG, width=0.6)
        bottom.bar(xs, [f.mentions - f.negative for f in data.trend], bottom=[f.negative for f in data.trend],
                   color=colors, width=0.6)
        for x, f in zip(xs, data.trend):
            bottom.annotate(str(f.mentions), (x, f.mentions), ha="center", va="bottom", fontsize=7,
                            xytext=(0, 2), textcoords="offset points")
        bottom.set_xticks(xs, days)
        bottom.set_title(text["chart_trend"], loc="left", fontsize=10, fontweight="bold")
        _counts_axis(bottom, text["mentions"], MaxNLocator)
        bottom.set_ylim(0, max([f.mentions for f in data.trend] + [1]) * 1.15)
        _share_line(bottom, xs, [_share(f.negative, f.analyzed) for f in data.trend], text["negative_share"],
                    PercentFormatter)

        out = io.BytesIO()
        fig.savefig(out, format="png", facecolor="white")
    return out.getvalue()


def _counts_axis(ax, label: str, locator) -> None:
    ax.set_ylabel(label, color=BAR_DAY)
    ax.yaxis.set_major_locator(locator(integer=True, nbins=4))
    ax.grid(axis="y", color="#e5e5e5", linewidth=0.6)
    ax.set_axisbelow(True)


def _share_line(ax, xs: list, shares: list[Optional[float]], label: str, formatter):
    """Negative share on a second axis; hours with nothing analysed are gaps, not zeros."""
    twin = ax.twinx()
    (line,) = twin.plot(xs, [float("nan") if s is None else s for s in shares], color=LINE, marker="o",
                        markersize=3, linewidth=1.4, clip_on=False)
    twin.set_ylim(0, 100)
    twin.yaxis.set_major_formatter(formatter(decimals=0))
    twin.set_ylabel(label, color=LINE)
    twin.spines["top"].set_visible(False)
    return line
