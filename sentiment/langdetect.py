"""Cheap script-based language detection: enough to route zh to SnowNLP and en to the English model."""
from __future__ import annotations


def detect_lang(text: str) -> str:
    cjk = latin = other = 0
    for ch in text:
        o = ord(ch)
        if 0x4E00 <= o <= 0x9FFF or 0x3400 <= o <= 0x4DBF:
            cjk += 1
        elif ch.isascii() and ch.isalpha():
            latin += 1
        elif ch.isalpha():
            other += 1
    if cjk and cjk * 3 >= latin / 4:  # Chinese posts often carry a few English brand words
        return "zh"
    if latin and latin >= other:
        return "en"
    if other:
        return "other"
    return "und"
