"""GET /v1/calendar over real HTTP on SQLite and PostgreSQL: posts fall on their local day
in the zone asked for, every post of a day is counted however few are shown, and a bad
range or zone is explained."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

import pytest

from tests.e2e.conftest import Stack, expect_problem

# 2099-03-01 00:30 UTC is still the last day of February in New York (UTC-5).
_TIMES = ["2099-02-28T10:00:00Z", "2099-03-01T00:30:00Z", "2099-03-01T09:00:00Z",
          "2099-03-01T12:00:00Z", "2099-03-01T15:00:00Z", "2099-03-03T08:00:00Z"]  # fmt: skip


@pytest.fixture
def stack(make_stack: Callable[..., Stack]) -> Stack:
    """A stack whose scheduled posts stay scheduled (no workers)."""
    made = make_stack(workers=0)
    for n, at in enumerate(_TIMES):
        answer = made.http.post(
            "/v1/posts", json={"text": f"post {n} " + "x" * 200, "targets": ["x"], "publish_at": at}
        )
        assert answer.status_code == 201, answer.text
    return made


def _days(stack: Stack, **params: str) -> dict[str, dict[str, object]]:
    answer = stack.http.get("/v1/calendar", params=params)
    assert answer.status_code == 200, answer.text
    return {d["date"]: d for d in answer.json()["days"]}


def test_posts_fall_on_their_local_day_counted_and_capped(stack: Stack) -> None:
    """UTC and New York put the same posts on different days; per_day caps what is shown,
    earliest first, never the count; empty days are there too."""
    utc = _days(stack, **{"from": "2099-02-28", "to": "2099-03-03", "per_day": "2"})
    assert list(utc) == ["2099-02-28", "2099-03-01", "2099-03-02", "2099-03-03"]
    assert [utc[d]["total"] for d in utc] == [1, 4, 0, 1]
    shown = utc["2099-03-01"]["posts"]
    assert isinstance(shown, list)
    assert [p["local_time"] for p in shown] == ["00:30", "09:00"]
    first = shown[0]
    assert first["excerpt"].startswith("post 1 ") and len(first["excerpt"]) == 100
    assert first["status"] == "scheduled"
    assert first["targets"] == [{"platform": "x", "status": "scheduled"}]
    assert datetime.fromisoformat(first["publish_at"]) == datetime.fromisoformat(_TIMES[1])
    york = _days(stack, **{"from": "2099-02-28", "to": "2099-03-01",
                           "timezone": "America/New_York"})  # fmt: skip
    assert york["2099-02-28"]["total"] == 2 and york["2099-03-01"]["total"] == 3
    assert [p["local_time"] for p in york["2099-02-28"]["posts"]] == ["05:00", "19:30"]


def test_another_tenant_sees_none_of_them(stack: Stack) -> None:
    """Another tenant's calendar of the same days is empty."""
    other = stack.other_tenant_key()
    answer = stack.http.get(
        "/v1/calendar",
        params={"from": "2099-02-28", "to": "2099-03-03"},
        headers={"Authorization": f"Bearer {other}"},
    )
    assert answer.status_code == 200
    assert sum(d["total"] for d in answer.json()["days"]) == 0


def test_bad_ranges_and_zones_are_explained(stack: Stack) -> None:
    """Backwards, too long, an unknown zone, per_day out of range, a date that is none, no
    start: each a 422 with its code."""
    cases = [
        ({"from": "2099-03-03", "to": "2099-03-01"}, "invalid_time_range"),
        ({"from": "2099-01-01", "to": "2099-03-31"}, "invalid_time_range"),
        ({"from": "2099-03-01", "to": "2099-03-02", "timezone": "Mars/Olympus"},
         "invalid_timezone"),
        ({"from": "2099-03-01", "to": "2099-03-02", "per_day": "0"}, "validation_error"),
        ({"from": "yesterday", "to": "2099-03-02"}, "validation_error"),
        ({"to": "2099-03-02"}, "validation_error"),
    ]  # fmt: skip
    for params, code in cases:
        expect_problem(stack.http.get("/v1/calendar", params=params), 422, code)
