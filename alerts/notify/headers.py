"""Email header values built only from cleaned text.

A post title reaches the alert's Subject. Python's `email` package parses an RFC 2047 encoded word in
a header value it is given and, before 3.11.10 / 3.12.5 (CVE-2024-6923), writes a line feed hidden
in one back out raw: `=?utf-8?q?x=0AReply-To:_attacker@evil.example?=` becomes a real Reply-To (or
Bcc) header. So, whatever the Python, no header value here carries an encoded-word opener (`=?`), a
control character, a line or paragraph separator, or an invisible format character (the bidi
overrides such as U+202E that make a subject read backwards in an inbox list)."""
from __future__ import annotations

import unicodedata

# Cc: C0/C1 controls (NUL, CR, LF, ESC, ...); Cf: format (bidi overrides and isolates, zero-width
# characters, BOM); Cs: lone surrogates; Zl/Zp: U+2028/U+2029, which some mail clients break lines on.
_DROP = {"Cc", "Cf", "Cs", "Zl", "Zp"}
MAX_HEADER = 400


def clean_header(value: object, limit: int = MAX_HEADER) -> str:
    text = "".join(" " if unicodedata.category(ch) in _DROP else ch for ch in str(value or ""))
    text = " ".join(text.split())
    # "= ?" reads the same to a person and is no encoded word to a parser
    text = text.replace("=?", "= ?")
    if len(text) > limit:
        text = text[: limit - 1] + "…"
    return text
