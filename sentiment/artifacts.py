"""Reading a shipped model artifact: from the package (sentiment/models/) or a given path, checked for
the format its loader expects, so an old or foreign file is a clear error and not a crash mid-run."""
from __future__ import annotations

from importlib import resources
from pathlib import Path

from sentiment.exceptions import ModelError


def load_joblib(artifact: str, expected_format: int | tuple[int, ...], path: Path | None = None) -> dict:
    import joblib  # noqa: PLC0415 - heavy, and only processes that score need it

    if path is None:
        with resources.as_file(resources.files("sentiment").joinpath(f"models/{artifact}")) as p:
            data = joblib.load(p)
    else:
        data = joblib.load(path)
    formats = expected_format if isinstance(expected_format, tuple) else (expected_format,)
    if data.get("format") not in formats:
        raise ModelError(f"{path or artifact}: model format {data.get('format')!r}, expected "
                         f"{' or '.join(map(str, formats))}; "
                         f"rebuild it with `repwatch train`")
    return data


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
