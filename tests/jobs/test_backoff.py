"""Backoff: capped exponential growth, jitter within bounds, reproducible, switchable off."""

from __future__ import annotations

import random

import pytest

from crosspost.config import Settings
from crosspost.jobs.backoff import Backoff, is_testing, set_testing


def test_ceiling_doubles_from_base_up_to_the_cap() -> None:
    """The un-jittered delay is base, 2*base, 4*base... and never passes the cap."""
    backoff = Backoff(base=2.0, cap=60.0)
    assert [backoff.ceiling(n) for n in range(1, 8)] == [2, 4, 8, 16, 32, 60, 60]
    assert backoff.ceiling(10_000) == 60.0


def test_full_jitter_stays_within_zero_and_the_ceiling() -> None:
    """Full jitter picks in [0, ceiling] and actually spreads its picks."""
    backoff = Backoff(base=1.0, cap=30.0, rng=random.Random(1))
    for errors in range(1, 12):
        picks = [backoff.delay(errors) for _ in range(200)]
        assert all(0.0 <= pick <= backoff.ceiling(errors) for pick in picks)
        assert len(set(picks)) > 150


def test_decorrelated_jitter_grows_from_the_previous_delay_and_is_capped() -> None:
    """Decorrelated jitter picks in [base, 3 * previous], capped."""
    backoff = Backoff(base=2.0, cap=50.0, jitter="decorrelated", rng=random.Random(2))
    previous = None
    for errors in range(1, 30):
        delay = backoff.delay(errors, previous)
        upper = 3 * (previous if previous is not None else backoff.ceiling(errors - 1))
        assert 2.0 <= delay <= min(50.0, max(2.0, upper))
        previous = delay
    assert backoff.delay(1) >= 2.0


def test_an_injected_rng_makes_delays_reproducible() -> None:
    """Two backoffs seeded alike give the same delays (what the runner tests rely on)."""
    first = Backoff(rng=random.Random(42))
    second = Backoff(rng=random.Random(42))
    assert [first.delay(n) for n in range(1, 10)] == [second.delay(n) for n in range(1, 10)]


def test_settings_supply_base_and_cap() -> None:
    """from_settings reads job_backoff_base and job_backoff_cap."""
    backoff = Backoff.from_settings(Settings(job_backoff_base=0.5, job_backoff_cap=4.0))
    assert (backoff.base, backoff.cap) == (0.5, 4.0)
    assert backoff.ceiling(10) == 4.0


def test_the_testing_switch_overrides_every_delay() -> None:
    """set_testing(True) makes every delay the given one until it is switched off."""
    backoff = Backoff(base=10.0, cap=100.0)
    set_testing(True, delay=0.25)
    assert is_testing()
    assert {backoff.delay(n) for n in range(1, 20)} == {0.25}
    set_testing(False)
    assert not is_testing()
    assert backoff.delay(5) != 0.25


def test_invalid_parameters_are_refused() -> None:
    """A non-positive base, a cap below base or a negative test delay is an error."""
    with pytest.raises(ValueError, match="base"):
        Backoff(base=0.0)
    with pytest.raises(ValueError, match="base"):
        Backoff(base=10.0, cap=5.0)
    with pytest.raises(ValueError, match="negative"):
        set_testing(True, delay=-1.0)
