"""What a delivery attempt's outcome means, and when the next attempt goes out (pure).

The rules follow Svix's server (`worker.rs`, `calculate_retry_delay`): 2xx is success and
everything else a failure, 3xx included (redirects are never followed); 410 Gone also
disables the endpoint. The delay before attempt n+1 is the schedule's n-th entry with ±20 %
jitter; after a timeout or a 429 it is at least 60 s; a `Retry-After` (seconds or an HTTP
date) is honoured but kept between 1x and 2x that delay, so a receiver can slow us down
without parking a delivery for days.
"""

from __future__ import annotations

import enum
import random
from collections.abc import Sequence
from datetime import datetime
from email.utils import parsedate_to_datetime

JITTER = 0.2
OVERLOAD_PENALTY_SECONDS = 60.0


class Verdict(enum.Enum):
    """How one attempt ended, as far as retries and the endpoint are concerned."""

    SUCCESS = "success"
    FAILURE = "failure"
    GONE = "gone"  # 410: a failure that also disables the endpoint


def classify(status_code: int | None) -> Verdict:
    """The verdict for a response status (None: no response at all, e.g. a timeout)."""
    if status_code is not None and 200 <= status_code < 300:
        return Verdict.SUCCESS
    if status_code == 410:
        return Verdict.GONE
    return Verdict.FAILURE


def overloaded(status_code: int | None, *, timed_out: bool) -> bool:
    """True when the receiver is overwhelmed (timeout or 429): retry no sooner than 60 s."""
    return timed_out or status_code == 429


def parse_retry_after(value: str | None, now: datetime) -> float | None:
    """Seconds a `Retry-After` header asks for (delta-seconds or an HTTP date), or None when
    absent or unreadable; a date in the past means 0."""
    if value is None:
        return None
    text = value.strip()
    if text.isdigit():
        return float(text)
    try:
        when = parsedate_to_datetime(text)
    except (TypeError, ValueError, IndexError):
        return None
    if when.tzinfo is None:  # RFC 9110 dates are GMT; a zone-less one is read as such
        when = when.replace(tzinfo=now.tzinfo)
    return max(0.0, (when - now).total_seconds())


def next_delay(
    schedule: Sequence[float],
    attempts_made: int,
    *,
    rng: random.Random,
    retry_after: float | None = None,
    overload: bool = False,
) -> float | None:
    """Seconds until the next attempt after `attempts_made` attempts, or None when the
    schedule is exhausted (the delivery has failed for good).

    `schedule[n]` is the delay before attempt n+1 (the first entry, usually 0, is the first
    attempt's), so a schedule of 8 entries allows 8 attempts.
    """
    if attempts_made < 1:
        raise ValueError(f"attempts_made counts the attempt just made, so ≥ 1; got {attempts_made}")
    if attempts_made >= len(schedule):
        return None
    base = float(schedule[attempts_made])
    if overload:
        base = max(base, OVERLOAD_PENALTY_SECONDS)
    delay = base * rng.uniform(1.0 - JITTER, 1.0 + JITTER)
    if retry_after is not None:
        delay = min(max(retry_after, delay), 2.0 * delay)
    return delay
