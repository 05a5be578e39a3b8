"""The shared labelled corpora (../shared/data/sentiment), deduplicated and split the same way for
training and benchmarks, so that no test text is ever trained on.

- Label 1 is positive, 0 negative, in every file.
- Weibo labels were made from emoticons, so Weibo texts always lose their [..] emoticons here.
- SMP2020-EWECT "usual" Weibo posts (smp2020_usual_{train,dev,test}.tsv, when present) carry emotions, not
  polarity: angry, sad and fear are negative (0); neutral and happy are not negative (1), which is what
  `negative` means; surprise is left out (it goes both ways).
- Deduplication runs across all files in a fixed order (first occurrence wins): exact duplicates after
  normalisation (`dedup_key`), then near duplicates (MinHash over character 3-grams, Jaccard ≥ 0.8).
  A text seen twice with both labels is dropped altogether.
- The split is a hash of the dedup key: stable across runs and machines, and a text keeps its split when
  the files grow. 20% test, 10% validation (model selection and calibration), 70% train.
"""
from __future__ import annotations

import csv
import hashlib
from dataclasses import dataclass
from pathlib import Path

from sentiment.normalize import dedup_key, strip_emoticons

ZH_CORPORA = ("waimai_10k", "online_shopping_9_cats", "weibo_senti_2k", "smp2020_usual")
REVIEW_CORPORA = ("waimai_10k", "online_shopping_9_cats")
SOCIAL_CORPORA = ("weibo_senti_2k", "smp2020_usual")
SMP_POLARITY = {0: 1, 1: 0, 2: 1, 3: 0, 4: 0}   # emotion -> 1 not negative / 0 negative; 5 (surprise) left out
EN_CORPUS = "amazon_cells_labelled"
SPLITS = ("train", "validation", "test")
NEAR_DUP_THRESHOLD = 0.8
NEAR_DUP_MIN_CHARS = 12   # shorter texts are compared exactly; "好好好" near "好好" is not a leak worth a hash


@dataclass(frozen=True)
class Example:
    text: str
    label: int        # 1 positive, 0 negative
    corpus: str
    split: str
    weight: float = 1.0   # sample weight in training (corrections from the team carry their own)


def default_data_dir() -> Path:
    """../shared/data/sentiment beside the repository, as on the development machines."""
    here = Path(__file__).resolve().parents[1]
    for base in (here.parent, here.parent.parent):
        candidate = base / "shared" / "data" / "sentiment"
        if candidate.is_dir():
            return candidate
    return here.parent / "shared" / "data" / "sentiment"


def split_of(key: str) -> str:
    bucket = int.from_bytes(hashlib.blake2b(key.encode("utf-8"), digest_size=8).digest(), "big") % 100
    return "test" if bucket < 20 else "validation" if bucket < 30 else "train"


def _read_zh(path: Path) -> list[tuple[str, int]]:
    with path.open(encoding="utf-8-sig", newline="") as fh:
        return [(row["review"] or "", int(row["label"])) for row in csv.DictReader(fh)]


def _read_smp(data_dir: Path) -> list[tuple[str, int]]:
    rows = []
    for name in ("train", "dev", "test"):
        path = data_dir / f"smp2020_usual_{name}.tsv"
        if not path.exists():
            continue
        for line in path.read_text(encoding="utf-8").splitlines()[1:]:
            label, _, text = line.partition("\t")
            if label.strip().isdigit() and int(label) in SMP_POLARITY:
                rows.append((text, SMP_POLARITY[int(label)]))
    return rows


def _read_en(path: Path) -> list[tuple[str, int]]:
    rows = []
    for line in path.read_text(encoding="utf-8").splitlines():
        text, _, label = line.rpartition("\t")
        if text and label.strip() in ("0", "1"):
            rows.append((text.strip(), int(label)))
    return rows


def _shingles(key: str) -> list[bytes]:
    return sorted({key[i:i + 3].encode("utf-8") for i in range(len(key) - 2)})


def load_zh(data_dir: Path | None = None, corpora: tuple[str, ...] = ZH_CORPORA,
            near_dups: bool = True) -> list[Example]:
    """Deduplicated, split Chinese examples of the named corpora (always deduplicated against all of
    ZH_CORPORA, so a text dropped as a duplicate is dropped whichever corpora are asked for)."""
    from datasketch import MinHash, MinHashLSH  # noqa: PLC0415 - only training and benchmarks need it

    data_dir = Path(data_dir or default_data_dir())
    first: dict[str, tuple[str, int]] = {}        # key -> (corpus, label) of its first occurrence
    conflicted: set[str] = set()
    order: list[tuple[str, str, int, str]] = []   # (key, text, label, corpus)
    lsh = MinHashLSH(threshold=NEAR_DUP_THRESHOLD, num_perm=32) if near_dups else None
    for corpus in ZH_CORPORA:
        rows = _read_smp(data_dir) if corpus == "smp2020_usual" else _read_zh(data_dir / f"{corpus}.csv")
        for text, label in rows:
            if corpus in SOCIAL_CORPORA:
                text = strip_emoticons(text)
            key = dedup_key(text)
            if not key:
                continue
            if key in first:
                if first[key][1] != label:
                    conflicted.add(key)
                continue
            if lsh is not None and len(key) >= NEAR_DUP_MIN_CHARS:
                sig = MinHash(num_perm=32, seed=1)
                sig.update_batch(_shingles(key))
                if lsh.query(sig):
                    continue
                lsh.insert(key, sig)
            first[key] = (corpus, label)
            order.append((key, text, label, corpus))
    return [Example(text, label, corpus, split_of(key)) for key, text, label, corpus in order
            if corpus in corpora and key not in conflicted]


def load_en(data_dir: Path | None = None) -> list[Example]:
    data_dir = Path(data_dir or default_data_dir())
    seen: set[str] = set()
    out = []
    for text, label in _read_en(data_dir / f"{EN_CORPUS}.txt"):
        key = dedup_key(text)
        if key and key not in seen:
            seen.add(key)
            out.append(Example(text, label, EN_CORPUS, split_of(key)))
    return out


def pick(examples: list[Example], *, split: str | None = None, corpora: tuple[str, ...] | None = None
         ) -> tuple[list[str], list[int]]:
    chosen = [e for e in examples if (split is None or e.split == split) and (corpora is None or e.corpus in corpora)]
    return [e.text for e in chosen], [e.label for e in chosen]
