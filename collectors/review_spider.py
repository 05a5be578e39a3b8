"""The generic review spider: item and field selectors from schedules.yaml, paging by a next-page
selector, incremental by stopping at the first page that holds an already-stored review.

Sites that need code subclass ReviewSpider (override `parse_items`, `next_page_url` or `start`) and are
named by dotted path in the source's `spider:` key. Selectors are CSS (with Scrapy's ::text and
::attr(name)), or XPath when written `xpath:...`."""
from __future__ import annotations

import scrapy

from collectors.base import Problem
from collectors.fields import FieldError, build_mention
from collectors.web import XPATH_PREFIX


def select(node, expr: str):
    if expr.startswith(XPATH_PREFIX):
        return node.xpath(expr[len(XPATH_PREFIX):])
    return node.css(expr)


def fix_encoding(response, forced: str | None):
    """Scrapy reads the charset from the header, <meta> or BOM, and guesses when none is given (GBK
    pages included). A page that *declares* the wrong charset decodes to U+FFFD garbage; detect that
    and decode again with charset-normalizer's guess. Returns (response, note or None)."""
    if forced:
        return response.replace(encoding=forced), None
    declared = response.encoding
    try:
        response.body.decode(declared)
        return response, None
    except (UnicodeDecodeError, LookupError):
        pass
    from charset_normalizer import from_bytes

    best = from_bytes(response.body).best()
    if best is None or best.encoding == declared:
        return response, None
    fixed = response.replace(encoding=best.encoding)
    return fixed, f"page declares charset {declared} but is {best.encoding}; decoded as {best.encoding}"


class ReviewSpider(scrapy.Spider):
    name = "repwatch-review"

    def __init__(self, *args, options, harvest, is_known, now, tz, known=None, **kwargs):
        super().__init__(*args, **kwargs)
        self.options, self.harvest, self.is_known = options, harvest, is_known
        # the batch form (SourceState.known): one query for a page's ids instead of one per review
        self.known = known or (lambda ids: {i for i in ids if is_known(i)})
        self.now, self.tz = now, tz
        self.visited: set[str] = set()

    async def start(self):
        for url in self.options.start_urls:
            yield self.page_request(str(url), page=1)

    def page_request(self, url: str, page: int) -> scrapy.Request:
        self.visited.add(url)
        # dont_filter: the engine's dupefilter would silently swallow a redirect back to a seen URL;
        # we track pages ourselves, and a redirect loop then ends in a countable "too many redirects".
        return scrapy.Request(url, callback=self.parse, errback=self.harvest.on_error, dont_filter=True,
                              meta={"page": page})

    def parse(self, response):
        response, note = fix_encoding(response, self.options.encoding)
        if note:
            self.harvest.problems.append(Problem("encoding", note, response.url, warning=True))
        self.harvest.pages_ok += 1
        page = response.meta.get("page", 1)
        mentions = list(self.parse_items(response))
        count = len(mentions)
        known = bool(mentions) and bool(self.known([m.external_id for m in mentions]))
        yield from mentions
        if count == 0:
            self.harvest.problems.append(Problem(
                "layout", f"page {page}: the item selector {self.options.item!r} matched no reviews; "
                "if the page does have reviews, the site's layout changed and the selectors need updating",
                response.url))
            return
        if known and page >= self.options.refresh_pages:
            self.crawler.stats.inc_value("repwatch/stopped_at_known")
            return   # reached what we already have: older pages are stored
        if page >= self.options.max_pages:
            return
        url = self.next_page_url(response)
        if url and url not in self.visited:
            yield self.page_request(url, page + 1)

    def parse_items(self, response):
        """Yield MentionIn for every review on the page; bad ones become Problems."""
        opts = self.options
        for index, node in enumerate(select(response, opts.item)):
            values = {name: select(node, expr).getall() for name, expr in opts.fields.items()}
            values = {k: (v[0] if len(v) == 1 else v) if v else None for k, v in values.items()}
            where = f"{response.url} item {index}"
            try:
                built = build_mention(values, now=self.now, tz=self.tz, rating_scale=opts.rating_scale,
                                      date_format=opts.date_format, base_url=response.url)
            except FieldError as exc:
                self.harvest.problems.append(Problem("item", str(exc), where))
                continue
            self.harvest.problems.extend(Problem("field", n, where, warning=True) for n in built.notes)
            if built.mention.url is None:   # no permalink: the page it was on still leads a person to it
                built.mention.url = response.url
            yield built.mention

    def next_page_url(self, response) -> str | None:
        if not self.options.next_page:
            return None
        href = select(response, self.options.next_page).get()
        return response.urljoin(href.strip()) if href and href.strip() else None
