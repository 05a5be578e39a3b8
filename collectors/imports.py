"""Exports from the team's other channels: hotline logs, complaint mailbox exports, survey answers.

CSV, JSONL and XLSX files dropped into a folder are read with a column mapping from the config. Each
file is loaded once, recorded by content hash in the same transaction as its rows (so a crash cannot
record a file whose rows were lost). A bad row is reported with its line number and the rest of the
file still loads. A file that cannot be read at all (undecodable, corrupt, a mapped column missing)
is reported and not recorded, so it loads once it is fixed or the mapping is."""
from __future__ import annotations

import csv
import hashlib
import io
import json
from datetime import datetime
from pathlib import Path
from typing import Iterator, Optional
from zoneinfo import ZoneInfo

from pydantic import Field, model_validator

from collectors.base import CollectResult, Collector, ImportedFileIn, Problem, SourceState
from collectors.exceptions import CollectError
from collectors.fields import FieldName, FieldError, build_mention
from collectors.options import MappingOptions

READERS = {".csv": "csv", ".tsv": "csv", ".jsonl": "jsonl", ".ndjson": "jsonl", ".xlsx": "xlsx"}


class FileProblem(Exception):
    """The whole file is unusable as it stands."""


class ImportOptions(MappingOptions):
    path: str = Field(description="folder the exports are dropped into (relative to the working directory)")
    patterns: list[str] = Field(default_factory=lambda: ["*.csv", "*.jsonl", "*.xlsx"], min_length=1)
    columns: dict[FieldName, str] = Field(description="mention field → column name (CSV/XLSX) or key (JSONL)")
    encoding: str = Field(default="auto", description="CSV encoding; auto tries UTF-8, then GB18030 (GBK)")
    delimiter: Optional[str] = Field(default=None, min_length=1, max_length=1,
                                     description="CSV delimiter; default ',' (tab for .tsv)")
    sheet: Optional[str] = Field(default=None, description="XLSX sheet name; default the first sheet")

    @model_validator(mode="after")
    def _check(self):
        if "text" not in self.columns and "title" not in self.columns:
            raise ValueError("columns must map at least `text` (or `title`) to a column")
        return self


def _cell(value):
    # Excel stores ids and counts as floats: 10086.0 must become the id "10086", not "10086.0".
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, str):
        return value.strip()
    return value


def _decode(data: bytes, encoding: str, name: str) -> str:
    candidates = ["utf-8-sig", "gb18030"] if encoding == "auto" else [encoding]
    for candidate in candidates:
        try:
            return data.decode(candidate)
        except UnicodeDecodeError:
            continue
        except LookupError:
            raise FileProblem(f"unknown encoding {encoding!r}; use utf-8, gbk, gb18030 or auto") from None
    raise FileProblem(f"{name} is not {' or '.join(candidates)} text; save it as UTF-8 or set `encoding`")


def _check_header(header: list, columns: dict[FieldName, str], name: str) -> None:
    missing = [f"{col!r} (for {field})" for field, col in columns.items() if col not in header]
    if missing:
        shown = ", ".join(repr(h) for h in header if h is not None)[:300]
        raise FileProblem(f"{name} has no column {', '.join(missing)}; its columns are: {shown or 'none'}")


# One cell over this is a bad row, reported by line; the rest of the file still loads. (The csv
# module's own limit, the same 128 KB, raised csv.Error and so rejected the whole file.)
MAX_CELL = 131_072
_CSV_READ_LIMIT = 64 * 1024 * 1024   # so the reader itself never stops at a big cell


def _oversize(row: dict) -> str | None:
    for key, value in row.items():
        if isinstance(value, str) and len(value) > MAX_CELL:
            return f"column {str(key)[:40]!r} is {len(value):,} characters, over the {MAX_CELL:,} limit for one cell"
    return None


def read_csv(data: bytes, opts: ImportOptions, name: str) -> Iterator[tuple[int, dict | FieldError]]:
    text = _decode(data, opts.encoding, name)
    delimiter = opts.delimiter or ("\t" if name.lower().endswith(".tsv") else ",")
    if csv.field_size_limit() < _CSV_READ_LIMIT:
        csv.field_size_limit(_CSV_READ_LIMIT)
    reader = csv.DictReader(io.StringIO(text, newline=""), delimiter=delimiter)
    try:
        _check_header(list(reader.fieldnames or []), opts.columns, name)
        for row in reader:
            too_big = _oversize(row)
            if too_big:
                yield reader.line_num, FieldError(too_big)
                continue
            if None in row:   # more cells than header columns: a stray delimiter shifted the row
                yield reader.line_num, FieldError(f"{len(row[None])} more cells than the header has columns "
                                             "(an unquoted delimiter in a cell?)")
                continue
            yield reader.line_num, {k: _cell(v) for k, v in row.items()}
    except csv.Error as exc:
        raise FileProblem(f"{name} line {reader.line_num}: not readable as CSV ({exc})") from exc


def read_jsonl(data: bytes, opts: ImportOptions, name: str) -> Iterator[tuple[int, dict | FieldError]]:
    text = _decode(data, "utf-8-sig" if opts.encoding == "auto" else opts.encoding, name)
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            obj = json.loads(line)
        except json.JSONDecodeError as exc:
            yield number, FieldError(f"not valid JSON ({exc.msg} at column {exc.colno})")
            continue
        if not isinstance(obj, dict):
            yield number, FieldError(f"expected a JSON object, got {type(obj).__name__}")
            continue
        too_big = _oversize(obj)
        if too_big:
            yield number, FieldError(too_big)
            continue
        yield number, {k: _cell(v) for k, v in obj.items()}


def read_xlsx(data: bytes, opts: ImportOptions, name: str) -> Iterator[tuple[int, dict | FieldError]]:
    import zipfile

    from openpyxl import load_workbook   # lazy: only import sources pay for it

    try:
        book = load_workbook(io.BytesIO(data), read_only=True, data_only=True)
    except (zipfile.BadZipFile, KeyError, ValueError, OSError) as exc:
        raise FileProblem(f"{name} is not a readable XLSX workbook ({type(exc).__name__}: {exc})") from exc
    try:
        if opts.sheet is not None and opts.sheet not in book.sheetnames:
            raise FileProblem(f"{name} has no sheet {opts.sheet!r}; sheets: {', '.join(book.sheetnames)}")
        sheet = book[opts.sheet] if opts.sheet else book.worksheets[0]
        rows = sheet.iter_rows(values_only=True)
        header = [str(h).strip() if h is not None else None for h in next(rows, ())]
        _check_header(header, opts.columns, name)
        for number, row in enumerate(rows, start=2):
            if all(v is None or v == "" for v in row):
                continue
            yield number, {h: _cell(v) for h, v in zip(header, row) if h is not None}
    finally:
        book.close()


class ImportCollector(Collector[ImportOptions]):
    kind = "import"
    Options = ImportOptions

    def files(self) -> list[Path]:
        folder = Path(self.options.path)
        if not folder.is_dir():
            raise CollectError("config", f"import folder {str(folder)!r} does not exist or is not a folder; "
                               "create it or fix `path`")
        found = {p for pattern in self.options.patterns for p in folder.glob(pattern) if p.is_file()}
        # Editors and copy tools leave lock and partial files ("~$x.xlsx", ".x.csv.part"): never read those.
        return sorted(p for p in found if not p.name.startswith(("~$", ".")) and p.suffix.lower() in READERS)

    def collect(self, state: SourceState) -> CollectResult:
        opts = self.options
        result, tz = CollectResult(), ZoneInfo(opts.timezone)
        for path in self.files():
            try:
                data = path.read_bytes()
            except OSError as exc:
                result.problems.append(Problem("file", f"cannot read {path.name}: {exc}", str(path)))
                continue
            digest = hashlib.sha256(data).hexdigest()
            if state.is_imported(digest):
                continue
            try:
                record = self._load(path, data, digest, state.now, tz, result)
            except FileProblem as exc:
                result.problems.append(Problem("file", f"{exc}; the file was not recorded and is retried "
                                               "next run", str(path)))
                continue
            result.imported_files.append(record)
        # Nothing new in the folder is the normal state of an import source, not "zero items" breakage.
        result.not_modified = not result.imported_files and not result.problems
        return result

    def _load(self, path: Path, data: bytes, digest: str, now: datetime, tz, result: CollectResult) -> ImportedFileIn:
        opts = self.options
        reader = {"csv": read_csv, "jsonl": read_jsonl, "xlsx": read_xlsx}[READERS[path.suffix.lower()]]
        items, problems = [], []
        record = ImportedFileIn(content_hash=digest, filename=path.name)
        for line, row in reader(data, opts, path.name):   # a FileProblem here discards the whole file
            where = f"{path.name} line {line}"
            if isinstance(row, Exception):
                problems.append(Problem("row", str(row), where))
                record.rows_failed += 1
                continue
            values = {field: row.get(column) for field, column in opts.columns.items()}
            try:
                built = build_mention(values, now=now, tz=tz, rating_scale=opts.rating_scale,
                                      date_format=opts.date_format, raw={"file": path.name, "line": line})
            except FieldError as exc:
                problems.append(Problem("row", str(exc), where))
                record.rows_failed += 1
                continue
            problems.extend(Problem("field", note, where, warning=True) for note in built.notes)
            items.append(built.mention)
            record.rows_ok += 1
        result.items.extend(items)
        result.problems.extend(problems)
        return record
