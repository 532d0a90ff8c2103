"""The metrics schedule: the default delays, the weekly repeats up to 90 days, late fetches
that skip what they missed, and the settings that change it."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from pydantic import ValidationError

from crosspost.config import Settings
from crosspost.engine.metrics_schedule import MetricsSchedule

PUBLISHED = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)


def _settings(**values: object) -> Settings:
    return Settings(_env_file=None, **values)  # type: ignore[call-arg]


def test_the_default_schedule() -> None:
    """1 h, 6 h, 24 h, 72 h, 7 d, then weekly to day 84 (day 91 is past 90)."""
    schedule = MetricsSchedule.from_settings(_settings())
    hours = [d / timedelta(hours=1) for d in schedule.delays()]
    weeks = [24 * 7 * n for n in range(2, 13)]
    assert hours == [1, 6, 24, 72, 168, *weeks]
    assert schedule.first_due(PUBLISHED) == PUBLISHED + timedelta(hours=1)


def test_next_due_skips_what_a_late_fetch_missed_and_ends() -> None:
    schedule = MetricsSchedule.from_settings(_settings())
    # A fetch that ran 30 hours late (after the 6 h and 24 h marks) goes on to 72 h.
    late = PUBLISHED + timedelta(hours=30)
    assert schedule.next_due(PUBLISHED, late) == PUBLISHED + timedelta(hours=72)
    # Exactly at a due time: that one is done, the next is due.
    assert schedule.next_due(PUBLISHED, PUBLISHED + timedelta(hours=6)) == PUBLISHED + timedelta(
        hours=24
    )
    assert schedule.next_due(PUBLISHED, PUBLISHED + timedelta(days=84)) is None


@pytest.mark.parametrize(
    ("values", "hours"),
    [
        ({"post_metrics_after_hours": [2, 1]}, [1, 2, 170]),
        (
            {
                "post_metrics_after_hours": [1],
                "post_metrics_every_hours": 24,
                "post_metrics_for_days": 3,
            },
            [1, 25, 49],
        ),
        ({"post_metrics_after_hours": []}, []),
        ({"post_metrics_for_days": 0}, []),
    ],
)
def test_the_schedule_follows_the_settings(values: dict[str, object], hours: list[float]) -> None:
    """Delays are sorted, repeats follow the last one up to the last day (14 here unless
    said), and an empty list or no days fetches nothing."""
    base: dict[str, object] = {"post_metrics_for_days": 14}
    schedule = MetricsSchedule.from_settings(_settings(**{**base, **values}))
    assert [d / timedelta(hours=1) for d in schedule.delays()] == hours


@pytest.mark.parametrize("bad", [[0], [-1, 6], ["soon"]])
def test_bad_delays_are_refused(bad: list[object]) -> None:
    with pytest.raises(ValidationError):
        _settings(post_metrics_after_hours=bad)
