"""Reading the key's rate limit from the API's headers, and pacing polls to it."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

# How long a dormant object may go unpolled: a change made elsewhere shows within it.
_DORMANT_CAP = 300.0


def _params(item: str) -> tuple[str, dict[str, float]]:
    """`"hour";q=10;w=3600` → ("hour", {"q": 10.0, "w": 3600.0})."""
    name, _, rest = item.strip().partition(";")
    params: dict[str, float] = {}
    for pair in rest.split(";"):
        key, _, value = pair.strip().partition("=")
        try:
            params[key] = float(value)
        except ValueError:
            continue
    return name.strip().strip('"'), params


@dataclass(frozen=True)
class RateLimit:
    """Where the key stands against its rate limit after a response (the `RateLimit` and
    `RateLimit-Policy` headers): requests `remaining` in the most constrained policy, and
    the seconds one request of that policy takes to come back (`interval`)."""

    policy: str
    remaining: int
    reset_seconds: float
    interval: float
    burst: int

    @classmethod
    def from_headers(cls, headers: Mapping[str, str]) -> RateLimit | None:
        """The state the headers report, or None when the key has no limit."""
        current = headers.get("RateLimit")
        if not current:
            return None
        name, now = _params(current)
        policies = dict(_params(p) for p in headers.get("RateLimit-Policy", "").split(","))
        policy = policies.get(name, {})
        quota, window = policy.get("q", 0.0), policy.get("w", 0.0)
        burst = headers.get("X-RateLimit-Limit", "")
        return cls(
            policy=name,
            remaining=int(now.get("r", 0)),
            reset_seconds=now.get("t", 0.0),
            interval=window / quota if quota else 0.0,
            burst=int(burst) if burst.isdigit() else int(quota),
        )


@dataclass
class Pacer:
    """A polling interval: `first` after a change, growing by `factor` while nothing
    changes, up to `cap`; never faster than the key's rate limit gives requests back once
    half its burst is spent (the key's other work keeps the other half), nor than an
    object that sleeps for `dormant_for` seconds needs."""

    first: float = 0.5
    cap: float = 5.0
    factor: float = 1.5
    delay: float = field(default=0.0, init=False)

    def next(
        self, changed: bool, rate: RateLimit | None = None, dormant_for: float | None = None
    ) -> float:
        """Seconds until the next poll."""
        grown = min(self.cap, self.delay * self.factor)
        self.delay = self.first if changed or not self.delay else grown
        delay = self.delay
        if dormant_for is not None:
            delay = max(delay, min(dormant_for, _DORMANT_CAP))
        if rate is not None and rate.interval and rate.remaining <= max(2, rate.burst // 2):
            delay = max(delay, rate.interval)
        return delay
