"""The online spread detector, table-driven, on series with known answers. Time is the bin time
given to update(): no wall clock is involved."""
from __future__ import annotations

import json
from zoneinfo import ZoneInfo
import math
import random
from datetime import datetime, timedelta

import pytest

from alerts.incidents.detect import DetectorSettings, SpreadDetector, tail_p

START = datetime(2026, 1, 5)   # a Monday
HOUR = timedelta(hours=1)


def poisson(rng: random.Random, mu: float) -> int:
    # Knuth: exact and dependency-free for the small means used here
    limit, k, p = math.exp(-mu), 0, 1.0
    while True:
        p *= rng.random()
        if p <= limit:
            return k
        k += 1


def daily(hour: int) -> float:
    """Complaints peak in the evening: 3x the night rate."""
    return 0.5 + 1.0 * (1 + math.cos(2 * math.pi * (hour - 20) / 24))


def series(n_hours: int, rate, extra=lambda h: 0.0, seed: int = 7) -> list[tuple[datetime, int]]:
    rng = random.Random(seed)
    return [(START + h * HOUR, poisson(rng, rate(START + h * HOUR) + extra(h))) for h in range(n_hours)]


def alarms_of(points, settings=None, **kw) -> list:
    det = SpreadDetector(settings or DetectorSettings(), **kw)
    return [a for t, x in points if (a := det.update(t, x))]


def at(day: float) -> int:
    return int(day * 24)


CASES = [
    # name, points, expected alarm hours (None = any number >= 1 within the range given)
    ("silence, then two posts", [(START + h * HOUR, 2 if h == at(5) else 0) for h in range(at(6))], []),
    ("silence, then one post twice", [(START + h * HOUR, 1 if h in (at(5), at(5) + 1) else 0) for h in range(at(6))], []),
    ("silence, then five posts in an hour", [(START + h * HOUR, 5 if h == at(5) else 0) for h in range(at(6))],
     [at(5)]),
    ("a burst during the warm-up is not judged", [(START + h * HOUR, 9 if h == 20 else 0) for h in range(at(3))], []),
]


@pytest.mark.parametrize("name,points,expected", CASES, ids=[c[0] for c in CASES])
def test_known_answers(name, points, expected):
    got = [int((a.bin_time - START) / HOUR) for a in alarms_of(points)]
    assert got == expected


def test_false_alarms_are_rare_on_series_that_follow_their_baseline():
    """Poisson counts around a daily cycle at three levels, 24 streams of six weeks: the model is
    right, so alarms are false. The design rates are one burst per 14 days (0.5 a week) and one
    growth alarm per 60 days per series, before the guards; with a margin for learning the baseline
    the measured rate must stay at a quarter of the issue's limit of 1 per stream-week."""
    weeks, alarms = 0.0, 0
    for seed in range(8):
        for base in (0.3, 1.0, 3.0):
            points = series(at(42), lambda t: base * daily(t.hour), seed=seed)
            alarms += len(alarms_of(points))
            weeks += 6
    assert alarms / weeks <= 0.25


def test_exponential_outbreak_is_caught_early_and_once():
    onset = at(10)
    extra = lambda h: 0.3 * 2 ** ((h - onset) / 3) if h >= onset else 0.0  # noqa: E731 doubling every 3 h
    points = series(at(14), lambda t: daily(t.hour), extra=lambda h: min(extra(h), 40.0))
    found = alarms_of(points)
    assert len(found) == 1, "one alarm, then the cooldown"
    delay = (found[0].bin_time - (START + onset * HOUR)) / HOUR
    posted_extra = sum(extra(h) for h in range(onset, onset + int(delay) + 1))
    assert 0 <= delay <= 18 and posted_extra < 60
    assert found[0].value >= 3 and found[0].value >= 2 * found[0].expected


def test_the_same_count_alarms_at_night_but_not_at_the_evening_peak():
    """The baseline knows the hour of day: 8 posts is a busy hour at 20:00 (3.5 expected) and an
    outbreak at 08:00 (0.5 expected)."""
    base = series(at(14), lambda t: daily(t.hour))
    evening = [(t, 8 if (t - START) / HOUR == at(13) + 20 else x) for t, x in base]
    morning = [(t, 8 if (t - START) / HOUR == at(13) + 8 else x) for t, x in base]
    assert [a for a in alarms_of(evening) if a.bin_time >= START + at(13) * HOUR] == []
    assert [int((a.bin_time - START) / HOUR) for a in alarms_of(morning)] == [at(13) + 8]


def test_cooldown_holds_back_a_second_alarm_then_lets_it_through():
    s = DetectorSettings(cooldown=timedelta(hours=48))
    spikes = {at(5), at(5) + 10, at(9)}
    points = [(START + h * HOUR, 8 if h in spikes else 0) for h in range(at(10))]
    assert [int((a.bin_time - START) / HOUR) for a in alarms_of(points, s)] == [at(5), at(9)]


def test_prior_lets_a_new_incident_alarm_at_once_without_warmup():
    points = [(START, 1), (START + HOUR, 0), (START + 2 * HOUR, 4)]
    assert alarms_of(points) == []
    got = alarms_of(points, prior=0.02)
    assert [(a.bin_time, a.value) for a in got] == [(START + 2 * HOUR, 4)]


def test_state_round_trips_through_json_and_resumes_exactly():
    onset = at(10)
    points = series(at(14), lambda t: daily(t.hour), extra=lambda h: min(0.5 * 2 ** ((h - onset) / 4), 30) * (h >= onset))
    whole = alarms_of(points)
    for cut in (at(3), at(10) + 5, at(12)):
        first = SpreadDetector(DetectorSettings(), tz=ZoneInfo("Asia/Shanghai"))
        got = [a for t, x in points[:cut] if (a := first.update(t, x))]
        saved = json.loads(json.dumps(first.state()))
        second = SpreadDetector.restore(saved, DetectorSettings(), tz=ZoneInfo("Asia/Shanghai"))
        got += [a for t, x in points[cut:] if (a := second.update(t, x))]
        reference = SpreadDetector(DetectorSettings(), tz=ZoneInfo("Asia/Shanghai"))
        assert got == [a for t, x in points if (a := reference.update(t, x))]
    assert whole, "the outbreak is found"


def test_a_state_saved_before_the_burst_test_still_restores_and_resumes_exactly():
    """States saved by the previous release carry "window_posts"; they restore, and the detector goes
    on exactly as the one that never stopped, burst included."""
    hour = 5 * 96 + 40
    points = quarters(6, lambda i: 1 if hour <= i < hour + 4 else (1 if i % 16 == 0 else 0))
    det = SpreadDetector(DetectorSettings())
    for t, x in points[:hour]:
        det.update(t, x)
    old = det.state() | {"window_posts": 0.0}
    restored = SpreadDetector.restore(json.loads(json.dumps(old)), DetectorSettings())
    assert restored.state() == det.state()
    got = [a for t, x in points[hour:] if (a := restored.update(t, x))]
    assert got == [a for t, x in points[hour:] if (a := det.update(t, x))] and [a.reason for a in got] == ["burst"]


def test_a_bin_given_twice_is_ignored():
    det = SpreadDetector(DetectorSettings())
    det.update(START, 3)
    before = det.state()
    assert det.update(START, 50) is None and det.state() == before


def test_restore_refuses_state_of_another_version():
    state = SpreadDetector().state() | {"v": 999}
    with pytest.raises(ValueError, match="version"):
        SpreadDetector.restore(state)


@pytest.mark.parametrize("x,mu,inv,expected", [
    (0, 1.0, 0.0, 1.0),
    (1, 1.0, 0.0, 1 - math.exp(-1)),
    (3, 0.5, 0.0, 1 - math.exp(-0.5) * (1 + 0.5 + 0.125)),
    (2, 1.0, 1.0, 0.25),      # NB(size 1, mean 1) is geometric with p = 1/2: P(X >= 2) = 1/4
])
def test_tail_probabilities(x, mu, inv, expected):
    assert tail_p(x, mu, inv) == pytest.approx(expected, rel=1e-9)


QUARTER = timedelta(minutes=15)


def quarters(n_days: float, rate) -> list[tuple[datetime, int]]:
    """15-minute bins; rate(i) gives the count of bin i exactly (no noise), so the answers are known."""
    return [(START + i * QUARTER, rate(i)) for i in range(int(n_days * 96))]


def test_growth_is_judged_once_per_hour_and_guarded_on_the_hour():
    """A quiet series (one post every 8 hours) starts to get one post in every other 15-minute bin:
    no bin ever holds more than one post, but each hour holds two, then, from day 6, three or four.
    Two an hour never alarms (the guard counts the posts of the growth window); three or more does,
    on the bin that closes an hour, as growth, and the alarm says which posts the guard saw."""
    onset = 4 * 96
    three = 6 * 96
    points = quarters(8, lambda i: (1 if i % 32 == 0 else 0) if i < onset
                      else 1 if (i % 2 == 0 or (i >= three and i % 4 == 1)) else 0)
    found = alarms_of(points)
    assert found, "sustained growth is found"
    first = found[0]
    assert first.reason == "growth" and first.value <= 1 and first.posts >= 3
    assert first.bin_time >= START + three * QUARTER, "two posts an hour never alarm"
    assert (first.bin_time + QUARTER).minute == 0, "growth is judged when an hour closes"


def test_the_cusum_moves_only_when_a_growth_window_closes():
    det = SpreadDetector(DetectorSettings())
    seen = []
    # one post a bin, then two a bin for two hours: evidence of growth, but no bin is a burst
    for t, x in quarters(3, lambda i: 2 if 2 * 96 <= i < 2 * 96 + 8 else 1):
        det.update(t, x)
        seen.append((t, det.cusum))
    moved = [t for (t, c), (_, before) in zip(seen[1:], seen) if c != before]
    assert moved[0] == START + 2 * 96 * QUARTER + 3 * QUARTER, "up when the first growing hour closes"
    assert all((t + QUARTER).minute == 0 for t in moved), "and only ever at an hour's close"


def test_a_burst_spread_over_an_hour_alarms_when_the_hour_closes():
    """One post every 4 hours, then an hour of 2 + 1 + 2 + 2 posts: no 15-minute bin holds the 3 posts
    a spike needs, but 7 posts in an hour against 0.25 expected is a burst. The same 7 posts spread
    over 7 hours, one an hour, are not."""
    burst_hour = 5 * 96 + 40                       # a bin index that opens an hour, on day 5
    quiet = lambda i: 1 if i % 16 == 0 else 0     # noqa: E731
    burst = {burst_hour: 2, burst_hour + 1: 1, burst_hour + 2: 2, burst_hour + 3: 2}
    found = alarms_of(quarters(6, lambda i: burst.get(i, quiet(i))))
    assert [(a.reason, a.bin_time, a.posts) for a in found] == [("burst", START + (burst_hour + 3) * QUARTER, 7)]
    assert found[0].value == 2 and found[0].score > 2

    spread = {burst_hour + 4 * k + 1: 1 for k in range(7)}
    assert alarms_of(quarters(6, lambda i: spread.get(i, quiet(i)))) == []


def test_burst_every_sets_how_rare_a_burst_must_be():
    """An hour of 1 + 1 + 1 + 1 posts where 0.25 are expected is a burst at the default rate, and not
    when bursts are asked to be a million times rarer."""
    hour = 5 * 96 + 40
    points = quarters(6, lambda i: 1 if hour <= i < hour + 4 else (1 if i % 16 == 0 else 0))
    assert [a.reason for a in alarms_of(points)] == ["burst"]
    rare = DetectorSettings(burst_every=timedelta(days=14 * 10**6))
    assert alarms_of(points, rare) == []
