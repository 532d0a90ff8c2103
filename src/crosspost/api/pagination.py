"""Opaque cursors and the Link header."""

from __future__ import annotations

import base64
import binascii

from starlette.datastructures import URL

from crosspost.errors import InvalidInput


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


def next_link(url: URL, cursor: str) -> str:
    """The `Link` header value for the next page."""
    return f'<{url.include_query_params(cursor=cursor)}>; rel="next"'
