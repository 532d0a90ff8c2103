"""Is a request well formed: headers whose values the API reads as numbers."""

from __future__ import annotations

from crosspost.domain.bounds import INT64_MAX


def content_length(value: str | bytes) -> int | None:
    """A Content-Length header's value, or None when it is not a whole number. Only ASCII
    digits count (str.isdigit takes "²"), and a length past 64 bits is read as the largest
    one: it is refused as too large, never overflows a counter."""
    text = value.decode("latin-1") if isinstance(value, bytes) else value
    text = text.strip()
    if not text or not text.isascii() or not text.isdigit():
        return None
    return INT64_MAX if len(text) > len(str(INT64_MAX)) else min(int(text), INT64_MAX)
