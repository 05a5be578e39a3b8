"""What each chat channel takes, and the two things that keep every message within it.

Sizes: DingTalk robots take 20,000 bytes of text a message, WeCom robots 4,096 bytes of Markdown, a
Feishu message about 30 KB of JSON, Slack 40,000 characters. The robots count UTF-8 bytes, so a
Chinese character is 3. `split` cuts a longer message into numbered parts, each within the limit: at a
blank line if it can, else at a line end, a sentence end or a space, never inside a character or a
character sequence (an emoji with its modifiers), and never inside a Markdown or Slack link or a bare
URL while a part can end before it. The parts are slices of the message: strip each part's "(i/n)"
line and they join to the message, byte for byte. Past `max_parts` the last part is trimmed and says so.

Rates: DingTalk and WeCom robots take 20 messages a minute (DingTalk then blocks the robot for 10
minutes), Feishu 100 a minute and 5 a second, Slack about one a second. `SendWindow` is the log of
recent sends to one robot (one URL, however many notifiers post there), kept by the dispatcher in the
database so a new process knows what the last one sent; `schedule` answers when the next sends may go
under every window at once (a sliding window: never more than `messages` in any `per`)."""
from __future__ import annotations

import bisect
import re
import unicodedata
from datetime import timedelta
from typing import Callable, Iterable

from pydantic import Field, field_validator

from storage.types import Duration, Strict, format_duration

Size = Callable[[str], int]


def utf8_len(text: str) -> int:
    return len(text.encode("utf-8"))


def char_len(text: str) -> int:
    return len(text)


# -- settings ----------------------------------------------------------------------------------------
class Rate(Strict):
    messages: int = Field(ge=1, le=100_000, description="at most this many messages …")
    per: Duration = Field(description="… in any window this long")

    @field_validator("per")
    @classmethod
    def _per(cls, value: timedelta) -> timedelta:
        if not timedelta(0) < value <= timedelta(days=1):
            raise ValueError("expected a window between 1ms and 1d, e.g. 1m or 1s")
        return value

    def __str__(self) -> str:
        return f"{self.messages}/{format_duration(self.per)}"


class ChannelLimits(Strict):
    """Keys every chat channel's `limits:` takes; each channel sets its own defaults and ceiling."""

    rate: list[Rate] = Field(min_length=1, description="send windows, all kept at once")
    max_parts: int = Field(default=5, ge=1, le=20, description="a message needing more parts is trimmed in its "
                           "last part, marked as trimmed")
    max_wait: Duration = Field(default=timedelta(seconds=10), description="how long a run may wait for the "
                               "rate, in all; a message that would wait longer stays pending for a later run")
    throttled_wait: Duration = Field(default=timedelta(minutes=1), description="after the service answers "
                                     "'too fast', how long the alert waits before trying again")

    @field_validator("max_wait")
    @classmethod
    def _max_wait(cls, value: timedelta) -> timedelta:
        if value > timedelta(minutes=10):
            raise ValueError("at most 10m: a run must not be held longer for one channel's rate")
        return value

    @field_validator("throttled_wait")
    @classmethod
    def _throttled(cls, value: timedelta) -> timedelta:
        if not timedelta(seconds=1) <= value <= timedelta(days=1):
            raise ValueError("expected between 1s and 1d")
        return value

    def size(self) -> tuple[int, Size]:
        raise NotImplementedError


class ByteLimits(ChannelLimits):
    """A robot that counts UTF-8 bytes; each robot's subclass sets its documented size as default and ceiling."""

    max_bytes: int = Field(ge=200, description="UTF-8 bytes a message; a longer one is split into numbered parts")

    def size(self) -> tuple[int, Size]:
        return self.max_bytes, utf8_len


class SlackLimits(ChannelLimits):
    max_chars: int = Field(default=40_000, ge=200, le=40_000, description="characters of text a message")
    rate: list[Rate] = Field(default_factory=lambda: [Rate(messages=1, per=timedelta(seconds=1))], min_length=1)

    def size(self) -> tuple[int, Size]:
        return self.max_chars, char_len


# -- sizes -------------------------------------------------------------------------------------------
# Spans a cut should not fall in: a Markdown link, a Slack link, a bare URL.
_ATOMIC = re.compile(r"\[[^\]\n]*\]\([^)\s]*\)|<https?://[^>\s]*>|https?://[^\s<>()\[\]]+")
# Where a part may end, best first: after a blank line, a line, a sentence, a clause or a space.
_BREAKS = (re.compile(r"\n\n+"), re.compile(r"\n"), re.compile(r"[。！？!?；;]+|\.(?=\s)"),
           re.compile(r"[，、,：:]|\s+"))
_JOINERS = {"\u200d", "\ufe0e", "\ufe0f"}


def marker(i: int, n: int) -> str:
    """The line that starts part i of n."""
    return f"({i}/{n})\n"


TRIMMED = "\n…（余下内容过长，已截断 trimmed: too long for this channel）"


def _sticky(text: str, cut: int) -> bool:
    """True when cutting before text[cut] would split one visible character (a combining mark, a
    variation selector, a zero-width joiner sequence, a skin-tone modifier)."""
    if cut <= 0 or cut >= len(text):
        return False
    ch, before = text[cut], text[cut - 1]
    return (unicodedata.combining(ch) > 0 or ch in _JOINERS or before == "\u200d"
            or "\U0001f3fb" <= ch <= "\U0001f3ff" or unicodedata.category(ch) == "Mn")


class _Measure:
    """Prefix sums of a text's size, so "how far does a budget reach from here" is a bisect."""

    def __init__(self, text: str, size: Size):
        self.text = text
        self.at = [0]
        if size is char_len:
            self.at = list(range(len(text) + 1))
        else:
            for ch in text:
                self.at.append(self.at[-1] + size(ch))
        self.spans = [m.span() for m in _ATOMIC.finditer(text)]

    def size(self, start: int, end: int) -> int:
        return self.at[end] - self.at[start]

    def reach(self, start: int, budget: int) -> int:
        """The furthest end such that text[start:end] fits in `budget`."""
        return bisect.bisect_right(self.at, self.at[start] + budget) - 1

    def settle(self, start: int, cut: int) -> int:
        """Move a cut back out of a link and out of a character sequence, if the part keeps something."""
        for s, e in self.spans:
            if s < cut < e and s > start:
                cut = s
                break
        while cut > start + 1 and _sticky(self.text, cut):
            cut -= 1
        return cut

    def cut(self, start: int, end: int) -> int:
        """Where the part that may run from start to end should stop: the best break in its second half."""
        if end >= len(self.text):
            return len(self.text)
        floor = start + max(1, (end - start) // 2)
        window = self.text[start:end]
        for pattern in _BREAKS:
            best = None
            for m in pattern.finditer(window):
                at = start + m.end()
                if floor <= at <= end:
                    best = at
            if best is not None:
                settled = self.settle(start, best)
                if settled >= floor:
                    return settled
        return self.settle(start, end)


def clip(text: str, limit: int, *, size: Size = utf8_len, note: str = "…") -> str:
    """`text` if it fits in `limit`, else as much of it as fits with `note` after it, cut cleanly."""
    if size(text) <= limit:
        return text
    budget = limit - size(note)
    if budget <= 0:
        raise ValueError(f"a limit of {limit} leaves no room for the text")
    m = _Measure(text, size)
    end = m.reach(0, budget)
    return text[:m.settle(0, end) if end > 0 else 0] + note


def pieces(text: str, budget: int, *, size: Size = utf8_len) -> list[str]:
    """`text` cut cleanly into slices of at most `budget` each, unmarked (for rows of a structured message)."""
    return _chunks(_Measure(text, size), budget) if text else [text]


def _chunks(m: _Measure, budget: int) -> list[str]:
    text, out, start = m.text, [], 0
    while start < len(text):
        end = m.reach(start, budget)
        if end <= start:
            raise ValueError(f"a budget of {budget} cannot hold one character")
        cut = m.cut(start, end)
        out.append(text[start:cut])
        start = cut
    return out


def split(text: str, limit: int, *, size: Size = utf8_len, max_parts: int = 5, trimmed: str = TRIMMED) -> list[str]:
    """`text` as messages within `limit` each: itself when it fits, else parts starting "(i/n)\\n"."""
    if size(text) <= limit:
        return [text]
    m = _Measure(text, size)
    widest = 9   # the markers' width is part of the budget: "(12/12)\n" takes more than "(3/3)\n"
    while True:
        budget = limit - size(marker(widest, widest))
        chunks = _chunks(m, budget)
        if len(chunks) <= widest or (len(chunks) > max_parts and widest >= max_parts):
            break
        widest = widest * 10 + 9
    if len(chunks) > max_parts:
        budget = limit - size(marker(max_parts, max_parts))
        kept = chunks[:max_parts - 1]
        rest = text[sum(len(c) for c in kept):]
        chunks = kept + [clip(rest, budget, size=size, note=trimmed)]
    n = len(chunks)
    return [marker(i, n) + chunk for i, chunk in enumerate(chunks, 1)]


def unmark(parts: Iterable[str]) -> str:
    """The message the parts were cut from (or, when it was trimmed, what was sent of it)."""
    parts = list(parts)
    if len(parts) == 1:
        return parts[0]
    return "".join(p.split("\n", 1)[1] for p in parts)


# -- rates -------------------------------------------------------------------------------------------
class SendWindow:
    """Recent sends to one place (seconds on the notifier's wall clock), and a block after "too fast"."""

    KEEP = 86_400.0   # the longest window a Rate may have

    def __init__(self, sent: Iterable[float] = (), blocked_until: float = 0.0):
        self.sent = sorted(sent)
        self.blocked_until = blocked_until

    @classmethod
    def from_state(cls, state: dict | None) -> "SendWindow":
        state = state or {}
        return cls(state.get("sent") or (), float(state.get("blocked_until") or 0.0))

    def state(self, now: float, rates: list[Rate]) -> dict:
        horizon = now - max(r.per.total_seconds() for r in rates)
        self.sent = [t for t in self.sent if t > horizon]
        return {"sent": [round(t, 3) for t in self.sent], "blocked_until": round(self.blocked_until, 3)}

    def record(self, when: float) -> None:
        bisect.insort(self.sent, when)

    def block(self, until: float) -> None:
        self.blocked_until = max(self.blocked_until, until)

    def schedule(self, n: int, now: float, rates: list[Rate]) -> list[float]:
        """When each of the next n sends may go, so that no window ever holds more than it takes."""
        log, out, t = list(self.sent), [], max(now, self.blocked_until)
        for _ in range(n):
            while True:
                later = t
                for rate in rates:
                    per = rate.per.total_seconds()
                    inside = [x for x in log if x > t - per]
                    if len(inside) >= rate.messages:
                        later = max(later, inside[-rate.messages] + per)
                if later <= t:
                    break
                t = later
            out.append(t)
            bisect.insort(log, t)
        return out

    @staticmethod
    def span(n: int, rates: list[Rate]) -> float:
        """How long n sends take at best, on an idle channel: parts of one message may wait for each other."""
        return SendWindow().schedule(n, 0.0, rates)[-1] if n else 0.0
