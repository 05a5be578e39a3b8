"""SnowNLP's score: SnowNLP 0.12.3 alone against the exact port (sentiment/snow_port.py), on 3,000 real texts.

Each side runs in its own fresh process, on one core (OMP_NUM_THREADS=1):
- load: import and the first score, wall and CPU seconds (the port cold, converting SnowNLP's segmenter file
  into its cache, and warm, reading the cache);
- texts per CPU-second (time.process_time) over the 3,000 texts: the first pass, with the port's memo
  empty, and a second pass over the same texts (what a long-running process sees once its memo is warm);
- peak RSS of the process (ru_maxrss) after scoring;
- identity: every score is compared bit for bit (float.hex) with SnowNLP's.

The port is loaded from its file alone (it needs only numpy and the installed snownlp's model files), so the
figures are the scorer's own, not the rest of the sentiment package's imports.

    .venv/bin/python bench/snownlp_port.py [--n 3000] [--repeats 1] [--json FILE]

About two minutes on a quiet core; SnowNLP is most of it.
"""
from __future__ import annotations

import argparse
import csv
import json
import os
import random
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
CORPORA = (("waimai_10k.csv", "review", ","), ("online_shopping_9_cats.csv", "review", ","),
           ("weibo_senti_2k.csv", "review", ","), ("smp2020_usual_dev.tsv", "text_a", "\t"))


def data_dir() -> Path:
    sys.path.insert(0, str(ROOT))
    from sentiment.corpora import default_data_dir  # noqa: PLC0415

    return default_data_dir()


def texts(n: int, seed: int = 2018) -> list[str]:
    """n real texts, an equal share from each of the four Chinese corpora, drawn with a fixed seed."""
    out, per = [], n // len(CORPORA)
    for i, (name, column, delimiter) in enumerate(CORPORA):
        with open(data_dir() / name, encoding="utf-8", newline="") as f:
            rows = [r[column] for r in csv.DictReader(f, delimiter=delimiter) if r.get(column)]
        out += random.Random(f"{seed}:{name}").sample(rows, per + (n % len(CORPORA) if i == 0 else 0))
    return out


CHILD = r"""
import json, resource, sys, time
engine, path, passes = sys.argv[1], sys.argv[2], int(sys.argv[3])
texts = json.load(open(path, encoding="utf-8"))
w0, c0 = time.perf_counter(), time.process_time()
if engine == "snownlp":
    from snownlp import sentiment
    classify = sentiment.classify
else:
    import importlib.util
    spec = importlib.util.spec_from_file_location("snow_port", sys.argv[4])
    snow_port = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(snow_port)
    classify = snow_port.SnowSentiment().classify
classify("预热一下模型")
out = {"load_wall": time.perf_counter() - w0, "load_cpu": time.process_time() - c0,
       "load_rss_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, "passes": []}
for p in range(passes):
    c = time.process_time()
    scores = [classify(t) for t in texts]
    out["passes"].append(len(texts) / (time.process_time() - c))
    if p == 0:
        out["scores"] = [s.hex() for s in scores]
out["rss_mib"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
print(json.dumps(out))
"""


def child(engine: str, path: Path, passes: int, cache: str | None = None) -> dict:
    env = {**os.environ, "OMP_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}
    if cache:
        env["REPWATCH_CACHE_DIR"] = cache
    cmd = [sys.executable, "-c", CHILD, engine, str(path), str(passes), str(ROOT / "sentiment" / "snow_port.py")]
    done = subprocess.run(cmd, env=env, capture_output=True, text=True, check=True)
    return json.loads(done.stdout.strip().splitlines()[-1])


def main(argv: list[str] | None = None) -> dict:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=3000)
    ap.add_argument("--repeats", type=int, default=1, help="fresh processes per side; the best rate is kept")
    ap.add_argument("--json")
    args = ap.parse_args(argv)
    sample = texts(args.n)
    with tempfile.TemporaryDirectory(prefix="snownlp-port-bench-") as tmp:
        path = Path(tmp) / "texts.json"
        path.write_text(json.dumps(sample, ensure_ascii=False), encoding="utf-8")
        cold = child("port", path, 0, cache=str(Path(tmp) / "cache"))      # converts, writes the cache
        warm = [child("port", path, 2, cache=str(Path(tmp) / "cache")) for _ in range(args.repeats)]
        snow = [child("snownlp", path, 1) for _ in range(args.repeats)]
    best = lambda runs, i: max(r["passes"][i] for r in runs)   # noqa: E731
    same = sum(a == b for a, b in zip(snow[0]["scores"], warm[0]["scores"]))
    res = {
        "n": len(sample),
        "snownlp": {"texts_per_cpu_s": best(snow, 0), "load_wall_s": min(r["load_wall"] for r in snow),
                    "load_cpu_s": min(r["load_cpu"] for r in snow), "peak_rss_mib": max(r["rss_mib"] for r in snow)},
        "port": {"texts_per_cpu_s": best(warm, 0), "second_pass_texts_per_cpu_s": best(warm, 1),
                 "load_wall_s": min(r["load_wall"] for r in warm), "load_cpu_s": min(r["load_cpu"] for r in warm),
                 "cold_load_wall_s": cold["load_wall"], "cold_load_cpu_s": cold["load_cpu"],
                 "cold_peak_rss_mib": cold["rss_mib"], "peak_rss_mib": max(r["rss_mib"] for r in warm)},
        "identical": same,
    }
    s, p = res["snownlp"], res["port"]
    print(f"SnowNLP's score on {res['n']:,} real texts, one core (OMP_NUM_THREADS=1), fresh process per side\n")
    print("| | texts per CPU-second | load (import + first score), s wall / CPU | peak RSS, MiB | identical |")
    print("|---|---:|---:|---:|---:|")
    print(f"| SnowNLP 0.12.3 alone | {s['texts_per_cpu_s']:,.0f} | {s['load_wall_s']:.2f} / {s['load_cpu_s']:.2f} "
          f"| {s['peak_rss_mib']:,.0f} | – |")
    print(f"| port, memo empty at start | **{p['texts_per_cpu_s']:,.0f}** ({p['texts_per_cpu_s'] / s['texts_per_cpu_s']:.1f}×)"
          f" | {p['load_wall_s']:.2f} / {p['load_cpu_s']:.2f} | {p['peak_rss_mib']:,.0f} "
          f"| **{same:,} / {res['n']:,}** |")
    print(f"| port, second pass (memo warm) | {p['second_pass_texts_per_cpu_s']:,.0f} | | | |")
    print(f"| port, first load ever (converts SnowNLP's segmenter file, writes the cache) | | "
          f"{p['cold_load_wall_s']:.2f} / {p['cold_load_cpu_s']:.2f} | {p['cold_peak_rss_mib']:,.0f} | |")
    if args.json:
        Path(args.json).write_text(json.dumps(res, indent=2), encoding="utf-8")
    if same != res["n"]:
        print(f"\nNOT IDENTICAL: {res['n'] - same} scores differ", file=sys.stderr)
        sys.exit(1)
    return res


if __name__ == "__main__":
    main()
