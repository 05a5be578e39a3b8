"""Regenerate migrations/versions/0001_initial.py from the models.

Only while repwatch is unreleased (0.x, no deployed databases to carry forward): after the first
release every schema change becomes a new Alembic revision instead. tests/storage/test_migrations.py
proves the migration and the models agree on SQLite and PostgreSQL.

    python -m storage.regen_initial
"""
from __future__ import annotations

import tempfile
from pathlib import Path

from alembic import command

from storage.db import MIGRATIONS, alembic_config, make_engine


def main() -> None:
    target = MIGRATIONS / "versions" / "0001_initial.py"
    target.unlink(missing_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        engine = make_engine(f"sqlite:///{Path(tmp) / 'empty.db'}")
        cfg = alembic_config(engine)
        command.revision(cfg, message="initial schema", autogenerate=True, rev_id="0001")
    produced = next((MIGRATIONS / "versions").glob("0001_*.py"))
    if produced != target:
        produced.rename(target)
    print(f"wrote {target}")


if __name__ == "__main__":
    main()
