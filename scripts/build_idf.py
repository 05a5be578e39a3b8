"""Build alerts/data/idf_social.tsv.gz: document frequencies of words in social posts and reviews.

jieba's IDF table was counted on news-like text, where 外卖, 骑手 or 快递 are rare; in complaints they are
in every other post, and as rare words they joined unrelated complaints. This counts, over the public
corpora in ../shared/data/sentiment (Weibo posts: SMP2020 usual, weibo_senti; reviews: waimai_10k,
online_shopping_9_cats; about 100k texts, deduplicated), in how many texts each word appears, with the
grouping's own tokeniser. Only words seen in at least MIN_DF texts are kept (a rarer count says nothing
new), as `word<TAB>df`, with the number of texts on the first line. alerts/incidents/grouping.py takes, per word,
the lower of jieba's IDF and log(N / df). Only counts are shipped, never the texts.

Run: .venv/bin/python scripts/build_idf.py
"""
from __future__ import annotations

import csv
import gzip
import sys
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from alerts.incidents.grouping import tokens  # noqa: E402

from sentiment.corpora import default_data_dir  # noqa: E402

DATA = default_data_dir()   # ../shared/data/sentiment beside the repository
OUT = ROOT / "alerts" / "data" / "idf_social.tsv.gz"
MIN_DF = 3


def texts():
    for name, column in (("waimai_10k.csv", "review"), ("online_shopping_9_cats.csv", "review"),
                         ("weibo_senti_2k.csv", "review")):
        with open(DATA / name, encoding="utf-8-sig") as f:
            for row in csv.DictReader(f):
                yield row[column] or ""
    for split in ("train", "dev", "test"):
        with open(DATA / f"smp2020_usual_{split}.tsv", encoding="utf-8") as f:
            next(f)
            for line in f:
                yield line.rstrip("\n").split("\t", 1)[-1]


def main() -> None:
    seen, df = set(), Counter()
    for text in texts():
        key = text.strip()
        if not key or key in seen:
            continue
        seen.add(key)
        df.update(set(tokens(key)))
    kept = sorted((w, n) for w, n in df.items() if n >= MIN_DF and "\t" not in w)
    with gzip.open(OUT, "wt", encoding="utf-8", compresslevel=9) as f:
        f.write(f"{len(seen)}\n")
        f.writelines(f"{w}\t{n}\n" for w, n in kept)
    print(f"{len(seen)} texts, {len(kept)} words with df >= {MIN_DF} -> {OUT.relative_to(ROOT)} "
          f"({OUT.stat().st_size / 1024:.0f} KiB)")


if __name__ == "__main__":
    main()
