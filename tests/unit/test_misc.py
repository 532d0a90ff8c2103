"""Ids, cursors and publish-time resolution."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from crosspost.api.pagination import decode_cursor, encode_cursor
from crosspost.domain.models import PostCreate
from crosspost.engine.posts import resolve_publish_at
from crosspost.errors import InvalidInput
from crosspost.ids import new_id


def test_ids_are_prefixed_and_strictly_increasing() -> None:
    """Ids made in a row sort in creation order, even within one millisecond."""
    ids = [new_id("post") for _ in range(5000)]
    assert ids == sorted(ids) and len(set(ids)) == len(ids)
    assert all(i.startswith("post_") and len(i) == 31 for i in ids)


def test_cursor_round_trip_and_garbage() -> None:
    """A cursor decodes to the id it was made from; anything else is a clear 422."""
    assert decode_cursor(encode_cursor("post_01ABC")) == "post_01ABC"
    for bad in ("", "abc", "!!!", encode_cursor("")[:-1] + "x"):
        with pytest.raises(InvalidInput):
            decode_cursor(bad)


NOW = datetime(2026, 3, 28, 12, 0, tzinfo=UTC)


def _body(**kw: object) -> PostCreate:
    return PostCreate(text="x", targets=["youtube"], **kw)  # type: ignore[arg-type]


def test_publish_at_in_a_zone_across_dst() -> None:
    """18:00 in Paris is 17:00 UTC in winter and 16:00 UTC in summer."""
    winter = resolve_publish_at(
        _body(publish_at=datetime(2026, 12, 1, 18), timezone="Europe/Paris"), NOW
    )
    summer = resolve_publish_at(
        _body(publish_at=datetime(2026, 7, 1, 18), timezone="Europe/Paris"), NOW
    )
    assert winter == datetime(2026, 12, 1, 17, tzinfo=UTC)
    assert summer == datetime(2026, 7, 1, 16, tzinfo=UTC)


def test_publish_at_rules() -> None:
    """Aware times keep their instant; naive ones need a zone; the past is refused."""
    aware = datetime(2026, 4, 1, 10, tzinfo=UTC)
    assert resolve_publish_at(_body(publish_at=aware), NOW) == aware
    assert resolve_publish_at(_body(), NOW) is None
    assert resolve_publish_at(_body(publish_at=NOW - timedelta(minutes=1)), NOW) is None
    with pytest.raises(InvalidInput, match="UTC offset"):
        resolve_publish_at(_body(publish_at=datetime(2026, 4, 1, 10)), NOW)
    with pytest.raises(InvalidInput, match="in the past"):
        resolve_publish_at(_body(publish_at=NOW - timedelta(days=1)), NOW)
    with pytest.raises(InvalidInput, match="time zone"):
        resolve_publish_at(_body(timezone="Nowhere/City"), NOW)


def test_redact_masks_tokens_in_urls_and_authorization_values() -> None:
    """Instagram refreshes with the token in the query; headers carry Bearer/OAuth values."""
    from crosspost.logs import redact

    line = (
        "HTTP Request: GET https://graph.instagram.com/refresh_access_token"
        "?grant_type=ig_refresh_token&access_token=IGQVJ.secret-1 "
        '"HTTP/1.1 200 OK" Authorization: OAuth 2-abc.def'
    )
    cleaned = redact(line)
    assert "secret-1" not in cleaned and "2-abc.def" not in cleaned
    assert "grant_type=ig_refresh_token&access_token=[redacted]" in cleaned
    assert "OAuth [redacted]" in cleaned
