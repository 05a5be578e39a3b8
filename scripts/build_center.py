"""Build alerts/data/e5_center.npy: the mean sentence vector of ordinary Chinese social posts.

Why: multilingual-e5's vectors all lean one way (any two Chinese complaints have cosine 0.83-0.89), so the
centroid of an incident's posts drifts towards that common direction as it grows, and soon every new
complaint is "close" to it. Grouping measures cosines after taking that direction away (alerts/incidents/
grouping.py). The mean comes from 800 SMP2020 Weibo posts (train split, posts with a #topic# tag left out,
as bench/incidents.py evaluates on tagged posts), a corpus used by no grouping benchmark.

Run: REPWATCH_ENCODER_THREADS=1 .venv/bin/python scripts/build_center.py
"""
from __future__ import annotations

import random
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
from sentiment.corpora import default_data_dir  # noqa: E402

DATA = default_data_dir()   # ../shared/data/sentiment beside the repository
OUT = ROOT / "alerts" / "data" / "e5_center.npy"


def main() -> None:
    from sentiment.encoder import cache_path, embed_cached, version

    with open(DATA / "smp2020_usual_train.tsv", encoding="utf-8") as f:
        next(f)
        texts = [line.rstrip("\n").split("\t", 1)[-1] for line in f]
    texts = [t for t in texts if "#" not in t and len(t.strip()) >= 5]
    sample = random.Random(16).sample(texts, 800)
    vecs = embed_cached(sample, cache_path("center_smp2020"))
    center = vecs.mean(axis=0).astype(np.float32)
    np.save(OUT, center)
    print(f"{OUT}: mean of {len(sample)} posts, norm {np.linalg.norm(center):.3f}, encoder {version()}")


if __name__ == "__main__":
    main()
