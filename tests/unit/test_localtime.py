"""publish_at in a zone: times daylight saving skips or repeats are refused, never guessed."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from crosspost.domain.models import PostCreate
from crosspost.engine.posts import resolve_publish_at
from crosspost.errors import InvalidInput

NOW = datetime(2026, 1, 1, tzinfo=UTC)


def _resolve(at: str, zone: str | None = None, fold: int | None = None) -> datetime | None:
    body = PostCreate(text="x", targets=["youtube"], publish_at=at, timezone=zone, fold=fold)  # type: ignore[arg-type]
    return resolve_publish_at(body, NOW)


def _refused(at: str, zone: str | None = None, fold: int | None = None) -> InvalidInput:
    with pytest.raises(InvalidInput) as caught:
        _resolve(at, zone, fold)
    return caught.value


@pytest.mark.parametrize(
    ("at", "zone", "before", "after", "jump"),
    [
        # Spring forward at 02:00 (+01:00 → +02:00).
        (
            "2027-03-28T02:30",
            "Europe/Paris",
            "2027-03-28T01:59:59+01:00",
            "2027-03-28T03:00:00+02:00",
            "from 02:00 to 03:00",
        ),
        (
            "2027-03-14T02:00",
            "America/New_York",
            "2027-03-14T01:59:59-05:00",
            "2027-03-14T03:00:00-04:00",
            "from 02:00 to 03:00",
        ),
        # Lord Howe Island moves its clocks by 30 minutes: 02:00 becomes 02:30.
        (
            "2027-10-03T02:15",
            "Australia/Lord_Howe",
            "2027-10-03T01:59:59+10:30",
            "2027-10-03T02:30:00+11:00",
            "from 02:00 to 02:30",
        ),
        (
            "2027-10-03T02:29:59",
            "Australia/Lord_Howe",
            "2027-10-03T01:59:59+10:30",
            "2027-10-03T02:30:00+11:00",
            "from 02:00 to 02:30",
        ),
    ],
)
def test_a_skipped_local_time_is_refused_with_its_neighbours(
    at: str, zone: str, before: str, after: str, jump: str
) -> None:
    """A time inside a spring-forward gap does not exist: 422 naming the last second before
    the gap and the first after it, both with their offsets."""
    err = _refused(at, zone)
    assert err.code == "publish_at_nonexistent"
    assert err.extra["nearest"] == [before, after]
    assert before in err.detail and after in err.detail and jump in err.detail
    assert zone in err.detail
    # The neighbours it names are accepted as they are.
    assert _resolve(before, zone) == datetime.fromisoformat(before).astimezone(UTC)
    assert _resolve(after, zone) == datetime.fromisoformat(after).astimezone(UTC)


@pytest.mark.parametrize(
    ("at", "zone", "first", "second"),
    [
        ("2027-10-31T02:30", "Europe/Paris", "2027-10-31T00:30Z", "2027-10-31T01:30Z"),
        ("2027-11-07T01:30", "America/New_York", "2027-11-07T05:30Z", "2027-11-07T06:30Z"),
        # Lord Howe's repeated half hour: 01:30-02:00 happens at +11:00, then at +10:30.
        ("2027-04-04T01:45", "Australia/Lord_Howe", "2027-04-03T14:45Z", "2027-04-03T15:15Z"),
    ],
)
def test_a_repeated_local_time_needs_fold_or_an_offset(
    at: str, zone: str, first: str, second: str
) -> None:
    """A time the clocks pass twice is refused without `fold`, with both readings; fold 0
    picks the first, fold 1 the second, and either reading with its offset is accepted."""
    err = _refused(at, zone)
    assert err.code == "publish_at_ambiguous"
    readings = err.extra["candidates"]
    assert [datetime.fromisoformat(r).astimezone(UTC) for r in readings] == [
        datetime.fromisoformat(first),
        datetime.fromisoformat(second),
    ]
    assert all(r in err.detail for r in readings) and "fold" in err.detail
    assert _resolve(at, zone, fold=0) == datetime.fromisoformat(first)
    assert _resolve(at, zone, fold=1) == datetime.fromisoformat(second)
    for reading, expected in zip(readings, (first, second), strict=True):
        assert _resolve(reading, zone) == datetime.fromisoformat(expected)


@pytest.mark.parametrize("at", ["2027-03-28T02:30", "2027-10-31T02:30", "2027-07-01T18:00"])
def test_a_zone_without_daylight_saving_takes_every_time(at: str) -> None:
    """Tokyo has no daylight saving: the dates that are gaps or overlaps in Paris are plain
    times there, nine hours ahead of UTC."""
    local = datetime.fromisoformat(at).replace(tzinfo=UTC)
    assert _resolve(at, "Asia/Tokyo") == local - timedelta(hours=9)


def test_ordinary_times_and_fold_on_them() -> None:
    """Away from the changes a local time has one reading, whatever fold says."""
    summer = datetime(2027, 7, 1, 16, tzinfo=UTC)
    assert _resolve("2027-07-01T18:00", "Europe/Paris") == summer
    assert _resolve("2027-07-01T18:00", "Europe/Paris", fold=1) == summer


def test_an_offset_the_zone_does_not_have_then_is_refused() -> None:
    """18:00+01:00 in July is not a Paris time (Paris is at +02:00): the offset was computed
    for the wrong season, so it is refused, naming the instant it would be there. A UTC time
    and the zone's own offset are accepted."""
    err = _refused("2027-07-01T18:00+01:00", "Europe/Paris")
    assert err.code == "publish_at_offset_mismatch"
    assert "2027-07-01T19:00:00+02:00" in err.detail
    assert _resolve("2027-07-01T18:00+02:00", "Europe/Paris") == datetime(
        2027, 7, 1, 16, tzinfo=UTC
    )
    assert _resolve("2027-07-01T18:00Z", "Europe/Paris") == datetime(2027, 7, 1, 18, tzinfo=UTC)
    # In the gap no offset is valid: 02:30+01:00 does not exist in Paris that night.
    assert _refused("2027-03-28T02:30+01:00", "Europe/Paris").code == "publish_at_offset_mismatch"


def test_fold_without_a_local_time_is_refused() -> None:
    """fold only chooses between readings of a local time: with an offset, or with no
    publish_at at all, it would be ignored, so it is refused."""
    assert _refused("2027-10-31T02:30+01:00", "Europe/Paris", fold=1).code == (
        "fold_not_applicable"
    )
    with pytest.raises(InvalidInput) as caught:
        resolve_publish_at(PostCreate(text="x", targets=["youtube"], fold=0), NOW)
    assert caught.value.code == "fold_not_applicable"
