"""Social platforms through RSSHub routes (Weibo, Zhihu, Bilibili, Dianping, Xiaohongshu, Douyin ...).

RSSHub turns a platform page into RSS; we read it exactly like a feed: the same fetch path, conditional
GET and dedup. What is RSSHub-specific is where to send the request and what its failures mean: a 404
is a route this instance does not know, a 5xx usually means the platform refused RSSHub (cookies or a
proxy needed), and a refused connection means no instance is running where the config points."""
from __future__ import annotations

from urllib.parse import urlencode

from pydantic import AnyHttpUrl, Field, SecretStr, field_validator

from collectors.base import CollectResult, SourceState
from collectors.exceptions import CollectError
from collectors.feed import FeedReader
from storage.records import normalise
from storage.types import Strict

DEFAULT_INSTANCE = "http://127.0.0.1:1200"   # self-hosted: public instances rate-limit and go away


class RSSHubOptions(Strict):
    route: str = Field(description="an RSSHub route, e.g. /weibo/keyword/快送外卖")
    instance: AnyHttpUrl = Field(default=AnyHttpUrl(DEFAULT_INSTANCE), description="base URL of the RSSHub instance")
    params: dict[str, str | int] = Field(default_factory=dict, description="extra query parameters, e.g. limit")
    access_key: SecretStr | None = Field(default=None, description="the instance's ACCESS_KEY, sent as ?key=")

    @field_validator("route")
    @classmethod
    def _route(cls, value: str) -> str:
        if not value.startswith("/"):
            raise ValueError("a route starts with '/', e.g. /weibo/keyword/快送外卖 (see docs.rsshub.app)")
        if "://" in value or "?" in value:
            raise ValueError("give only the route path; the instance URL goes in `instance`, "
                             "query parameters in `params`")
        return value


class RSSHubCollector(FeedReader[RSSHubOptions]):
    kind = "rsshub"
    Options = RSSHubOptions

    def feed_url(self) -> str:
        opts = self.options
        query = dict(opts.params)
        if opts.access_key is not None:
            query["key"] = opts.access_key.get_secret_value()
        base = str(opts.instance).rstrip("/") + opts.route
        return f"{base}?{urlencode(query)}" if query else base

    def _where(self) -> str:
        # The URL may carry the access key; messages name the instance and route instead.
        return f"RSSHub {str(self.options.instance).rstrip('/')} route {self.options.route}"

    def collect(self, state: SourceState) -> CollectResult:
        try:
            result = super().collect(state)
        except CollectError as exc:
            raise self._explain(exc) from exc
        for problem in result.problems:
            problem.where = self._where()
        for item in result.items:
            # Weibo, Xiaohongshu and Douyin routes title a post with its own first words. Such a title is
            # not content: keeping it would change the content hash and hide the same post seen elsewhere.
            if item.title and normalise(item.text).startswith(normalise(item.title.rstrip("….").strip())):
                item.title = None
        return result

    def _explain(self, exc: CollectError) -> CollectError:
        where, status = self._where(), exc.http_status
        if exc.kind == "connect":
            msg = (f"{where}: no RSSHub instance answers there; start one (e.g. `docker run -p 1200:1200 "
                   "diygod/rsshub`) or set `instance:` to yours")
        elif status == 404:
            msg = f"{where}: this instance has no such route (check it on docs.rsshub.app; update RSSHub if new)"
        elif status in (401, 403):
            msg = f"{where}: access denied (HTTP {status}); set `access_key` to the instance's ACCESS_KEY"
        elif status is not None and status >= 500:
            msg = (f"{where}: RSSHub could not fetch from the platform (HTTP {status}); the route may need "
                   "cookies or a proxy configured on the instance (e.g. WEIBO_COOKIES), or the platform "
                   "is blocking it for now")
        else:
            msg = f"{where}: {exc}"
        if self.options.access_key is not None:
            msg = msg.replace(self.options.access_key.get_secret_value(), "***")
        return CollectError(exc.kind, msg, http_status=status)
