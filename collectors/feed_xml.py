"""Feed bytes → UTF-8 XML that feedparser reads without guessing, and the check that a body ended.

feedparser picks a charset itself (windows-1252 when in doubt: mojibake for Chinese), raises a
traceback on `&#xD800;`, turns `&#0;` into a NUL PostgreSQL refuses, and happily returns the
entries of half a document. So the charset is chosen here (collectors/encoding.py), forbidden
character references and control characters are removed, and a document whose root element never
closes is refused. Each repair is a warning on the run."""
from __future__ import annotations

import re

from collectors.base import Problem
from collectors.encoding import charset_of, decode, xml_declared
from storage.clean import clean_text, has_unsafe

# A numeric character reference to a code point XML forbids (NUL, C0 controls, surrogate halves,
# U+FFFE/FFFF, beyond U+10FFFF). feedparser turns &#xD800; into a traceback and &#0; into a NUL that
# PostgreSQL refuses, so they are removed before parsing.
# `&amp;#...;` too: escaped HTML in a description is unescaped and parsed again by feedparser.
_CHARREF = re.compile(r"&(?:amp;)?#(?:[xX]([0-9a-fA-F]+)|([0-9]+));")
_XML_DECL_ENCODING = re.compile(r'^(\s*<\?xml[^>]*?encoding\s*=\s*)["\'][^"\']*["\']')
_ROOT = re.compile(r"<([A-Za-z_][\w.:-]*)")


def _xml_char(cp: int) -> bool:
    return cp in (0x9, 0xA, 0xD) or 0x20 <= cp <= 0xD7FF or 0xE000 <= cp <= 0xFFFD or 0x10000 <= cp <= 0x10FFFF


def drop_bad_charrefs(text: str) -> tuple[str, int]:
    dropped = 0

    def keep(m: re.Match) -> str:
        nonlocal dropped
        digits = (m.group(1) or m.group(2)).lstrip("0")
        # more than 8 digits is beyond U+10FFFF anyway (and int() refuses 4,300+ digits)
        cp = -1 if len(digits) > 8 else int(digits or "0", 16 if m.group(1) else 10)
        if _xml_char(cp):
            return m.group(0)
        dropped += 1
        return ""

    return _CHARREF.sub(keep, text), dropped


def ends_properly(text: str) -> bool:
    """Whether the document's root element is closed. A body cut off mid-feed (a connection closed
    early with no Content-Length to tell) would otherwise give half an item, stored under a content
    hash, and the whole item next run as a second row."""
    root = _root_name(text)
    if root is None:
        return False
    body = _strip_tail(text[-4096:])
    return re.search(rf"</\s*{re.escape(root)}\s*>\Z", body) is not None


def _root_name(text: str) -> str | None:
    """The first element's name, past the declaration, comments and doctype. Scanned with find(),
    always forward, so no hostile prolog costs more than one pass."""
    i = 0
    while True:
        i = text.find("<", i)
        if i < 0:
            return None
        if text.startswith("<!--", i):
            i = text.find("-->", i + 4)
        elif text.startswith("<?", i):
            i = text.find("?>", i + 2)
        elif text.startswith("<!", i):   # doctype, perhaps with an internal subset in [...]
            end, bracket = text.find(">", i), text.find("[", i)
            if -1 < bracket < end:
                close = text.find("]", bracket)
                i = text.find(">", close) if close >= 0 else -1
            else:
                i = end
        else:
            m = _ROOT.match(text, i)
            return m.group(1) if m else None
        if i < 0:
            return None


def _strip_tail(body: str) -> str:
    """Comments, processing instructions and blanks may follow the root element. (A loop, not a
    regex: a hostile tail of blanks would make a nested-quantifier regex backtrack for ever.)"""
    body = body.rstrip()
    for closing, opening in (("-->", "<!--"), ("?>", "<?")) * 50:
        if body.endswith(closing) and opening in body:
            body = body[:body.rfind(opening)].rstrip()
    return body


def prepare_xml(content: bytes, headers: dict[str, str], where: str) -> tuple[bytes, dict[str, str], list[Problem]]:
    """Bytes feedparser can read without guessing: UTF-8, declared as such, with no character it
    would choke on. The charset is chosen here (collectors/encoding.py), never by feedparser's
    windows-1252 fallback."""
    headers = {k.lower(): v for k, v in headers.items()}
    ctype = headers.get("content-type", "")
    decoded = decode(content, [charset_of(ctype), xml_declared(content)], where)
    problems = []
    if decoded.warning:
        problems.append(Problem("encoding", f"recovered: {decoded.warning}", where, warning=True))
    text, dropped = drop_bad_charrefs(decoded.text)
    if dropped:
        problems.append(Problem("charref", f"removed {dropped} character reference(s) to characters XML does "
                                "not allow (such as &#xD800; or &#0;)", where, warning=True))
    if has_unsafe(text):
        text = clean_text(text)
        problems.append(Problem("control", "removed control characters XML does not allow", where, warning=True))
    text = _XML_DECL_ENCODING.sub(r'\1"utf-8"', text, count=1)
    media = ctype.split(";")[0].strip() or "application/xml"
    headers["content-type"] = f"{media}; charset=utf-8"
    return text.encode("utf-8"), headers, problems
