"""Tables and progress bars for people at a terminal, drawn with rich.

Tables: columns are measured in terminal cells, so a Chinese title or owner (two cells a character) keeps
every column aligned. On a terminal the table fits its width (long text columns end in "…") and the header
is bold; piped or redirected, the table keeps its natural width with no colour, so grep and awk see the
same rows. Every cell is collected text passed through `clean` and given to rich as plain text, never as
markup: a title holding "[red]" or an escape sequence prints as the characters it is.

Progress bars go to stderr, and only when both stdout and stderr are terminals: a person is watching.
Machine output (--json, CSV, JSONL on stdout) never meets a bar."""
from __future__ import annotations

import sys
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Iterator, Literal, Sequence

import click

from repwatch.cli.terminal import clean

WIDE = 100_000   # the console never wraps: render() fits the table to a terminal itself
GAP = 2          # cells between columns
MIN_FLEX = 12    # a flexible column keeps at least this many cells on a narrow terminal


@dataclass(frozen=True)
class Col:
    header: str
    justify: Literal["left", "right"] = "left"
    flexible: bool = False       # may be shortened (with "…") to fit a terminal; fixed columns never are
    max_width: int | None = None  # cells at most, anywhere ("…" past it)


def width(text: str) -> int:
    """Terminal cells `text` takes (CJK and full-width characters take two)."""
    from rich.cells import cell_len

    return cell_len(text)


def cut(text: str, cells: int) -> str:
    """At most `cells` terminal cells, ending in "…" when shortened; never splits a character."""
    from rich.cells import cell_len

    if cell_len(text) <= cells:
        return text
    out, used = [], 0
    for ch in text:
        w = cell_len(ch)
        if used + w > cells - 1:
            break
        out.append(ch)
        used += w
    return "".join(out) + "…"


def one_line(text) -> str:
    """Collected text as one safe line: control characters dropped, runs of whitespace one space."""
    return " ".join(clean("" if text is None else text).split())


def _stdout():
    return sys.stdout


def is_terminal(stream=None) -> bool:
    stream = stream if stream is not None else _stdout()
    try:
        return bool(stream.isatty())
    except (AttributeError, ValueError):
        return False


def render(columns: Sequence[Col], rows: Sequence[Sequence[object]], *, terminal: bool | None = None,
           terminal_width: int | None = None) -> str:
    """The table as text. `terminal` (default: is stdout one?) chooses a bold header and fitting the
    terminal's width by shortening the flexible columns."""
    import io

    from rich.console import Console
    from rich.table import Table
    from rich.text import Text

    tty = is_terminal() if terminal is None else terminal
    cells = [[one_line(cell) for cell in row] for row in rows]
    limits = [c.max_width for c in columns]
    if tty:
        total = terminal_width or _terminal_columns()
        natural = [max([width(c.header)] + [width(r[i]) for r in cells]) for i, c in enumerate(columns)]
        flexible = [i for i, c in enumerate(columns) if c.flexible]
        fixed = sum(min(n, limits[i] or n) for i, n in enumerate(natural) if i not in flexible)
        room = total - fixed - GAP * (len(columns) - 1)
        for i in flexible:
            share = max(room // len(flexible), MIN_FLEX)
            limits[i] = min(limits[i] or share, share)
    for row in cells:
        for i, limit in enumerate(limits):
            if limit is not None:
                row[i] = cut(row[i], limit)
    table = Table(box=None, show_header=True, pad_edge=False, padding=(0, GAP // 2), expand=False,
                  header_style="bold" if tty else "", show_edge=False)
    for c in columns:
        table.add_column(c.header, justify=c.justify, no_wrap=True, overflow="fold")
    for row in cells:
        table.add_row(*(Text(cell) for cell in row))
    buf = io.StringIO()
    console = Console(file=buf, force_terminal=tty, no_color=not tty, color_system="auto" if tty else None,
                      width=WIDE, highlight=False, markup=False, emoji=False)
    console.print(table, crop=False)
    return "\n".join(line.rstrip() for line in buf.getvalue().splitlines()) + "\n"


def _terminal_columns() -> int:
    import shutil

    return shutil.get_terminal_size((120, 40)).columns


def print_table(columns: Sequence[Col], rows: Sequence[Sequence[object]]) -> None:
    click.echo(render(columns, rows), nl=False)


class Progress:
    """What `progress()` yields: `tick(n)` advances the bar, `log(line)` prints a line above it (or to
    stderr when there is no bar), `describe(text)` changes what the bar says it is doing."""

    def __init__(self, bar=None, task=None):
        self.bar, self.task = bar, task

    @property
    def shown(self) -> bool:
        return self.bar is not None

    def __call__(self, n: float = 1) -> None:
        if self.bar is not None:
            self.bar.advance(self.task, n)

    def describe(self, text: str) -> None:
        if self.bar is not None:
            self.bar.update(self.task, description=one_line(text))

    def log(self, line: str) -> None:
        if self.bar is not None:
            from rich.text import Text

            self.bar.console.print(Text(clean(line)), highlight=False)
        else:
            click.echo(clean(line), err=True)


def watched() -> bool:
    """A person is watching: stdout and stderr are both terminals (nothing is piped or redirected)."""
    return is_terminal(sys.stdout) and is_terminal(sys.stderr)


@contextmanager
def progress(total: float | None, description: str, *, unit: str = "", enabled: bool = True) -> Iterator[Progress]:
    """`with progress(n, "collecting") as tick: ... tick(1)`: a bar on stderr when a person watches
    (`watched()`) and `enabled`, else ticks do nothing and `tick.log` writes plain lines to stderr.
    `total=None` shows a spinner and the time spent; `unit="bytes"` shows a percentage."""
    if not (enabled and watched()):
        yield Progress()
        return
    from rich.console import Console
    from rich.progress import (BarColumn, MofNCompleteColumn, Progress as Bar, SpinnerColumn, TextColumn,
                               TimeElapsedColumn, TimeRemainingColumn)

    columns = [SpinnerColumn(), TextColumn("{task.description}"), BarColumn(),
               TextColumn("{task.percentage:>3.0f}%") if unit else MofNCompleteColumn(),
               TimeElapsedColumn(), TimeRemainingColumn()]
    if total is None:
        columns = [SpinnerColumn(), TextColumn("{task.description}"), TimeElapsedColumn()]
    console = Console(file=sys.stderr, highlight=False, markup=False, emoji=False)
    with Bar(*columns, console=console, transient=True) as bar:
        yield Progress(bar, bar.add_task(one_line(description), total=total))
