"""Reading a shipped model artifact: from the package (sentiment/models/) or a given path, checked for
the format its loader expects, so an old or foreign file is a clear error and not a crash mid-run."""
from __future__ import annotations

from importlib import resources
from pathlib import Path

from sentiment.exceptions import ModelError


def load_joblib(artifact: str, expected_format: int, path: Path | None = None) -> dict:
    import joblib  # noqa: PLC0415 - heavy, and only processes that score need it

    if path is None:
        with resources.as_file(resources.files("sentiment").joinpath(f"models/{artifact}")) as p:
            data = joblib.load(p)
    else:
        data = joblib.load(path)
    if data.get("format") != expected_format:
        raise ModelError(f"{path or artifact}: model format {data.get('format')!r}, expected {expected_format}; "
                         f"rebuild it with `repwatch train`")
    return data
