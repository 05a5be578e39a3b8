"""Reading a shipped model artifact: from the package (sentiment/models/) or a given path, checked for
the format its loader expects, so an old or foreign file is a clear error and not a crash mid-run."""
from __future__ import annotations

import hashlib
import logging
import os
import tempfile
from importlib import resources
from pathlib import Path
from typing import BinaryIO, Callable

from sentiment.exceptions import ModelError

log = logging.getLogger("repwatch.sentiment")


def load_joblib(artifact: str, expected_format: int | tuple[int, ...], path: Path | None = None) -> dict:
    import joblib  # noqa: PLC0415 - heavy, and only processes that score need it

    if path is None:
        with resources.as_file(resources.files("sentiment").joinpath(f"models/{artifact}")) as p:
            data = _unpacked(p, artifact)
    else:
        data = joblib.load(path)
    formats = expected_format if isinstance(expected_format, tuple) else (expected_format,)
    if data.get("format") not in formats:
        raise ModelError(f"{path or artifact}: model format {data.get('format')!r}, expected "
                         f"{' or '.join(map(str, formats))}; "
                         f"rebuild it with `repwatch train`")
    return data


def _unpacked(shipped: Path, artifact: str) -> dict:
    """A shipped artifact, from an uncompressed copy in the cache directory (sentiment.snow_port's
    `cache_dir`) when there is one for this very file. The shipped files are xz-compressed to keep the
    package small, and unpacking one costs ~0.3 s CPU at every start; the copy loads in ~0.01 s
    (issue 18: the analyzer's load time). The copy's name holds the shipped file's digest, so a new
    model never meets an old copy; an unwritable cache only costs the unpacking."""
    import joblib  # noqa: PLC0415

    from sentiment.snow_port import cache_dir  # noqa: PLC0415

    raw = shipped.read_bytes()
    digest = hashlib.sha256(raw).hexdigest()[:32]
    stem = artifact.rsplit(".", 1)[0]
    copy = cache_dir() / "models" / f"{stem}-{digest}-joblib{joblib.__version__}.joblib"
    if copy.is_file():
        try:
            return joblib.load(copy)
        except Exception as exc:   # a torn or foreign copy: the shipped file decides
            log.info("cached model %s unreadable (%s); unpacking the shipped one", copy, exc)
    data = joblib.load(shipped)
    if write_atomic(copy, lambda f: joblib.dump(data, f)):
        for old in copy.parent.glob(f"{stem}-*.joblib"):   # an earlier model's copy
            if old != copy:
                old.unlink(missing_ok=True)
    return data


def write_atomic(path: Path, write: Callable[[BinaryIO], None]) -> bool:
    """Write a cache file whole or not at all: readers see the complete file or none, even when two processes
    write it at once or one is killed half-way. An unwritable cache is logged and returns False: a cache only
    saves time, so the caller goes on without it."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=path.name, suffix=".tmp")
        try:
            with os.fdopen(fd, "wb") as f:
                write(f)
            os.replace(tmp, path)
        except BaseException:
            os.unlink(tmp)
            raise
    except OSError as exc:
        log.info("cannot write the cache file %s (%s); it is rebuilt when next needed", path, exc)
        return False
    return True


def join_terms(terms: list[str]) -> str:
    """A vocabulary as one string: joblib unpickles with pickle's pure-Python reader, where 300,000 separate
    strings cost about half a second per artifact and one string costs nothing. No term holds a newline
    (the char analyzer folds white space, words are letters, digits or CJK)."""
    if any("\n" in t for t in terms):
        raise ValueError("a vocabulary term contains a newline")
    return "\n".join(terms)


def split_terms(stored) -> list[str]:
    """`join_terms`'s string back as a list (format 1 artifacts stored the list itself)."""
    if isinstance(stored, str):
        return stored.split("\n") if stored else []
    return list(stored)
