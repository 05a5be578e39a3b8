"""The `repwatch` command. Each module in this package adds its commands to the group in app.py,
so a new command is a new module; heavy imports (SnowNLP, Scrapy) stay inside the commands."""
from __future__ import annotations

import importlib
import pkgutil

from repwatch.cli.app import cli

for _mod in pkgutil.iter_modules(__path__):
    if _mod.name != "app":
        importlib.import_module(f"{__name__}.{_mod.name}")


def main() -> None:
    cli(prog_name="repwatch")
