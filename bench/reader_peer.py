"""The peer side of bench/collect.py: `reader` collects the same loopback feeds, first pass and 304
pass. Run with the interpreter of an environment where `reader` is installed (it is not a repwatch
dependency), e.g. python -m venv /tmp/rv && /tmp/rv/bin/pip install reader.

    /tmp/rv/bin/python bench/reader_peer.py BASE_URL[,BASE_URL…] FEEDS WORKERS   (one JSON line per phase)

Feed i is on the i-th base URL modulo their number, as bench/collect.py --hosts spreads them.
"""
import json
import sys
import tempfile
import time

import reader


def peak_rss_mib() -> float:
    # VmHWM, not ru_maxrss: Linux carries ru_maxrss across exec, so a child would report its parent's peak
    for line in open("/proc/self/status"):
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return 0.0


def main() -> None:
    bases, feeds, workers = sys.argv[1].split(","), int(sys.argv[2]), int(sys.argv[3])
    with tempfile.TemporaryDirectory() as tmp:
        r = reader.make_reader(f"{tmp}/reader.sqlite")
        for i in range(feeds):
            r.add_feed(f"{bases[i % len(bases)]}/feed/{i}.xml")
        before = 0
        for phase in ("first pass", "304 pass"):
            wall, cpu = time.perf_counter(), time.process_time()
            r.update_feeds(workers=workers, scheduled=False)   # every feed, each pass
            wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
            total = r.get_entry_counts().total
            print(json.dumps({"version": reader.__version__, "phase": phase, "items": total, "new": total - before,
                              "wall": wall, "cpu": cpu,
                              "rss": peak_rss_mib()}), flush=True)
            before = total
        r.close()


if __name__ == "__main__":
    main()
