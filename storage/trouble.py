"""Database trouble a person must fix (locked, read-only, disk full, unreachable), told in words.

A driver error such as `sqlite3.OperationalError: database or disk is full` says what broke but not
what to do. `database_trouble` turns the errors that come from the machine rather than from a bug
into a StorageError that says both; the CLI prints it and exits 3. The failed unit of work has been
rolled back by then (Database.session), so the database holds what it held before that step."""
from __future__ import annotations

from sqlalchemy.exc import DBAPIError, OperationalError

from storage.exceptions import StorageError

# (what the driver says, PostgreSQL SQLSTATE codes) -> kind
_PATTERNS = [
    ("locked", ("database is locked", "database table is locked", "database schema is locked"), ("55P03", "40P01")),
    ("read_only", ("readonly database", "read-only", "read only"), ("25006",)),
    ("disk_full", ("database or disk is full", "no space left on device", "disk quota exceeded"), ("53100",)),
    ("damaged", ("database disk image is malformed", "file is not a database"), ()),
    ("io", ("disk i/o error",), ("58030",)),
    ("cannot_open", ("unable to open database file",), ()),
    ("unreachable", ("connection refused", "could not connect", "connection timeout", "server closed the connection",
                     "could not translate host name", "name or service not known", "the database system is"),
     ("08000", "08001", "08003", "08004", "08006", "57P01", "57P02", "57P03")),
]

_ADVICE = {
    "locked": "the database is locked by another process and stayed locked past the wait. Another repwatch "
              "run, a backup or an open sqlite3 shell holds a write transaction: let it finish (or close it) "
              "and run again.",
    "read_only": "the database is read-only. The user running repwatch must be able to write the database "
                 "file and its folder (SQLite also writes the -wal and -shm files beside it), and the PostgreSQL "
                 "server must not be a read-only standby. Fix the permissions or the URL and run again.",
    "disk_full": "the disk holding the database is full. Free some space (or move the database to a larger "
                 "disk) and run again.",
    "damaged": "the file is not a repwatch database or it is damaged. Check --database / REPWATCH_DATABASE_URL; "
               "restore a backup if the file was a repwatch database.",
    "io": "the disk reported an I/O error. Check the disk (dmesg) and run again.",
    "cannot_open": "the database file cannot be opened. Check that its folder exists and is writable by the "
                   "user running repwatch.",
    "unreachable": "the database server cannot be reached. Check that it is running and that the URL's host "
                   "and port are right, then run again.",
}


def trouble_kind(exc: BaseException) -> str | None:
    """The kind of trouble, or None when the error is not one a person can fix from outside."""
    orig = getattr(exc, "orig", exc)
    text = str(orig).lower()
    code = getattr(orig, "sqlstate", None) or getattr(orig, "pgcode", None)
    for kind, phrases, codes in _PATTERNS:
        if (code and code in codes) or any(p in text for p in phrases):
            return kind
    return None


def is_database_trouble(exc: BaseException) -> bool:
    """True for trouble with the database as a whole: a caller that fails one source (or one item)
    alone must let these through, since every later write would meet the same wall."""
    return isinstance(exc, DBAPIError) and trouble_kind(exc) is not None


def database_trouble(exc: BaseException, where: str | None = None, doing: str = "using") -> StorageError:
    """A StorageError that says what happened and what to do, for any driver error."""
    orig = getattr(exc, "orig", exc)
    detail = " ".join(str(orig).split())[:300]
    place = f" {where}" if where else ""
    kind = trouble_kind(exc)
    if kind is None:
        advice = ("the database refused the operation; the step was rolled back. Run again with -v for "
                  "details, and report it if it repeats." if isinstance(exc, OperationalError) else
                  "the step was rolled back.")
    else:
        advice = _ADVICE[kind]
        if kind != "unreachable":
            advice += " The step that failed was rolled back; nothing half-written was kept."
    error = StorageError(f"while {doing} the database{place}: {advice}\n  ({type(orig).__name__}: {detail})")
    error.kind = kind or "other"
    return error
