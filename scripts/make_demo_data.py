"""Build repwatch/demo_data/posts.json: a few hundred REAL posts picked from ../shared/data/sentiment.

Deterministic (fixed seed). The demo server renders them as RSS, Atom and a GB18030 feed.
    python scripts/make_demo_data.py [--shared ../shared]
"""
from __future__ import annotations

import argparse
import csv
import json
import random
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "repwatch" / "demo_data" / "posts.json"


def rows(path: Path, text_col: str):
    with path.open(encoding="utf-8-sig", newline="") as fh:
        for row in csv.DictReader(fh):
            text = (row.get(text_col) or "").strip().lstrip("\ufeff")
            if 8 <= len(text) <= 160:
                yield int(row["label"]), text


def pick(items, n_neg, n_pos, rng):
    seen, neg, pos = set(), [], []
    items = list(items)
    rng.shuffle(items)
    for label, text in items:
        if text in seen:
            continue
        seen.add(text)
        (neg if label == 0 else pos).append(text)
    return neg[:n_neg], pos[:n_pos]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--shared", default=str(ROOT.parent / "shared"))
    args = ap.parse_args()
    data = Path(args.shared) / "data" / "sentiment"
    rng = random.Random(20261123)
    posts = []
    plan = [("waimai", data / "waimai_10k.csv", 90, 40), ("shopping", data / "online_shopping_9_cats.csv", 70, 40),
            ("weibo", data / "weibo_senti_2k.csv", 30, 30)]
    for feed, path, n_neg, n_pos in plan:
        neg, pos = pick(rows(path, "review"), n_neg, n_pos, rng)
        mixed = [(0, t) for t in neg] + [(1, t) for t in pos]
        rng.shuffle(mixed)
        for i, (label, text) in enumerate(mixed):
            post = {"feed": feed, "id": f"{feed}-{i:04d}", "label": label, "text": text,
                    "author": f"{feed}_user_{rng.randint(1000, 9999)}"}
            if feed == "weibo":  # social posts carry reach and engagement
                post["followers"] = rng.choice([120, 800, 2300, 15000, 56000])
                post["reposts"] = rng.randint(0, 50)
            posts.append(post)
    OUT.parent.mkdir(parents=True, exist_ok=True)
    OUT.write_text(json.dumps({"source": "SophonPlus/ChineseNlpCorpus (waimai_10k, online_shopping_10_cats, "
                                         "weibo_senti_100k), picked by scripts/make_demo_data.py",
                               "posts": posts}, ensure_ascii=False, indent=0), encoding="utf-8")
    print(f"wrote {len(posts)} posts to {OUT} ({OUT.stat().st_size:,} bytes)")


if __name__ == "__main__":
    main()
