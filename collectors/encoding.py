"""Bytes → text for feeds and JSON APIs, without mojibake.

Chinese feeds are often mislabelled: GBK with no declaration at all, GB18030 served as
`charset=iso-8859-1`, GB2312 declared where the bytes use GBK's extra characters. feedparser falls
back to windows-1252 and stores `²»¹éÒÆÃñ` while the run says ok. So the declared charset is only
trusted when it decodes the bytes cleanly and, for single-byte charsets (which decode anything), when
the bytes do not read better as UTF-8 or a CJK encoding; otherwise the encoding is detected from the
bytes (charset-normalizer) and a warning is recorded on the source."""
from __future__ import annotations

import codecs
import re
from dataclasses import dataclass
from functools import lru_cache

from collectors.exceptions import CollectError

_BOMS = ((codecs.BOM_UTF32_LE, "utf-32"), (codecs.BOM_UTF32_BE, "utf-32"), (codecs.BOM_UTF8, "utf-8-sig"),
         (codecs.BOM_UTF16_LE, "utf-16"), (codecs.BOM_UTF16_BE, "utf-16"))
_XML_DECL = re.compile(rb'^\s*<\?xml[^>]*?encoding\s*=\s*["\']([A-Za-z0-9._:-]+)["\']')
# Labels that decode as a superset: GB2312 and GBK documents use GB18030's extra characters in the
# wild, Big5 ones the HKSCS extensions; decoding with the superset loses nothing.
_SUPERSET = {"gb2312": "gb18030", "gbk": "gb18030", "cp936": "gb18030", "x-gbk": "gb18030",
             "euc-cn": "gb18030", "big5": "big5hkscs", "cp950": "big5hkscs",
             # as browsers do: servers say iso-8859-1 and mean windows-1252
             "iso-8859-1": "cp1252", "latin-1": "cp1252", "latin1": "cp1252", "us-ascii": "cp1252",
             "ascii": "cp1252"}
_CJK = ("gb18030", "gbk", "gb2312", "big5", "big5hkscs", "cp950", "euc_jp", "shift_jis", "cp932",
        "euc_kr", "cp949", "hz", "iso2022_jp")


@dataclass
class Decoded:
    text: str
    encoding: str            # the label we decoded with, as declared where the declaration held
    warning: str | None = None


def charset_of(content_type: str | None) -> str | None:
    for part in (content_type or "").split(";")[1:]:
        key, _, value = part.partition("=")
        if key.strip().lower() == "charset":
            return value.strip().strip("\"'").lower() or None
    return None


def xml_declared(content: bytes) -> str | None:
    m = _XML_DECL.match(content[:200])
    return m.group(1).decode("ascii").lower() if m else None


def _codec(label: str) -> str | None:
    label = label.lower()
    try:
        return codecs.lookup(_SUPERSET.get(label, label)).name
    except LookupError:
        return None


@lru_cache(maxsize=64)
def _single_byte(codec: str) -> bool:
    """Whether (nearly) every byte is a character of its own, so that "it decoded" proves nothing:
    latin-1, windows-125x, koi8-r ... Multibyte codecs pair bytes up, UTF-8 refuses half of them."""
    return len(bytes(range(256)).decode(codec, "ignore")) > 240


def _strict(content: bytes, codec: str) -> str | None:
    try:
        return content.decode(codec)
    except (UnicodeDecodeError, LookupError):
        return None


# What Chinese sources are written in. Detection over every codec misreads short Big5 text as
# Shift-JIS (both are plausible byte-wise), so these are tried first and the rest only as a fallback.
LIKELY = ["utf_8", "gb18030", "big5hkscs", "cp1252"]


def detect(content: bytes) -> str | None:
    """The encoding charset-normalizer finds most coherent, or None. On a tie (a few characters can
    read as GB18030 and as Big5 alike) the order of LIKELY decides: mainland sources are the most common."""
    from charset_normalizer import from_bytes   # lazy: only feeds that need detecting pay for it

    matches = list(from_bytes(content, cp_isolation=LIKELY)) or list(from_bytes(content))
    if not matches:
        return None
    best = min((m.chaos, -m.coherence) for m in matches)
    tied = [m.encoding for m in matches if (m.chaos, -m.coherence) == best]
    tied.sort(key=lambda e: LIKELY.index(e) if e in LIKELY else len(LIKELY))
    return _codec(tied[0])


def decode(content: bytes, declared: list[str | None], where: str) -> Decoded:
    """Decode `content`, trusting the first declared label that holds (HTTP header first, then the
    document's own declaration), else UTF-8, else what detection finds."""
    for bom, bom_codec in _BOMS:
        if content.startswith(bom):   # a byte order mark outranks every label (the XML and HTML rule)
            text = _strict(content, bom_codec)
            if text is not None:
                return Decoded(text.lstrip("\ufeff"), bom_codec.replace("-sig", ""))
    labels = [d for d in dict.fromkeys(d.lower() for d in declared if d)]
    refused = []
    high_bytes = any(b > 0x7F for b in content)
    for label in labels:
        codec = _codec(label)
        if codec is None:
            refused.append(f"{label} (unknown)")
            continue
        if codec.replace("-", "_").startswith(("utf_16", "utf_32")) and content.lstrip()[:1] == b"<":
            # a UTF-16/32 label on bytes that start with an ASCII "<" is wrong (a common copy-paste)
            refused.append(f"{label} (the bytes are not {label})")
            continue
        text = _strict(content, codec)
        if text is None:
            refused.append(f"{label} (does not decode)")
            continue
        if _single_byte(codec) and high_bytes:
            # iso-8859-1 "decodes" GB18030 too: take it only when nothing multibyte reads the bytes better
            better = _better_than_single_byte(content)
            if better is not None:
                return Decoded(better[1], better[0], f"declared {label}, but the bytes are {better[0]}; "
                               f"decoded as {better[0]}")
        warning = f"declared {', '.join(refused)}; decoded as {label}" if refused else None
        return Decoded(text, label, warning)
    text = _strict(content, "utf-8")   # XML's default when nothing is declared
    if text is not None:
        warning = f"declared {', '.join(refused)}; decoded as utf-8" if refused else None
        return Decoded(text, "utf-8", warning)
    found = detect(content)
    text = _strict(content, found) if found else None
    if text is None or found is None:
        raise CollectError("encoding", f"{where}: the response is not valid text in any encoding we could find "
                           f"(declared: {', '.join(labels) or 'none'}); nothing was stored")
    said = f"declared {', '.join(refused)}" if refused else "no charset declared"
    return Decoded(text, found, f"{said}; detected {found} from the bytes and decoded as {found}")


def _better_than_single_byte(content: bytes) -> tuple[str, str] | None:
    text = _strict(content, "utf-8")
    if text is not None:
        return "utf-8", text
    found = detect(content)
    if found and found.replace("-", "_") in _CJK:
        text = _strict(content, found)
        if text is not None:
            return found, text
    return None
