"""Online spread detection for one count series: `update(bin_time, count) -> Alarm | None`.

The same object runs in the pipeline (per watch target × category and per incident), in
`repwatch spikes` and in bench/spikes.py, so what the benchmark measures is what production does.

Model, chosen for complaint counts that are often 0, 1 or 2 per bin:
- expected count mu = level × hour-of-day factor × day-of-week factor, all learned online by
  exponentially weighted averages (half-lives in time, so the bin width does not change the meaning);
  bins join the baseline only after a guard band (EARS-style), so a growing outbreak is compared with
  the time before it rather than with itself, and counts far above mu are capped when learned;
- counts are negative binomial around mu, with the overdispersion fitted online from pooled moments
  (Poisson when the data show none);
- three ways to alarm, in the spirit of disease-outbreak surveillance:
  * an NB CUSUM for growth (the likelihood ratio of "mu has doubled" against "mu"), fed once per
    growth window (an hour, or the bin if longer) so that 5-minute and hourly data weigh an hour of
    evidence alike, each window bringing at most a share of the threshold: growth must persist;
  * an upper-tail test on the window that just closed, for a burst spread over an hour: at complaint
    scale a burst is 2 + 1 + 3 + 2 posts in four 15-minute bins, and no one bin of it is rare;
  * a single-bin upper-tail test at a very small p-value, which fires on an extreme bin at once
    instead of waiting for its hour to close;
  all thresholds come from a false-alarm rate in time, tightened on series whose tails are heavier
  than the model (counted online as how often bins fall below P = 0.001);
- guards: no alarm on fewer than `min_count` posts (in the bin for a spike, in the window for a burst
  or growth: one or two posts never alarm), a Farrington-style guard on the posts over the CUSUM run, a
  minimum ratio to the expected count for a spike or a burst, a warm-up, and a cooldown after each alarm.
Only the past is used: the decision for a bin depends on that bin and the ones before it, so a
replay of a prefix gives exactly the alarms of the full run up to that point."""
from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from datetime import datetime, timedelta, timezone
from typing import Optional
from zoneinfo import ZoneInfo

from pydantic import Field

from storage.types import Duration, Strict

STATE_VERSION = 2
LN10 = math.log(10)
SURPRISE_Q = 1e-3   # a bin with P(X >= x) below this is a "surprise"; a calibrated model has 1 in 1000


class DetectorSettings(Strict):
    level_half_life: Duration = Field(default=timedelta(hours=12), description="how fast the level follows the data")
    hour_half_life: Duration = Field(default=timedelta(days=7), description="memory of the hour-of-day profile")
    weekday_half_life: Duration = Field(default=timedelta(days=21), description="memory of the day-of-week profile")
    dispersion_half_life: Duration = Field(default=timedelta(days=7))
    growth_ratio: float = Field(default=2.0, gt=1, description="the CUSUM looks for mu growing by this factor")
    growth_every: Duration = Field(
        default=timedelta(days=60), description="false growth alarms expected this rarely on a series that "
        "follows its baseline; sets the CUSUM threshold to log10(growth_every / bin width)")
    growth_bin_share: float = Field(default=0.34, gt=0, le=1, description="one growth window brings at most "
                                    "this share of the growth threshold, so growth must persist over several")
    spike_every: Duration = Field(
        default=timedelta(days=36500), description="false single-bin alarms expected this rarely; a bin alarms "
        "alone, before its window closes, when P(X >= count) < bin width / spike_every")
    burst_every: Duration = Field(
        default=timedelta(days=14), description="false burst alarms expected this rarely; a growth window alarms "
        "when P(X >= its posts) < window / burst_every")
    min_count: int = Field(default=3, ge=1, description="fewer posts than this never alarm: in the bin for a "
                           "spike, in the window for a burst or growth")
    min_run_count: int = Field(default=5, ge=1, description="posts over the CUSUM run needed to alarm on growth")
    min_ratio: float = Field(default=2.0, ge=1, description="a spike's bin or a burst's window must hold at "
                             "least this times its expected posts")
    min_expected: float = Field(default=0.01, gt=0, description="floor on mu, per bin")
    cooldown: Duration = Field(default=timedelta(hours=42), description="quiet time after an alarm on this series")
    warmup: Duration = Field(default=timedelta(days=2), description="no alarms before this much history")
    guard: Duration = Field(default=timedelta(hours=24),
                            description="bins join the baseline only this long after they happen, so a growing "
                                        "outbreak is compared with the time before it, not with itself")
    calibration_half_life: Duration = Field(
        default=timedelta(days=14), description="memory of how often the series surprises the model; a series "
        "with heavier tails than negative binomial gets proportionally stricter thresholds")
    clip_sd: float = Field(default=4.0, gt=0, description="counts above mu + clip_sd·sd update the baseline as if capped")
    growth_window: Duration = Field(default=timedelta(hours=1), description="growth is judged on the posts "
                                    "of each window this long (or each bin, if bins are longer)")


@dataclass
class Alarm:
    bin_time: datetime
    value: float
    expected: float
    score: float          # log10 evidence: -log10 p for a spike or a burst, the CUSUM in log10 units for growth
    reason: str           # spike | burst | growth
    posts: float = 0.0    # the posts the guard saw: the bin's for a spike, the window's for burst and growth

    def as_dict(self) -> dict:
        return {**asdict(self), "bin_time": self.bin_time.isoformat()}


def _epoch(t: datetime) -> float:
    """Seconds since 1970 with naive times read as UTC, so window edges never depend on the host's zone."""
    return (t if t.tzinfo else t.replace(tzinfo=timezone.utc)).timestamp()


def _alpha(step: float, half_life: float) -> float:
    return 1.0 - 0.5 ** (step / half_life) if half_life > 0 else 1.0


def tail_p(x: float, mu: float, inv_size: float) -> float:
    """P(X >= x) for a negative binomial with mean mu and 1/size inv_size (Poisson when ~0)."""
    from scipy.special import betainc, gammainc   # lazy: 0.4 s, and config loading imports this module

    if x <= 0:
        return 1.0
    x = math.ceil(x)
    if inv_size < 1e-6:
        return float(gammainc(x, mu))
    size = 1.0 / inv_size
    return float(betainc(x, size, mu / (size + mu)))


def growth_llr(x: float, mu: float, ratio: float, inv_size: float) -> float:
    """log of P(x | mean ratio·mu) / P(x | mean mu), negative binomial with the same size."""
    m1 = ratio * mu
    if inv_size < 1e-6:
        return (mu - m1) + x * math.log(ratio)
    size = 1.0 / inv_size
    return size * math.log((size + mu) / (size + m1)) + x * math.log(m1 * (size + mu) / (mu * (size + m1)))


class SpreadDetector:
    """One series. `prior` (expected posts per bin) lets a brand-new series, e.g. an incident, start
    with a sensible baseline instead of a warm-up; `profile` can seed the seasonal factors."""

    def __init__(self, settings: DetectorSettings | None = None, *, prior: float | None = None,
                 tz: ZoneInfo | None = None, profile: dict | None = None):
        self.s = settings or DetectorSettings()
        self.tz = tz
        self.level: float | None = prior
        self.hour = list(profile["hour"]) if profile else [1.0] * 24
        self.weekday = list(profile["weekday"]) if profile else [1.0] * 7
        self.inv_size = 0.0
        self.moments = [0.0, 0.0, 0.0]     # weighted sums of (x-mu)^2, mu, mu^2: a pooled NB moment fit
        self.cusum = 0.0
        self.run_count = 0.0
        self.run_expected = 0.0
        self.chunk: list = [None, 0.0, 0.0]   # the growth window being filled: [key, posts, expected]
        # the window that closed during this update: its posts, and P(X >= posts) under the baseline (1
        # unless min_ratio × expected). Read only in the update that closes it, so not part of state().
        self.window_posts = 0.0
        self.window_p = 1.0
        self.first: datetime | None = None
        self.last: datetime | None = None
        self.last_alarm: datetime | None = None
        self.step: float | None = None     # bin width in seconds, learned from the data
        self.warm = prior is not None      # a prior stands in for the warm-up
        self.n = 0
        self.surprise = SURPRISE_Q          # how often bins are surprises (EWMA): calibrates the tail
        self.pending: list[list] = []       # [iso time, count] inside the guard band, not yet learned

    # ---- the model -------------------------------------------------------------------------------
    def _slot(self, t: datetime) -> tuple[int, int]:
        if self.tz is not None and t.tzinfo is not None:
            t = t.astimezone(self.tz)
        return t.hour, t.weekday()

    def expected(self, t: datetime) -> float:
        h, d = self._slot(t)
        return max(self.s.min_expected, (self.level or 0.0) * self.hour[h] * self.weekday[d])

    def _sd(self, mu: float) -> float:
        return math.sqrt(mu + self.inv_size * mu * mu)

    def update(self, bin_time: datetime, count: float) -> Optional[Alarm]:
        if self.last is not None and bin_time <= self.last:
            return None   # a bin already seen: replays and reruns change nothing
        if self.last is not None:
            gap = (bin_time - self.last).total_seconds()
            self.step = gap if self.step is None else min(self.step, gap)
        self.first = self.first or bin_time
        self.last = bin_time
        self.n += 1
        if self.level is None:          # first bin of a series without prior: start from it
            self.level = max(float(count), self.s.min_expected)
            return None
        alarm = self._decide(bin_time, count, self.expected(bin_time))
        self.pending.append([bin_time.isoformat(), float(count)])
        while self.pending and datetime.fromisoformat(self.pending[0][0]) <= bin_time - self.s.guard:
            t, x = self.pending.pop(0)
            t = datetime.fromisoformat(t)
            self._learn(t, x, self.expected(t))
        return alarm

    def _decide(self, t: datetime, x: float, mu: float) -> Optional[Alarm]:
        step = self.step or 3600.0
        p = tail_p(x, mu, self.inv_size)
        # Real counts have heavier tails than any fitted model: when surprises come c times more often
        # than they should, demand c times more evidence (c = 1 on a well-fitted series).
        c = max(1.0, self.surprise / SURPRISE_Q)
        self.surprise += _alpha(step, self.s.calibration_half_life.total_seconds()) * (
            (1.0 if p < SURPRISE_Q else 0.0) - self.surprise)
        closed = self._grow(t, x, mu, step, c)
        if not self.warm and self.first is not None and (t - self.first) >= self.s.warmup:
            self.warm = True
        posts = x
        if self.last_alarm is not None and t - self.last_alarm < self.s.cooldown:
            # evidence gathered during the cooldown would fire the moment it ends: start afresh instead
            self.cusum = self.run_count = self.run_expected = 0.0
            return None
        if not self.warm:
            return None
        if (x >= self.s.min_count and x >= self.s.min_ratio * mu
                and p < step / self.s.spike_every.total_seconds() / c):
            reason, score = "spike", -math.log10(max(p, 1e-300))
        elif closed and self.window_p < self._window(step) / self.s.burst_every.total_seconds() / c:
            reason, score, posts = "burst", -math.log10(max(self.window_p, 1e-300)), self.window_posts
        elif (closed and self.cusum >= self._growth_threshold(step, c) and self.run_count >= self.s.min_run_count
              and self.run_count > self.run_expected):
            # growth is guarded on its window (min_count posts in the hour that closed it, as `closed`
            # says) and its run (min_run_count posts), not on the last short bin: with 15-minute bins a
            # growing hour of 1 + 2 + 0 + 1 posts is real growth though no single bin holds 3
            reason, score, posts = "growth", self.cusum / LN10, self.window_posts
        else:
            return None
        self.last_alarm = t
        self.cusum = self.run_count = self.run_expected = 0.0
        return Alarm(t, x, round(mu, 4), round(score, 3), reason, posts)

    def _growth_threshold(self, step: float, c: float) -> float:
        """In nats: a false-alarm rate in time, so 5-minute and hourly bins mean the same."""
        return math.log(c * self.s.growth_every.total_seconds() / self._window(step))

    def _window(self, step: float) -> float:
        """The growth window in seconds: `growth_window`, or the bin if bins are longer."""
        return max(step, self.s.growth_window.total_seconds())

    def _grow(self, t: datetime, x: float, mu: float, step: float, c: float) -> bool:
        """Add the bin to the growth window it falls in; when that window is complete, add the window's
        evidence to the CUSUM. Returns whether a window just closed above its expected count.
        Why windows: the baseline's error lasts longer than one short bin, so the dispersion term taken
        bin by bin would be counted twelve times an hour on 5-minute data and make drift look like
        growth; judged once per window, an hour's evidence is the same whatever the bin width."""
        width = self._window(step)
        now = _epoch(t)
        key = int(now // width)
        closed = False
        if self.chunk[0] is not None and self.chunk[0] != key:   # the window's last bins never came
            closed = self._close_chunk(step, c)
        self.chunk = [key, self.chunk[1] + x, self.chunk[2] + mu]
        if now + step >= (key + 1) * width:
            closed = self._close_chunk(step, c) or closed
        return closed

    def _close_chunk(self, step: float, c: float) -> bool:
        _, x, mu = self.chunk
        self.chunk = [None, 0.0, 0.0]
        threshold = self._growth_threshold(step, c)
        llr = growth_llr(x, mu, self.s.growth_ratio, self.inv_size)
        # one window brings at most a share of the threshold, so growth must persist over several
        # windows; a single burst is the single-bin test's business
        self.cusum = max(0.0, self.cusum + min(llr, self.s.growth_bin_share * threshold))
        if self.cusum > 0:
            self.run_count += x
            self.run_expected += mu
        else:
            self.run_count = self.run_expected = 0.0
        self.window_posts = x
        self.window_p = tail_p(x, mu, self.inv_size) if x >= self.s.min_ratio * mu else 1.0
        return x > mu and x >= self.s.min_count

    def _learn(self, t: datetime, x: float, mu: float) -> None:
        step = self.step or 3600.0
        xc = min(x, mu + self.s.clip_sd * self._sd(mu))      # outbreaks must not become the baseline
        h, d = self._slot(t)
        season = self.hour[h] * self.weekday[d]
        a = _alpha(step, self.s.level_half_life.total_seconds())
        assert self.level is not None   # set by the first bin, before anything is learned
        self.level += a * (xc / season - self.level)
        level = max(self.level, self.s.min_expected)
        # each hour slot is visited once a day, each weekday once a week: half-lives in visits
        ah = _alpha(step * 24, self.s.hour_half_life.total_seconds())
        self.hour[h] += ah * (xc / (level * self.weekday[d]) - self.hour[h])
        aw = _alpha(step * 7, self.s.weekday_half_life.total_seconds())
        self.weekday[d] += aw * (xc / (level * self.hour[h]) - self.weekday[d])
        self._normalise()
        ad = _alpha(step, self.s.dispersion_half_life.total_seconds())
        # Pooled over bins, (sum (x-mu)^2 - sum mu) / sum mu^2 estimates 1/size; per-bin ratios would
        # explode at low counts (one post when mu is 0.1 is a ratio of 80).
        m = self.moments
        for i, v in enumerate(((xc - mu) ** 2, mu, mu * mu)):
            m[i] += ad * (v - m[i])
        self.inv_size = min(2.0, max(0.0, (m[0] - m[1]) / m[2])) if m[2] > 0 else 0.0

    def _normalise(self) -> None:
        for factors in (self.hour, self.weekday):
            mean = sum(factors) / len(factors)
            if mean > 0:
                for i, f in enumerate(factors):
                    factors[i] = min(20.0, max(0.05, f / mean))

    # ---- persistence (DetectorState.state is this JSON) -------------------------------------------
    def state(self) -> dict:
        iso = lambda t: t.isoformat() if t else None  # noqa: E731
        return {"v": STATE_VERSION, "level": self.level, "hour": self.hour, "weekday": self.weekday,
                "inv_size": self.inv_size, "moments": self.moments, "surprise": self.surprise, "cusum": self.cusum, "run_count": self.run_count,
                "run_expected": self.run_expected, "chunk": self.chunk,
                "first": iso(self.first), "last": iso(self.last), "last_alarm": iso(self.last_alarm),
                "step": self.step, "warm": self.warm, "n": self.n, "pending": self.pending}

    @classmethod
    def restore(cls, state: dict, settings: DetectorSettings | None = None, *, tz: ZoneInfo | None = None) -> "SpreadDetector":
        if state.get("v") != STATE_VERSION:
            raise ValueError(f"detector state version {state.get('v')!r}; this code reads {STATE_VERSION}")
        det = cls(settings, tz=tz)
        parse = lambda v: datetime.fromisoformat(v) if v else None  # noqa: E731
        det.level, det.hour, det.weekday = state["level"], list(state["hour"]), list(state["weekday"])
        det.inv_size, det.moments, det.surprise = state["inv_size"], list(state["moments"]), state["surprise"]
        det.cusum, det.run_count, det.run_expected = state["cusum"], state["run_count"], state["run_expected"]
        det.chunk = list(state["chunk"])   # states saved before this release also hold "window_posts": unused
        det.first, det.last, det.last_alarm = parse(state["first"]), parse(state["last"]), parse(state["last_alarm"])
        det.step, det.warm, det.n = state["step"], state["warm"], state["n"]
        det.pending = [list(p) for p in state["pending"]]
        return det

    def profile(self) -> dict:
        return {"hour": list(self.hour), "weekday": list(self.weekday)}
