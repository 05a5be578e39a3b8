from __future__ import annotations

import json

import click

from repwatch.cli.terminal import json_line
from repwatch.cli.app import cli, handle_errors


def _rows(stream, read=None):
    for lineno, line in enumerate(stream, 1):
        if read is not None:
            read[0] += len(line.encode("utf-8"))
        if not line.strip():
            continue
        try:
            obj = json.loads(line)
        except json.JSONDecodeError as exc:
            raise click.ClickException(f"line {lineno}: not JSON: {exc.msg}") from None
        if not isinstance(obj, dict) or not isinstance(obj.get("text", ""), str):
            raise click.ClickException(f"line {lineno}: expected an object with a string `text`")
        yield obj


@cli.command("analyze")
@click.argument("input", type=click.File("r", encoding="utf-8"), default="-")
@click.option("-o", "--output", type=click.File("w", encoding="utf-8"), default="-", help="Where to write JSONL.")
@click.option("--batch", default=1000, show_default=True, help="Texts scored per batch (more when workers are used).")
@click.option("--workers", type=click.IntRange(min=0), default=0, show_default=True,
              help="Processes for large inputs: 0 = one per core, 1 = this process only.")
@handle_errors
def analyze(input, output, batch: int, workers: int) -> None:
    """Score JSONL texts: one object per line with `text` and optional `id`, `title`, `rating`, `lang`.

    \b
    Writes one JSON object per input line, in order:
      {"id", "lang", "sentiment" (0..1, 1 = positive), "negative", "complaint",
       "categories", "severity" (none|general|important|urgent), "signals"}
    """
    from sentiment import Analyzer, TextIn
    from sentiment.settings import AnalysisSettings

    analyzer = Analyzer(AnalysisSettings(workers=workers))
    batch = analyzer.batch_hint(batch)   # big enough to keep every worker busy once the input is large
    chunk: list = []

    def flush():
        items = [TextIn(text=o.get("text") or "", title=o.get("title"), rating=_num(o.get("rating")),
                        lang=o.get("lang"), id=o.get("id")) for o in chunk]
        for obj, result in zip(chunk, analyzer.score(items)):
            output.write(json_line(result.contract(obj.get("id"))) + "\n")   # same JSON, inert on a terminal
        chunk.clear()

    # a bar on stderr while a file is scored into another file and a person watches; never when the
    # JSONL goes to stdout or the input is a pipe (its size is unknown)
    from repwatch.cli.tables import progress

    size = _file_size(input)
    to_stdout = getattr(output, "name", None) == "<stdout>"
    with analyzer, progress(size, f"scoring {getattr(input, 'name', '')}", unit="bytes",
                            enabled=size is not None and not to_stdout) as tick:
        read = [0]   # bytes read whose texts are not scored yet: the bar moves as batches are written

        def scored() -> None:
            flush()
            tick(read[0])
            read[0] = 0

        for obj in _rows(input, read):
            chunk.append(obj)
            if len(chunk) >= batch:
                scored()
        if chunk:
            scored()
    output.flush()


def _file_size(stream) -> int | None:
    """Bytes in a regular input file; None for stdin and pipes."""
    import os
    import stat

    try:
        info = os.fstat(stream.fileno())
    except (AttributeError, OSError, ValueError):
        return None
    return info.st_size if stat.S_ISREG(info.st_mode) and getattr(stream, "name", "-") != "<stdin>" else None


def _num(value):
    try:
        return float(value) if value is not None else None
    except (TypeError, ValueError):
        return None
