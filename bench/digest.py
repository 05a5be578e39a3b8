"""Digest benchmark: CPU time to build one recipient's digest, the email's size, and what the notification log
keeps for it (the pending row carries the full rendering so a retry sends exactly the first try; a sent row keeps
only the short form). On the test world of tests/digest/conftest.py (a week, 40 mentions on the day), in a
temporary SQLite database.

    .venv/bin/python bench/digest.py
"""
from __future__ import annotations

import json
import sys
import tempfile
import time
from datetime import datetime, timezone
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from alerts.digest.deliver import compose  # noqa: E402
from repwatch.config import parse_config  # noqa: E402
from repwatch.digests import build, digest_zone  # noqa: E402
from storage import Database  # noqa: E402
from tests.digest.conftest import build_world  # noqa: E402

NOW = datetime(2026, 11, 23, 0, 5, tzinfo=timezone.utc)
RUNS = 5


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        db = Database(f"sqlite:///{tmp}/bench.db")
        world = build_world(db)
        config = parse_config({"timezone": "Asia/Shanghai", "watch": [{"name": "快送外卖"}, {"name": "优选商城"}],
                               "digests": [{"name": "daily", "from": "r@example.com", "smtp": {"host": "127.0.0.1"},
                                            "recipients": ["t@example.com"]}]}, "<bench>")
        job = config.digests[0]
        build(db, config, job, job.recipients[0], world.day, NOW)          # warm: matplotlib's import and fonts
        start = time.process_time()
        for _ in range(RUNS):
            message = build(db, config, job, job.recipients[0], world.day, NOW)
        per_build = (time.process_time() - start) / RUNS
        with db.session() as s:
            full = compose(s, job, job.recipients[0], world.day, digest_zone(config, job), NOW)
            start = time.process_time()
            short = compose(s, job, None, world.day, digest_zone(config, job), NOW, full=False)
            per_short = time.process_time() - start
        db.dispose()
    print(f"full digest (text, HTML, 2 charts): {per_build:.2f} CPU-s per build, email {len(bytes(message)):,} bytes")
    print(f"log row while pending: {len(json.dumps(full.to_dict())):,} bytes; once sent: "
          f"{len(json.dumps({**full.to_dict(), 'document': None})):,} bytes")
    print(f"short form for chat channels: {per_short:.3f} CPU-s, {len(json.dumps(short.to_dict())):,} bytes")


if __name__ == "__main__":
    main()
