"""Opaque cursors, the Link header, and pages cut from a `limit + 1` read."""

from __future__ import annotations

import base64
import binascii
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TypeVar

from starlette.datastructures import URL
from starlette.requests import Request
from starlette.responses import Response

from crosspost.domain.models import Page, TwoWayPage
from crosspost.errors import InvalidInput
from crosspost.store.rows import Row

T = TypeVar("T")


def encode_cursor(last_id: str) -> str:
    """An opaque cursor pointing after `last_id`."""
    return base64.urlsafe_b64encode(f"v1:{last_id}".encode()).decode().rstrip("=")


def decode_cursor(cursor: str) -> str:
    """The id a cursor points after; a clear 422 when it is not one of ours."""
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
    except (binascii.Error, UnicodeDecodeError, ValueError):
        raw = ""
    version, _, last_id = raw.partition(":")
    if version != "v1" or not last_id:
        raise InvalidInput(
            "cursor is not valid; pass the next_cursor value of a previous page unchanged",
            code="invalid_cursor",
        )
    return last_id


_BACK = "v1p"


@dataclass(frozen=True)
class Position:
    """Where a two-way list resumes: after `after_id`, or (`backwards`) before it."""

    after_id: str | None = None
    backwards: bool = False


def decode_position(cursor: str | None) -> Position:
    """A `next_cursor` or `prev_cursor` of a two-way list; a clear 422 otherwise."""
    if not cursor:
        return Position()
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
    except (binascii.Error, UnicodeDecodeError, ValueError):
        raw = ""
    version, _, last_id = raw.partition(":")
    if version == _BACK and last_id:
        return Position(last_id, backwards=True)
    return Position(decode_cursor(cursor))


def paginate_both(
    rows: Sequence[Row],
    limit: int,
    position: Position,
    request: Request,
    response: Response,
    show: Callable[[Row], T],
) -> TwoWayPage[T]:
    """A page of a two-way list. `rows` were read with `limit + 1` in the list's order, or
    (going back) in the reverse order from the cursor; `next_cursor` and `prev_cursor` and
    the `Link` header's `next` and `prev` say where the neighbours are."""
    extra = len(rows) > limit
    page = list(rows[:limit])
    if position.backwards:
        page.reverse()
    more_after = extra if not position.backwards else True
    more_before = position.after_id is not None if not position.backwards else extra
    next_cursor = encode_cursor(str(page[-1]["id"])) if more_after and page else None
    prev_cursor = (
        base64.urlsafe_b64encode(f"{_BACK}:{page[0]['id']}".encode()).decode().rstrip("=")
        if more_before and page
        else None
    )
    links = []
    if next_cursor:
        links.append(next_link(request.url, next_cursor))
    if prev_cursor:
        links.append(f'<{request.url.include_query_params(cursor=prev_cursor)}>; rel="prev"')
    if links:
        response.headers["Link"] = ", ".join(links)
    return TwoWayPage[T](data=[show(r) for r in page], has_more=bool(next_cursor),
                         next_cursor=next_cursor, prev_cursor=prev_cursor)  # fmt: skip


def next_link(url: URL, cursor: str, *, param: str = "cursor") -> str:
    """The `Link` header value for the next page (`param` carries the cursor)."""
    return f'<{url.include_query_params(**{param: cursor})}>; rel="next"'


def paginate(
    rows: Sequence[Row],
    limit: int,
    request: Request,
    response: Response,
    show: Callable[[Row], T],
    position: Callable[[Row], str] = lambda row: str(row["id"]),
) -> Page[T]:
    """The page of `rows` (read with `limit + 1`, in the list's order, so one extra row says
    more follow), each shown by `show`, with `next_cursor` (after the last row's `position`,
    its id unless the list is ordered otherwise) and the `Link` header set."""
    page, has_more = rows[:limit], len(rows) > limit
    next_cursor = encode_cursor(position(page[-1])) if has_more else None
    if next_cursor:
        response.headers["Link"] = next_link(request.url, next_cursor)
    return Page[T](data=[show(r) for r in page], has_more=has_more, next_cursor=next_cursor)
