"""Labelled examples for the complaint, category and severity models, from ../shared/data.

Every example carries its language, corpus and a split (sentiment/corpora.split_of over the dedup key: 70%
train, 10% validation, 20% test), so that benchmarks never score a text the shipped model was trained on.

Complaint labels (a complaint is a grievance against a company, product or service, docs/DOMAIN.md):
- Chinese: negative waimai_10k / online_shopping_9_cats reviews are complaints, positive ones are not;
  weibo_senti_2k, all SMP2020 "usual" Weibo posts (neutral, happy, angry, sad, fear, surprise about life
  and news) and the CED Weibo cascades (news, rumours, advice; each original and its first three replies) are not; an AI Challenger 2018 Dianping review or a BDCI 2018 car-forum post is a complaint when it
  has a negative aspect and no more positive than negative ones (or, Dianping, a negative overall
  experience), not a complaint when it has no negative aspect, and left out of the complaint task when it is
  mixed (still used for categories).
- English: X-CI tweets (complaint 1/0, severity 0-4); MAMS restaurant sentences by the same rule as Dianping;
  amazon_cells negative sentences are complaints, positive ones are not.

Category labels (the taxonomy of DOMAIN.md; the mapping is documented in docs/sentiment.md):
- aspect sets: a negative aspect gives its mapped category; the categories an aspect set can name (product,
  service, price) are "known" for its texts, the rest come from the word lists (weak labels);
- review corpora and X-CI complaints: weak labels from the built-in word lists; a complaint with no word-list
  category is left out of category training (no label is not the same as "about nothing").
"""
from __future__ import annotations

import csv
import xml.etree.ElementTree as ET
from dataclasses import dataclass, field
from pathlib import Path

from sentiment import corpora
from sentiment.lexicon import CATEGORIES
from sentiment.normalize import dedup_key, strip_emoticons

SEVERITY_MAX = 4.0

# aspect -> taxonomy category; None = not a complaint category (location, overall impression)
DIANPING_MAP = {
    "location_traffic_convenience": None, "location_distance_from_business_district": None,
    "location_easy_to_find": None, "service_wait_time": "service", "service_waiters_attitude": "service",
    "service_parking_convenience": "service", "service_serving_speed": "service", "price_level": "price",
    "price_cost_effective": "price", "price_discount": "price", "environment_decoration": "product",
    "environment_noise": "product", "environment_space": "product", "environment_cleaness": "product",
    "dish_portion": "product", "dish_taste": "product", "dish_look": "product", "dish_recommendation": "product",
    "others_overall_experience": None, "others_willing_to_consume_again": None,
}
CAR_MAP = {"动力": "product", "油耗": "product", "操控": "product", "舒适性": "product", "配置": "product",
           "安全性": "product", "内饰": "product", "外观": "product", "空间": "product", "价格": "price"}
MAMS_MAP = {"food": "product", "menu": "product", "ambience": "product", "place": "product",
            "service": "service", "staff": "service", "price": "price", "miscellaneous": None}
ASPECT_KNOWN = ("product", "service", "price")

ZH_COMPLAINT_CORPORA = ("waimai_10k", "online_shopping_9_cats", "weibo_senti_2k", "smp2020_usual", "ced_weibo",
                        "aic2018_dianping", "bdci2018_car")
EN_COMPLAINT_CORPORA = ("xci", "mams", "amazon_cells")
ASPECT_CORPORA = ("aic2018_dianping", "bdci2018_car", "mams")


@dataclass
class Labelled:
    text: str
    lang: str                       # "zh" or "en"
    corpus: str
    complaint: int | None           # 1, 0, or None (not used for the complaint task)
    categories: tuple[str, ...] | None = None   # positives; None = not used for the category task
    known: tuple[str, ...] = ()     # categories labelled by people (the rest, if any, are word-list labels)
    severity: float | None = None   # 0..4 (X-CI); None = unknown
    negative: int | None = None     # 1 negative, 0 not (for the negativity benchmark)
    weight: float = 1.0
    split: str = field(default="train")
    tag: str = ""                   # e.g. "neutral" for SMP2020's neutral posts (the false-alarm benchmark)


def _aspect_complaint(neg: int, pos: int, overall_negative: bool = False) -> int | None:
    if overall_negative or (neg and neg >= pos):
        return 1
    return 0 if neg == 0 else None


def _dianping(path: Path) -> list[Labelled]:
    out = []
    with path.open(encoding="utf-8-sig", newline="") as fh:
        for row in csv.DictReader(fh):
            values = {k: row.get(k, "-2") for k in DIANPING_MAP}
            neg = sum(v == "-1" for v in values.values())
            pos = sum(v == "1" for v in values.values())
            cats = tuple(sorted({c for k, v in values.items() if v == "-1" and (c := DIANPING_MAP[k])}))
            complaint = _aspect_complaint(neg, pos, values["others_overall_experience"] == "-1")
            out.append(Labelled(row["content"] or "", "zh", "aic2018_dianping", complaint,
                                cats if neg else None, ASPECT_KNOWN, negative=int(neg > pos)))
    return out


def _car(path: Path) -> list[Labelled]:
    by_id: dict[str, dict] = {}
    with path.open(encoding="utf-8-sig", newline="") as fh:
        for row in csv.DictReader(fh):
            item = by_id.setdefault(row["content_id"], {"text": row["content"] or "", "neg": set(), "pos": 0, "n": 0})
            value = row["sentiment_value"].strip()
            if value == "-1":
                item["neg"].add(CAR_MAP.get(row["subject"], "product"))
            elif value == "1":
                item["pos"] += 1
    out = []
    for item in by_id.values():
        neg = len(item["neg"])
        complaint = _aspect_complaint(neg, item["pos"])
        out.append(Labelled(item["text"], "zh", "bdci2018_car", complaint,
                            tuple(sorted(item["neg"])) if neg else None, ASPECT_KNOWN, negative=int(neg > item["pos"])))
    return out


def _mams(paths: list[Path]) -> list[Labelled]:
    out = []
    for path in paths:
        for sentence in ET.parse(path).getroot().iter("sentence"):
            text = (sentence.findtext("text") or "").strip()
            pol = [(a.get("category"), a.get("polarity")) for a in sentence.iter("aspectCategory")]
            neg = [c for c, p in pol if p == "negative"]
            pos = sum(p == "positive" for _, p in pol)
            cats = tuple(sorted({m for c in neg if c and (m := MAMS_MAP.get(c))}))
            out.append(Labelled(text, "en", "mams", _aspect_complaint(len(neg), pos), cats if neg else None,
                                ASPECT_KNOWN, negative=int(len(neg) > pos)))
    return out


def _xci(path: Path) -> list[Labelled]:
    with path.open(encoding="utf-8-sig", newline="") as fh:
        return [Labelled(row["tweet"] or "", "en", "xci", int(row["complaint"]), severity=float(row["severity"]),
                         negative=None) for row in csv.DictReader(fh)]


def _smp(data: Path) -> list[Labelled]:
    out = []
    for name in ("train", "dev", "test"):
        path = data / f"smp2020_usual_{name}.tsv"
        if not path.exists():
            continue
        for line in path.read_text(encoding="utf-8").splitlines()[1:]:
            label, _, text = line.partition("\t")
            if not label.strip().isdigit():
                continue
            emotion = int(label)   # 0 neutral, 1 angry, 2 happy, 3 sad, 4 fear, 5 surprise
            negative = 1 if emotion in (1, 3, 4) else 0 if emotion in (0, 2) else None
            out.append(Labelled(strip_emoticons(text), "zh", "smp2020_usual", 0, negative=negative, severity=0.0,
                                tag=("neutral", "angry", "happy", "sad", "fear", "surprise")[emotion] if emotion < 6 else ""))
    return out


CED_POSTS_PER_CASCADE = 3


def _ced(path: Path) -> list[Labelled]:
    """CED Weibo cascades (grouping/): news, rumours, advice and chat, with the first few replies. Not
    complaints by the author against a company: they teach the model that news *about* food safety, 3·15 or
    consumer rights is not itself a complaint."""
    import json  # noqa: PLC0415

    out = []
    for line in path.read_text(encoding="utf-8").splitlines():
        if not line.strip():
            continue
        cascade = json.loads(line)
        texts = [cascade.get("text") or ""] + [p.get("text") or "" for p in cascade.get("posts", [])[:CED_POSTS_PER_CASCADE]]
        out += [Labelled(strip_emoticons(t), "zh", "ced_weibo", 0, severity=0.0) for t in texts]
    return out


def shared_root(data_dir: Path | None = None) -> Path:
    """../shared/data (the parent of the sentiment corpora directory)."""
    return Path(data_dir).parent if data_dir else corpora.default_data_dir().parent


def load_all(root: Path | None = None, *, near_dups: bool = True, sample: int | None = None,
             zh_examples: list[corpora.Example] | None = None, sentiment_dir: Path | None = None) -> list[Labelled]:
    """Every labelled example, deduplicated (exact, after normalisation; plus the near-duplicate pass of
    sentiment/corpora.py over the review corpora), with a stable split. `sample` keeps every n-th.
    `zh_examples`: corpora.load_zh's result when the caller has it already; `sentiment_dir`: the sentiment
    corpora when they are not in root/sentiment."""
    root = Path(root) if root else shared_root()
    sent = Path(sentiment_dir) if sentiment_dir else root / "sentiment"
    items: list[Labelled] = []
    for e in zh_examples if zh_examples is not None else corpora.load_zh(sent, near_dups=near_dups):
        if e.corpus == "smp2020_usual":
            continue                      # read below with its emotions (every SMP post is a non-complaint)
        items.append(Labelled(e.text, "zh", e.corpus, 0 if e.corpus == "weibo_senti_2k" else 1 - e.label,
                              negative=1 - e.label, severity=0.0 if e.label == 1 else None))
    items += _smp(sent)
    if (root / "grouping" / "ced_cascades.jsonl").exists():
        items += _ced(root / "grouping" / "ced_cascades.jsonl")
    aspects = root / "aspects"
    if (aspects / "aic2018_dianping_2k.csv").exists():
        items += _dianping(aspects / "aic2018_dianping_2k.csv")
    if (aspects / "bdci2018_car.csv").exists():
        items += _car(aspects / "bdci2018_car.csv")
    mams = sorted(aspects.glob("mams_acsa_*.xml")) if aspects.is_dir() else []
    if mams:
        items += _mams(mams)
    if (root / "complaints" / "xci_dev.csv").exists():
        items += _xci(root / "complaints" / "xci_dev.csv")
    for e in corpora.load_en(sent):
        items.append(Labelled(e.text, "en", "amazon_cells", 1 - e.label, negative=1 - e.label))
    seen: set[str] = set()
    out = []
    for item in items:
        key = dedup_key(item.text)
        if not key or key in seen:
            continue
        seen.add(key)
        item.split = corpora.split_of(key)
        out.append(item)
    return out[::sample] if sample else out


def weak_categories(items: list[Labelled], found: list[set[str]]) -> None:
    """Fill the category labels the word lists give (`found[i]`: the word-list categories of items[i]): for
    complaints without aspect labels, the word-list categories (or None when there are none); for aspect
    texts, the categories aspects never name."""
    for item, cats in zip(items, found):
        if item.corpus == "extra" and item.categories is not None:
            continue                      # a person's categories are final
        if item.complaint != 1 and item.categories is None:
            continue
        if item.categories is None:
            item.categories = tuple(c for c in CATEGORIES if c in cats) or None
        else:
            extra = {c for c in cats if c not in item.known}
            item.categories = tuple(c for c in CATEGORIES if c in set(item.categories) | extra)
