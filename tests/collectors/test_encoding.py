"""collectors/encoding.py on its own: which label is trusted, when the bytes are detected instead,
and what the warning says. (The corpus in tests/collectors/hostile_feeds covers the same over real HTTP.)"""
from __future__ import annotations

import codecs

import pytest

from collectors import CollectError
from collectors.encoding import charset_of, decode, xml_declared

COMPLAINT = "<rss>优选商城卖假货，客服一直推脱，我要投诉到消费者协会</rss>"


def test_a_label_that_decodes_cleanly_is_trusted_without_a_warning():
    got = decode(COMPLAINT.encode("gbk"), ["gbk"], "w")
    assert (got.text, got.encoding, got.warning) == (COMPLAINT, "gbk", None)


@pytest.mark.parametrize("label", ["iso-8859-1", "windows-1252", "koi8-r", "us-ascii"])
def test_a_single_byte_label_on_chinese_bytes_is_overruled(label):
    got = decode(COMPLAINT.encode("gb18030"), [label], "w")
    assert got.text == COMPLAINT and got.encoding == "gb18030"
    assert got.warning == f"declared {label}, but the bytes are gb18030; decoded as gb18030"


def test_real_western_text_under_a_latin_label_stays_as_it_is():
    text = "<rss>Café crème – naïve “quotes”</rss>"
    got = decode(text.encode("cp1252"), ["iso-8859-1"], "w")
    assert (got.text, got.warning) == (text, None)   # read as windows-1252, as browsers do


def test_a_utf16_label_on_ascii_compatible_bytes_is_refused():
    text = '<?xml version="1.0" encoding="utf-16"?><rss>假货</rss>'
    got = decode(text.encode("utf-8"), [None, "utf-16"], "w")
    assert got.text == text and "declared utf-16 (the bytes are not utf-16)" in got.warning


def test_a_byte_order_mark_outranks_every_label():
    got = decode(codecs.BOM_UTF16_BE + COMPLAINT.encode("utf-16-be"), ["gbk", "iso-8859-1"], "w")
    assert (got.text, got.warning) == (COMPLAINT, None)


def test_unknown_and_wrong_labels_are_named_in_the_warning():
    got = decode(COMPLAINT.encode("gbk"), ["x-no-such-charset", "utf-8"], "w")
    assert got.text == COMPLAINT
    assert got.warning.startswith("declared x-no-such-charset (unknown), utf-8 (does not decode)")


def test_bytes_that_no_encoding_reads_fail_with_a_clear_error(monkeypatch):
    import collectors.encoding

    monkeypatch.setattr(collectors.encoding, "detect", lambda content: None)   # unit-level corner case
    with pytest.raises(CollectError) as err:
        decode(b"\x80\x81<rss>", ["utf-8"], "http://x/f.xml")
    assert err.value.kind == "encoding" and "nothing was stored" in str(err.value)


def test_header_and_declaration_parsing():
    assert charset_of('application/rss+xml; Charset="GBK"') == "gbk"
    assert charset_of("text/xml") is None
    assert xml_declared(b"<?xml version='1.0' encoding='GB2312'?><rss/>") == "gb2312"
    assert xml_declared(b"<rss/>") is None
