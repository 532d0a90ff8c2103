"""Webhook retry rules: verdicts, the jittered schedule, the overload floor, Retry-After."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime

import pytest

from crosspost.webhooks.retry import (
    Verdict,
    classify,
    next_delay,
    overloaded,
    parse_retry_after,
)

SCHEDULE = (0.0, 5.0, 300.0, 1800.0, 7200.0, 18000.0, 36000.0, 36000.0)
NOW = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("code", "verdict"),
    [
        (200, Verdict.SUCCESS),
        (204, Verdict.SUCCESS),
        (299, Verdict.SUCCESS),
        (199, Verdict.FAILURE),
        (301, Verdict.FAILURE),  # redirects are not followed: a failure
        (304, Verdict.FAILURE),
        (400, Verdict.FAILURE),
        (410, Verdict.GONE),
        (429, Verdict.FAILURE),
        (500, Verdict.FAILURE),
        (None, Verdict.FAILURE),  # no response at all
    ],
)
def test_classify(code: int | None, verdict: Verdict) -> None:
    """Only 2xx succeeds; 410 is the one failure that disables."""
    assert classify(code) is verdict


def test_overloaded_means_timeout_or_429() -> None:
    """A timeout or a 429 asks for the 60 s floor; a 503 or a 500 does not."""
    assert overloaded(None, timed_out=True)
    assert overloaded(429, timed_out=False)
    assert not overloaded(503, timed_out=False)
    assert not overloaded(None, timed_out=False)


def test_schedule_with_jitter_is_reproducible_and_bounded() -> None:
    """Each delay is the schedule's entry ±20 %; the same seed gives the same delays; the
    schedule's length is the number of attempts."""
    rng, twin = random.Random(11), random.Random(11)
    for made in range(1, len(SCHEDULE)):
        delay = next_delay(SCHEDULE, made, rng=rng)
        assert delay is not None
        assert SCHEDULE[made] * 0.8 <= delay <= SCHEDULE[made] * 1.2
        assert delay == SCHEDULE[made] * twin.uniform(0.8, 1.2)
    assert next_delay(SCHEDULE, len(SCHEDULE), rng=rng) is None
    assert next_delay(SCHEDULE, len(SCHEDULE) + 3, rng=rng) is None


def test_jitter_spreads_over_the_whole_band() -> None:
    """Many draws cover both ends of ±20 %, not one fixed value."""
    rng = random.Random(3)
    draws = [next_delay(SCHEDULE, 2, rng=rng) for _ in range(500)]
    assert min(d for d in draws if d is not None) < 300 * 0.85
    assert max(d for d in draws if d is not None) > 300 * 1.15


def test_overload_floor_is_60_seconds_before_jitter() -> None:
    """After a timeout or 429 the 5 s retry waits 60 s ±20 % instead; longer ones keep theirs."""
    rng, twin = random.Random(5), random.Random(5)
    delay = next_delay(SCHEDULE, 1, rng=rng, overload=True)
    assert delay == 60.0 * twin.uniform(0.8, 1.2)
    long = next_delay(SCHEDULE, 3, rng=rng, overload=True)
    assert long == 1800.0 * twin.uniform(0.8, 1.2)


@pytest.mark.parametrize(
    ("asked", "expected_factor"),
    [
        (3600.0, 2.0),  # far more than scheduled: capped at 2x
        (1.0, 1.0),  # less than scheduled: the schedule wins
    ],
)
def test_retry_after_is_clamped_between_one_and_two_times(
    asked: float, expected_factor: float
) -> None:
    """Retry-After moves the delay only within [1x, 2x] the (jittered) scheduled delay."""
    rng, twin = random.Random(9), random.Random(9)
    scheduled = 5.0 * twin.uniform(0.8, 1.2)
    assert next_delay(SCHEDULE, 1, rng=rng, retry_after=asked) == scheduled * expected_factor


def test_retry_after_inside_the_band_is_honoured_exactly() -> None:
    """A Retry-After between 1x and 2x is taken as given."""
    rng, twin = random.Random(2), random.Random(2)
    scheduled = 300.0 * twin.uniform(0.8, 1.2)
    asked = scheduled * 1.5
    assert next_delay(SCHEDULE, 2, rng=rng, retry_after=asked) == pytest.approx(asked)


def test_attempts_made_must_count_the_attempt() -> None:
    """Zero attempts made is a caller bug, said plainly."""
    with pytest.raises(ValueError, match="attempts_made"):
        next_delay(SCHEDULE, 0, rng=random.Random())


@pytest.mark.parametrize(
    ("header", "seconds"),
    [
        ("120", 120.0),
        (" 7 ", 7.0),
        ("0", 0.0),
        (format_datetime(NOW + timedelta(seconds=90), usegmt=True), 90.0),
        (format_datetime(NOW - timedelta(hours=1), usegmt=True), 0.0),  # in the past
        ("Sun, 01 Mar 2026 12:10:00", 600.0),  # no zone: read as GMT
        (None, None),
        ("", None),
        ("soon", None),
        ("-5", None),
        ("1.5", None),
    ],
)
def test_parse_retry_after(header: str | None, seconds: float | None) -> None:
    """Delta-seconds and HTTP dates are read; anything else is ignored."""
    assert parse_retry_after(header, NOW) == seconds
