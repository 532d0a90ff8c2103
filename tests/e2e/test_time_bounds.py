"""Times and time zones a request carries, over real HTTP on SQLite and PostgreSQL: one
whose conversion to UTC would leave Python's years 1 to 9999 (0001-01-01T00:00+14:00,
9999-12-31T23:59-14:00) or a zone name that is a directory of the time-zone database was a
500; each is now a 422 that gives the accepted range or names the zone."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from crosspost.domain.bounds import TIME_RANGE
from tests.e2e.conftest import Stack

LOW = "0001-01-01T00:00:00+14:00"
HIGH = "9999-12-31T23:59:59-14:00"


def _refused(response: httpx.Response, code: str, *words: str) -> dict[str, Any]:
    assert response.status_code == 422, response.text
    body: dict[str, Any] = response.json()
    assert body["code"] == code, body
    for word in words:
        assert word in body["detail"], body["detail"]
    return body


@pytest.mark.parametrize("when", [LOW, HIGH, "9999-06-01T00:00:00Z", "1969-12-31T23:59:59Z"])
def test_times_in_bodies_outside_the_range_are_refused(stack: Stack, when: str) -> None:
    """Every request model's time field states the range instead of overflowing."""
    range_words = f"must be a time {TIME_RANGE}"
    hook = stack.http.post("/v1/webhooks", json={"url": "http://127.0.0.1:9/hook"})
    assert hook.status_code == 201, hook.text
    recover = f"/v1/webhooks/{hook.json()['id']}/recover"
    calls = {
        "expires_at": ("/v1/keys", {"name": "k", "expires_at": when}),
        "since": ("/v1/exports", {"since": when}),
        "until": ("/v1/exports", {"until": when}),
        "publish_at": ("/v1/posts", {"text": "x", "targets": ["x"], "publish_at": when}),
        "recover since": (recover, {"since": when}),
        "recover until": (recover, {"since": "2020-01-01T00:00:00Z", "until": when}),
    }
    for field, (path, body) in calls.items():
        answer = _refused(stack.http.post(path, json=body), "validation_error", range_words)
        assert answer["errors"][0]["field"] == field.split()[-1], (field, answer)


def test_a_local_time_read_in_a_zone_is_bounded_too(stack: Stack) -> None:
    """A time without offset, read in `timezone` (Kiritimati is UTC+14), is bounded on its
    own wall clock."""
    body = {"text": "x", "targets": ["x"], "timezone": "Pacific/Kiritimati"}
    for when in ("9999-12-31T23:59:59", "0001-01-01T00:00:00"):
        _refused(
            stack.http.post("/v1/posts", json={**body, "publish_at": when}),
            "validation_error",
            TIME_RANGE,
        )


@pytest.mark.parametrize("when", [LOW, HIGH, "0001-01-01", "9999-12-31T23:00:00"])
def test_analytics_range_outside_the_range_is_refused(stack: Stack, when: str) -> None:
    """`from` and `to` are parsed by hand: the same range, with the parameter named."""
    for name in ("from", "to"):
        _refused(
            stack.http.get("/v1/analytics", params={name: when}),
            "invalid_time_range",
            f"{name}=",
            TIME_RANGE,
        )


@pytest.mark.parametrize("zone", ["Europe", "America/Argentina", "a" * 300])
def test_a_zone_name_that_is_no_zone_is_refused(stack: Stack, zone: str) -> None:
    """A directory of the zone database (IsADirectoryError) or an overlong name (the
    column holds 64 characters; the file system refuses long names) is no time zone."""
    body = {"text": "x", "targets": ["x"], "publish_at": "2099-01-01T00:00", "timezone": zone}
    response = stack.http.post("/v1/posts", json=body)
    assert response.status_code == 422, response.text
    assert response.json()["code"] in ("invalid_timezone", "validation_error"), response.text
    assert "timezone" in response.json()["detail"] or "time zone" in response.json()["detail"]
