"""Regenerate migrations/versions/0001_initial.py from the models.

Only while repwatch is unreleased (0.x, no deployed databases to carry forward): after the first
release every schema change becomes a new Alembic revision instead. tests/storage/test_migrations.py
proves the migration and the models agree on SQLite and PostgreSQL.

    python -m storage.regen_initial
"""
from __future__ import annotations

import shutil
import tempfile
from pathlib import Path

from alembic import command

from storage.db import MIGRATIONS, alembic_config, make_engine


def main() -> None:
    versions = MIGRATIONS / "versions"
    target = versions / "0001_initial.py"
    target.unlink(missing_ok=True)
    # Hand-written revisions after 0001 (0002_fulltext) point at "0001"; with it deleted Alembic
    # cannot load the script directory, so they step aside while 0001 is written.
    later = [p for p in versions.glob("*.py") if not p.name.startswith("0001_")]
    with tempfile.TemporaryDirectory() as tmp:
        for p in later:
            shutil.move(p, Path(tmp) / p.name)
        try:
            engine = make_engine(f"sqlite:///{Path(tmp) / 'empty.db'}")
            cfg = alembic_config(engine)
            command.revision(cfg, message="initial schema", autogenerate=True, rev_id="0001")
        finally:
            for p in later:
                shutil.move(Path(tmp) / p.name, p)
    produced = next((MIGRATIONS / "versions").glob("0001_*.py"))
    if produced != target:
        produced.rename(target)
    print(f"wrote {target}")


if __name__ == "__main__":
    main()
