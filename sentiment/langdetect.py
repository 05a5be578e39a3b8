"""Cheap script-and-stopword language detection: enough to route zh to the Chinese models, en to VADER, and
to name other languages (which get a neutral score) without a crash or a download.

Returns a short code: zh, ja, ko, en, fr, de, es, pt, it, ru, ar, th, other (letters of another script),
und (no letters at all: empty, digits, punctuation, emoji)."""
from __future__ import annotations

import re

_WORD = re.compile(r"[a-zà-ÿ']+")
# The commonest function words; enough to tell Latin-script languages apart in a sentence or two.
_STOPWORDS = {
    "en": set("the a and is it to of i this for not my was with you very in on that but have are be they".split()),
    "fr": set("le la les et est un une des pas je ce que pour dans du avec très il sur mais ne".split()),
    "de": set("der die das und ist ein eine nicht ich mit sehr zu es auf für den sie auch aber".split()),
    "es": set("el la los las y es un una no que de muy con por para lo pero del se mi".split()),
    "pt": set("o a os as e é um uma não que de muito com por para do da mas se meu".split()),
    "it": set("il lo la gli le e è un una non che di molto con per del della ma mi sono".split()),
}


def _script_counts(text: str) -> dict[str, int]:
    c = dict.fromkeys(("han", "kana", "hangul", "latin", "cyrillic", "arabic", "thai", "other"), 0)
    for ch in text:
        o = ord(ch)
        if 0x4E00 <= o <= 0x9FFF or 0x3400 <= o <= 0x4DBF or 0xF900 <= o <= 0xFAFF:
            c["han"] += 1
        elif 0x3040 <= o <= 0x30FF:
            c["kana"] += 1
        elif 0xAC00 <= o <= 0xD7AF or 0x1100 <= o <= 0x11FF:
            c["hangul"] += 1
        elif ch.isalpha() and o < 0x250:
            c["latin"] += 1
        elif 0x400 <= o <= 0x4FF:
            c["cyrillic"] += 1
        elif 0x600 <= o <= 0x6FF:
            c["arabic"] += 1
        elif 0xE00 <= o <= 0xE7F:
            c["thai"] += 1
        elif ch.isalpha():
            c["other"] += 1
    return c


def detect_lang(text: str) -> str:
    c = _script_counts(text[:2000])
    if c["kana"] and c["kana"] * 4 >= c["han"] // 2:
        return "ja"                                # Japanese mixes kanji with kana; Chinese has no kana
    if c["hangul"] > c["han"]:
        return "ko"
    if c["han"] and c["han"] * 3 >= c["latin"] / 4:  # Chinese posts often carry English brand names
        return "zh"
    top = max(("latin", "cyrillic", "arabic", "thai", "other"), key=lambda k: c[k])
    if not c[top]:
        return "zh" if c["han"] else "und"
    if top == "cyrillic":
        return "ru"
    if top in ("arabic", "thai", "other"):
        return {"arabic": "ar", "thai": "th"}.get(top, "other")
    words = _WORD.findall(text[:2000].casefold())
    hits = {lang: sum(w in stop for w in words) for lang, stop in _STOPWORDS.items()}
    best = max(hits, key=lambda lang: hits[lang])
    # Short function words are shared ("a", "o", "no"): another language must clearly outscore English, or
    # a two-word English review ("A Disappointment.") would be called Portuguese and scored neutral.
    if hits[best] < 2 or hits[best] < hits["en"] + 2:
        return "en"
    return best
