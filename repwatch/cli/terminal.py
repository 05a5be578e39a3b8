"""What the CLI writes to a terminal: never a control sequence from collected text.

Post titles, bodies, author names, error messages from remote servers and ticket notes are written
by strangers. Written raw, ESC sequences can recolour, retitle or clear the terminal, move the cursor
to overwrite earlier lines, or on some terminals answer back; BEL rings, NUL and CR hide text, and
bidi overrides make a line read differently from what it holds. Every line the CLI prints goes
through `clean`, which keeps newlines and tabs (the CLI's own layout) and drops the rest."""
from __future__ import annotations

import json
import re
from typing import Any

import click

# C0 controls but tab and newline, DEL, C1 controls (0x9b is a one-byte CSI on some terminals), the
# bidi marks, overrides and isolates, the line and paragraph separators, lone surrogates
_UNSAFE = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u061c\u200e\u200f\u2028\u2029\u202a-\u202e\u2066-\u2069"
                     "\ud800-\udfff]")


def clean(text: Any) -> str:
    return _UNSAFE.sub("", str(text))


def echo(message: Any = None, **kwargs) -> None:
    """click.echo for anything that may hold collected text."""
    click.echo(None if message is None else clean(message), **kwargs)


def json_line(obj: Any) -> str:
    """One JSON object, readable (ensure_ascii=False) but with every unsafe character escaped as
    \\uXXXX, so it stays the same JSON to a program and inert on a terminal."""
    return _UNSAFE.sub(lambda m: f"\\u{ord(m.group()):04x}", json.dumps(obj, ensure_ascii=False))
