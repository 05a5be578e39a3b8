"""Writes the hostile feed fixtures in this folder (run it after changing one; the files are committed).

Each fixture carries its own expectations in an ASCII `<!-- Expect: {json} -->` comment (feedparser's
illformed tests do the same), so it can be read whatever the file's encoding: the served
Content-Type, the run status, how many items, Chinese strings that must arrive intact (\\u escapes),
and the warning kinds the run must record. tests/collectors/test_hostile_feeds.py reads them."""
from __future__ import annotations

import codecs
import json
from pathlib import Path

HERE = Path(__file__).parent
POSTS = [("h-1", "优选商城卖假货", "优选商城卖假货，客服一直推脱，我要投诉到消费者协会"),
         ("h-2", "快送外卖", "快送外卖的骑手态度恶劣，送餐晚了一个小时还骂人")]
GB2312 = [("c-1", "不归移民漫画系列", "不归移民漫画系列第一集，画质太差，退款也不给")]
BIG5 = [("b-1", "臺灣的商店", "臺灣的商店很差勁，退貨不理，客服態度惡劣")]
GB18030_ONLY = [("g-1", "𠮷野家外卖", "𠮷野家外卖送错了餐，打电话也没人接")]   # 𠮷 needs GB18030's 4-byte form


def expect(**fields) -> str:
    return "<!-- Expect: " + json.dumps(fields, ensure_ascii=True) + " -->"


def rss(posts, *, declaration: str | None, comment: str, extra_item: str = "", author: str = "") -> str:
    items = "".join(f"<item><guid>{g}</guid><title>{t}</title>{author}<description>{d}</description></item>"
                    for g, t, d in posts)
    decl = f'<?xml version="1.0" encoding="{declaration}"?>\n' if declaration else ""
    return (f"{decl}{comment}\n<rss version=\"2.0\"><channel><title>hostile</title><link>http://example.com/</link>"
            f"<description>d</description>{items}{extra_item}</channel></rss>\n")


def texts(posts) -> list[str]:
    return [d for _, _, d in posts]


def write(name: str, data: bytes) -> None:
    (HERE / name).write_bytes(data)


def main() -> None:
    ok = dict(status="ok")
    c = expect(content_type="application/rss+xml", items=2, texts=texts(POSTS), warnings=["encoding"], **ok)
    write("gbk-undeclared.xml", rss(POSTS, declaration=None, comment=c).encode("gbk"))
    c = expect(content_type="application/rss+xml; charset=utf-8", items=2, texts=texts(POSTS),
               warnings=["encoding"], **ok)
    write("gbk-labelled-utf8.xml", rss(POSTS, declaration="utf-8", comment=c).encode("gbk"))
    c = expect(content_type="application/xml; charset=iso-8859-1", items=1, texts=texts(GB18030_ONLY),
               warnings=["encoding"], **ok)
    write("gb18030-served-as-latin1.xml", rss(GB18030_ONLY, declaration=None, comment=c).encode("gb18030"))
    c = expect(content_type="text/xml", items=1, texts=texts(GB2312), warnings=["encoding"], **ok)
    write("gb2312-undeclared.xml", rss(GB2312, declaration=None, comment=c).encode("gb2312"))
    c = expect(content_type="application/rss+xml", items=1, texts=texts(BIG5), warnings=["encoding"], **ok)
    write("big5-undeclared.xml", rss(BIG5, declaration=None, comment=c).encode("big5"))
    c = expect(content_type="application/rss+xml; charset=big5", items=1, texts=texts(BIG5), warnings=[], **ok)
    write("big5-labelled.xml", rss(BIG5, declaration=None, comment=c).encode("big5"))
    for name, codec, bom in (("utf16le-bom.xml", "utf-16-le", codecs.BOM_UTF16_LE),
                             ("utf16be-bom.xml", "utf-16-be", codecs.BOM_UTF16_BE),
                             ("utf32le-bom.xml", "utf-32-le", codecs.BOM_UTF32_LE)):
        c = expect(content_type="application/rss+xml", items=2, texts=texts(POSTS), warnings=[], **ok)
        write(name, bom + rss(POSTS, declaration=codec.rsplit("-", 1)[0], comment=c).encode(codec))
    # The server's label contradicts the byte order mark; the BOM wins (the XML and HTML rule).
    c = expect(content_type="application/xml; charset=utf-8", items=2, texts=texts(POSTS), warnings=[], **ok)
    write("utf16le-bom-labelled-utf8.xml", codecs.BOM_UTF16_LE + rss(POSTS, declaration="utf-16", comment=c)
          .encode("utf-16-le"))
    c = expect(content_type="text/xml; charset=iso-8859-1", items=2, texts=texts(POSTS), warnings=[], **ok)
    write("utf16be-bom-labelled-latin1-no-declaration.xml", codecs.BOM_UTF16_BE
          + rss(POSTS, declaration=None, comment=c).encode("utf-16-be"))
    c = expect(content_type="application/rss+xml; charset=gbk", items=2, texts=texts(POSTS), warnings=[], **ok)
    write("utf8-bom-labelled-gbk.xml", codecs.BOM_UTF8 + rss(POSTS, declaration="gbk", comment=c).encode("utf-8"))
    c = expect(content_type="application/rss+xml", items=2, texts=["优选商城卖假货，客服不理人", "骑手态度恶劣"],
               warnings=["control"], **ok)
    write("control-characters.xml", rss([("k-1", "优选\x01商城", "优选商城\x1b[31m卖假货\x07，客服\x00不理人\x08"),
                                         ("k-2", "快\x0b送", "骑手\x0c态度\x1f恶劣")],
                                        declaration="utf-8", comment=c).encode("utf-8").replace(b"[31m", b""))
    c = expect(content_type="application/rss+xml", items=3, texts=["优选商城卖假货", "快送外卖的骑手态度恶劣", "售后太差"],
               warnings=["charref"], **ok)
    write("charref-surrogates.xml", rss([("r-1", "优选&#xD800;商城", "优选商城&#xD800;卖假货&#xDFFF;&#0;"),
                                         ("r-2", "快送&#55296;", "快送外卖的骑手态度恶劣&#x110000;"),
                                         ("r-3", "售后", "&lt;p&gt;售后&amp;#xD800;太差&lt;/p&gt;")],
                                        declaration="utf-8", comment=c).encode("utf-8"))
    long_id = "x" * 800
    c = expect(content_type="application/rss+xml", items=2, texts=["优选商城卖假货"], warnings=["cut"], **ok)
    huge = "优选商城卖假货" + "长" * 70_000
    write("oversize-fields.xml", rss([(long_id, "标题" * 3000, huge), ("o-2", "正常", texts(POSTS)[1])],
                                     declaration="utf-8", comment=c,
                                     author=f"<author>{'水军' * 600}</author>").encode("utf-8"))
    full = rss(POSTS, declaration="utf-8", comment=expect(content_type="application/rss+xml", status="failed",
                                                          error_kind="truncated", items=0, texts=[], warnings=[]))
    write("truncated-mid-item.xml", full[:full.index("送餐晚了")].encode("utf-8"))
    c = expect(content_type="application/rss+xml; charset=iso-8859-1", items=1, texts=["Caf\u00e9 cr\u00e8me"],
               warnings=[], latin=True, **ok)
    write("latin1-really.xml", rss([("l-1", "Caf\u00e9", "Caf\u00e9 cr\u00e8me was cold \u2013 never again")],
                                   declaration=None, comment=c).encode("cp1252"))


if __name__ == "__main__":
    main()
