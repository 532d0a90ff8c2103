"""How the fakes' posts perform: plausible counts that grow with the time since a post was
made, deterministic for a post id (the same id at the same age always gives the same
counts, so tests can assert exact growth against an injected clock).

Each post gets a popularity between 0.5 and 2 from a hash of its id; views grow with the
square root of its age in hours, the other counts as fixed shares of the views.
"""

from __future__ import annotations

import hashlib
import math
from dataclasses import dataclass


@dataclass(frozen=True)
class Engagement:
    """What a post gathered so far."""

    views: int
    reach: int
    likes: int
    comments: int
    shares: int
    saves: int
    quotes: int
    bookmarks: int


def engagement(post_id: str, age_seconds: float) -> Engagement:
    """The counts of post `post_id`, `age_seconds` after it was made (0 before)."""
    digest = hashlib.sha256(post_id.encode()).digest()
    popularity = 0.5 + 1.5 * int.from_bytes(digest[:4], "big") / 2**32
    hours = max(0.0, age_seconds) / 3600.0
    views = int(popularity * 400 * math.sqrt(hours))
    return Engagement(
        views=views,
        reach=views * 7 // 10,
        likes=views * 6 // 100,
        comments=views // 120,
        shares=views // 250,
        saves=views // 300,
        quotes=views // 900,
        bookmarks=views // 400,
    )
