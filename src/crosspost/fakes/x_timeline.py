"""X's user-posts timeline (``GET /2/users/:id/tweets``) for the fake: query rules and paging.

Written from docs.x.com (*User Posts timeline by User ID*, *Pagination*), never from our
client. Only the user's 3,200 most recent posts can be read (800 with ``exclude=replies``),
newest first; ``max_results`` is 5-100 (default 10); ``since_id`` / ``until_id`` are exclusive
and take precedence over ``start_time`` / ``end_time`` (RFC 3339, inclusive, second
granularity); ``meta.next_token`` / ``meta.previous_token`` are opaque and go back as
``pagination_token``, and ``next_token`` is absent on the last page.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import re
import secrets
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

from starlette.responses import JSONResponse

from crosspost.fakes.x_rules import Tweet, invalid_request

MAX_RECENT = 3200
MAX_RECENT_WITHOUT_REPLIES = 800
DEFAULT_RESULTS = 10
MIN_RESULTS, MAX_RESULTS = 5, 100
EXCLUDABLE = ("replies", "retweets")
ID_PATTERN = re.compile(r"[0-9]{1,19}")
_SMALL_INT = re.compile(r"[0-9]{1,4}")
# The earliest instants the API accepts (2010-11-06T00:00:00Z and one second later).
EARLIEST_START, EARLIEST_END = 1_289_001_600, 1_289_001_601
# RFC 3339 date-time. X works in whole seconds, so a fraction is accepted and dropped.
_RFC3339 = re.compile(
    r"(\d{4}-\d{2}-\d{2})[Tt](\d{2}:\d{2}:\d{2})(?:\.\d+)?([Zz]|[+-]\d{2}:\d{2})", re.ASCII
)
_MAC_BYTES = 10


@dataclass(frozen=True)
class Cursor:
    """Where a page token points: the posts older (next page) or newer (previous page) than
    the boundary post."""

    older: bool
    boundary: int


@dataclass(frozen=True)
class TimelineQuery:
    """A checked timeline request."""

    max_results: int
    limit: int  # how many of the most recent posts can be read at all
    since_id: int | None = None
    until_id: int | None = None
    start: int | None = None  # epoch seconds, inclusive
    end: int | None = None
    cursor: Cursor | None = None


@dataclass(frozen=True)
class Page:
    """One page of posts, newest first, and the cursors of its neighbours."""

    posts: list[Tweet]
    next: Cursor | None
    previous: Cursor | None


class PageTokens:
    """Opaque page tokens: a cursor sealed with an HMAC bound to the user, so a token that
    was not issued for this user's timeline is refused rather than misread."""

    def __init__(self, key: bytes | None = None) -> None:
        self._key = key or secrets.token_bytes(32)

    def issue(self, user_id: str, cursor: Cursor) -> str:
        """The token for `cursor` on `user_id`'s timeline."""
        body = bytes([cursor.older]) + cursor.boundary.to_bytes(8, "big")
        sealed = body + self._mac(user_id, body)
        return base64.b32encode(sealed).decode().rstrip("=").lower()

    def read(self, user_id: str, token: str) -> Cursor | None:
        """The cursor a token holds, or None when it is not one of ours for this user."""
        try:
            sealed = base64.b32decode(token.upper() + "=" * (-len(token) % 8))
        except (binascii.Error, ValueError):
            return None
        # The last character of unpadded base32 carries unused bits, which decoding ignores:
        # only the exact spelling issued is ours, so a token altered there is refused too.
        if base64.b32encode(sealed).decode().rstrip("=").lower() != token:
            return None
        body, mac = sealed[:-_MAC_BYTES], sealed[-_MAC_BYTES:]
        if len(body) != 9 or body[0] > 1 or not hmac.compare_digest(mac, self._mac(user_id, body)):
            return None
        return Cursor(older=bool(body[0]), boundary=int.from_bytes(body[1:], "big"))

    def _mac(self, user_id: str, body: bytes) -> bytes:
        digest = hmac.new(self._key, user_id.encode() + b"\0" + body, hashlib.sha256)
        return digest.digest()[:_MAC_BYTES]


def _bad_value(name: str, value: str, why: str) -> JSONResponse:
    """X's 400 for one bad query parameter: the message names it and quotes its value."""
    return invalid_request(f"The `{name}` query parameter value [{value}] {why}", {name: value})


def parse_query(
    params: Mapping[str, str], tokens: PageTokens, user_id: str
) -> TimelineQuery | JSONResponse:
    """Check the timeline's query parameters as X does; X's 400 for the first bad one."""
    raw = params.get("max_results", str(DEFAULT_RESULTS))
    count = int(raw) if _SMALL_INT.fullmatch(raw) else None
    if count is None or not MIN_RESULTS <= count <= MAX_RESULTS:
        return _bad_value("max_results", raw, f"is not between {MIN_RESULTS} and {MAX_RESULTS}")
    ids: dict[str, int | None] = {}
    for name in ("since_id", "until_id"):
        value = params.get(name)
        if value is not None and not ID_PATTERN.fullmatch(value):
            return _bad_value(name, value, f"does not match ^{ID_PATTERN.pattern}$")
        ids[name] = int(value) if value is not None else None
    since_id, until_id = ids["since_id"], ids["until_id"]
    if since_id is not None and until_id is not None and since_id >= until_id:
        # [U] the wording; the rule follows from both bounds being exclusive.
        return invalid_request(
            "The `since_id` query parameter value must be less than the `until_id` query "
            "parameter value.",
            {"since_id": str(since_id), "until_id": str(until_id)},
        )
    times: dict[str, int | None] = {}
    for name, earliest in (("start_time", EARLIEST_START), ("end_time", EARLIEST_END)):
        value = params.get(name)
        when = _seconds(value) if value is not None else None
        if value is not None and when is None:
            return _bad_value(name, value, "is not a valid RFC 3339 date-time")
        if when is not None and when < earliest:
            return _bad_value(name, str(value), f"is before {_iso(earliest)}")
        times[name] = when
    start, end = times["start_time"], times["end_time"]
    if start is not None and end is not None and start >= end:
        # [U] the wording.
        return invalid_request(
            "The `start_time` query parameter value must be before the `end_time` query "
            "parameter value.",
            {"start_time": params["start_time"], "end_time": params["end_time"]},
        )
    excluded = set()
    for item in params.get("exclude", "").split(",") if "exclude" in params else []:
        if item not in EXCLUDABLE:
            return _bad_value("exclude", item, f"is not one of [{','.join(EXCLUDABLE)}]")
        excluded.add(item)
    cursor = None
    if "pagination_token" in params:
        token = params["pagination_token"]
        cursor = tokens.read(user_id, token) if token else None
        if cursor is None:
            return _bad_value("pagination_token", token, "is not valid")
    return TimelineQuery(
        max_results=count,
        limit=MAX_RECENT_WITHOUT_REPLIES if "replies" in excluded else MAX_RECENT,
        # The ids take precedence over the times when both bound the same side.
        since_id=since_id,
        until_id=until_id,
        start=start if since_id is None else None,
        end=end if until_id is None else None,
        cursor=cursor,
    )


def page_of(posts: Sequence[Tweet], query: TimelineQuery) -> Page:
    """The page `query` asks for out of one user's posts (oldest first, as they were made)."""
    recent = list(reversed(posts))[: query.limit]
    matching = [t for t in recent if _within(t, query)]
    cursor = query.cursor
    if cursor is None:
        shown = matching[: query.max_results]
    elif cursor.older:
        shown = [t for t in matching if int(t.tweet_id) < cursor.boundary][: query.max_results]
    else:
        newer = [t for t in matching if int(t.tweet_id) > cursor.boundary]
        shown = newer[-query.max_results :]
    if not shown:
        return Page([], None, None)
    newest, oldest = int(shown[0].tweet_id), int(shown[-1].tweet_id)
    more_older = any(int(t.tweet_id) < oldest for t in matching)
    more_newer = any(int(t.tweet_id) > newest for t in matching)
    return Page(
        shown,
        Cursor(older=True, boundary=oldest) if more_older else None,
        Cursor(older=False, boundary=newest) if more_newer else None,
    )


def _within(tweet: Tweet, query: TimelineQuery) -> bool:
    number, second = int(tweet.tweet_id), int(tweet.created_at)
    return not (
        (query.since_id is not None and number <= query.since_id)
        or (query.until_id is not None and number >= query.until_id)
        or (query.start is not None and second < query.start)
        or (query.end is not None and second > query.end)
    )


def _seconds(value: str) -> int | None:
    """Whole epoch seconds of an RFC 3339 date-time, or None when it is not one."""
    match = _RFC3339.fullmatch(value)
    if match is None:
        return None
    day, clock, zone = match.groups()
    try:
        when = datetime.fromisoformat(f"{day}T{clock}{'+00:00' if zone.upper() == 'Z' else zone}")
    except ValueError:  # e.g. month 13 or 25:00:00
        return None
    return int(when.timestamp())


def _iso(seconds: int) -> str:
    return datetime.fromtimestamp(seconds, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
