"""API rate limits per key: GCRA policies, decisions and their headers, the in-memory limiter.

Each key is held to two policies (see `policies_for`); a request passes only if every policy
admits it, and only then is it counted in all of them, so a refused request spends nothing.
The algorithm is GCRA with redis-cell semantics: a policy stores one "theoretical arrival
time" (TAT) per key. Times are whole microseconds so boundaries are exact and the Redis
script (`ratelimit_redis`) computes bit-for-bit what this module does.
"""

from __future__ import annotations

import math
import re
import threading
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol

from crosspost.errors import RateLimited

if TYPE_CHECKING:
    from crosspost.config import Settings

US = 1_000_000
HOUR = 3600
DAY = 86400
LIMIT_FIELDS = ("requests_per_hour", "requests_per_day", "burst")
_MAX_WINDOW = 366 * DAY
_MAX_REFILL_US = 366 * DAY * US
_NAME = re.compile(r"[a-z][a-z0-9_-]{0,31}")


@dataclass(frozen=True)
class Policy:
    """`limit` requests per `window_seconds`, of which up to `burst` may come at once."""

    name: str
    limit: int
    window_seconds: int
    burst: int

    def __post_init__(self) -> None:
        if not _NAME.fullmatch(self.name):
            raise ValueError(
                f"rate limit policy name {self.name!r} must be 1-32 lowercase letters, digits, "
                "'_' or '-', starting with a letter"
            )
        for field, value in (
            ("limit", self.limit),
            ("window_seconds", self.window_seconds),
            ("burst", self.burst),
        ):
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ValueError(
                    f"rate limit policy {self.name!r}: {field} must be a whole number ≥ 1, "
                    f"got {value!r}"
                )
        if self.window_seconds > _MAX_WINDOW:
            raise ValueError(
                f"rate limit policy {self.name!r}: window_seconds must be at most {_MAX_WINDOW} "
                f"(366 days), got {self.window_seconds}"
            )
        if self.limit > self.window_seconds * US:
            raise ValueError(
                f"rate limit policy {self.name!r}: {self.limit} requests per "
                f"{self.window_seconds} s is more than one a microsecond; lower the limit"
            )
        if self.tolerance_us > _MAX_REFILL_US:
            raise ValueError(
                f"rate limit policy {self.name!r}: a burst of {self.burst} at {self.limit} "
                f"requests per {self.window_seconds} s takes more than 366 days to refill; "
                "lower the burst or raise the limit"
            )

    @property
    def interval_us(self) -> int:
        """Time between requests at the sustained rate (GCRA's emission interval), in µs."""
        # Rounded to the microsecond: the rate is off by at most 0.5 µs per request.
        return (self.window_seconds * US + self.limit // 2) // self.limit

    @property
    def tolerance_us(self) -> int:
        """How far ahead of now the TAT may run: `burst` intervals, in µs."""
        return self.interval_us * self.burst

    @property
    def slot(self) -> str:
        """Storage name of this policy's state; a changed policy (new tier) starts afresh."""
        return f"{self.name}:{self.limit}:{self.window_seconds}:{self.burst}"


def policies_for(limits: Mapping[str, int]) -> tuple[Policy, ...]:
    """The `hourly` and `daily` policies of a tier (or a key's override) of the same shape.

    Raises ValueError naming the field to fix when a field is missing, unknown or not a
    whole number ≥ 1.
    """
    if not isinstance(limits, Mapping):
        raise ValueError(
            f"rate limits must be an object with {', '.join(LIMIT_FIELDS)}, got {limits!r}"
        )
    unknown = sorted(set(limits) - set(LIMIT_FIELDS))
    if unknown:
        raise ValueError(
            f"unknown rate limit field(s) {', '.join(map(repr, unknown))}; "
            f"use {', '.join(LIMIT_FIELDS)}"
        )
    missing = [f for f in LIMIT_FIELDS if f not in limits]
    if missing:
        raise ValueError(
            f"rate limits lack {', '.join(map(repr, missing))}; give all of "
            f"{', '.join(LIMIT_FIELDS)}"
        )
    for field in LIMIT_FIELDS:
        value = limits[field]
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise ValueError(f"rate limit {field!r} must be a whole number ≥ 1, got {value!r}")
    per_day = limits["requests_per_day"]
    return (
        Policy("hourly", limits["requests_per_hour"], HOUR, limits["burst"]),
        Policy("daily", per_day, DAY, per_day),
    )


def resolve_policies(
    tiers: Mapping[str, Mapping[str, int]],
    tier: str | None,
    override: Mapping[str, int] | None = None,
) -> tuple[Policy, ...]:
    """A key's policies: its own override, else its tier's; no tier and no override = none.

    Raises ValueError for a tier that is not configured.
    """
    if override is not None:
        return policies_for(override)
    if tier is None:
        return ()
    if tier not in tiers:
        raise ValueError(
            f"unknown rate limit tier {tier!r}; configured tiers: {', '.join(sorted(tiers))}"
        )
    return policies_for(tiers[tier])


def validate_tiers(tiers: Mapping[str, Mapping[str, int]], default_tier: str | None) -> None:
    """Check the configured tier table and default tier; raise ValueError naming the setting."""
    for tier, limits in tiers.items():
        try:
            policies_for(limits)
        except ValueError as exc:
            raise ValueError(f"CROSSPOST_RATE_LIMIT_TIERS, tier {tier!r}: {exc}") from None
    if default_tier is not None and default_tier not in tiers:
        raise ValueError(
            f"CROSSPOST_DEFAULT_TIER={default_tier!r} is not a configured tier; use one of "
            f"{', '.join(sorted(tiers))}"
        )


@dataclass(frozen=True)
class PolicyState:
    """Where one policy stands for a key after a request."""

    policy: Policy
    remaining: int  # requests it would still admit right now
    reset_after: float  # seconds until its whole burst is available again
    retry_after: float  # seconds until it admits one more request (0 = now)


@dataclass(frozen=True)
class Decision:
    """The limiter's answer for one request, and the response headers that report it."""

    allowed: bool
    retry_after: float  # seconds until every policy admits a request; 0 when allowed
    now: float
    policies: tuple[Policy, ...] = ()
    # Empty when the state is unknown (Redis unreachable, request let through unchecked).
    states: tuple[PolicyState, ...] = ()
    # The shared limiter was unreachable: this answer is fail-open or process-local.
    degraded: bool = False

    def state(self, name: str) -> PolicyState:
        """The named policy's state (KeyError when unknown)."""
        for state in self.states:
            if state.policy.name == name:
                return state
        raise KeyError(name)

    @property
    def binding(self) -> PolicyState | None:
        """The most constrained policy: the one refusing longest, else the fewest remaining."""
        if not self.states:
            return None
        if not self.allowed:
            return max(self.states, key=lambda s: s.retry_after)
        return min(self.states, key=lambda s: (s.remaining, -s.reset_after))

    @property
    def violated(self) -> tuple[str, ...]:
        """Names of the policies that refused this request."""
        return tuple(s.policy.name for s in self.states if s.retry_after > 0)

    def headers(self) -> dict[str, str]:
        """`RateLimit-Policy`, `RateLimit`, `X-RateLimit-*` and, when refused, `Retry-After`.

        `t` and `X-RateLimit-Reset` point at the same instant: when refused, the moment a
        request will pass (as `Retry-After`); otherwise when the binding policy is full again.
        """
        if not self.policies:
            return {}
        headers = {
            "RateLimit-Policy": ", ".join(
                f'"{p.name}";q={p.limit};w={p.window_seconds}' for p in self.policies
            )
        }
        binding = self.binding
        if binding is not None:
            wait = binding.reset_after if self.allowed else self.retry_after
            headers["RateLimit"] = (
                f'"{binding.policy.name}";r={binding.remaining};t={math.ceil(wait)}'
            )
            headers["X-RateLimit-Limit"] = str(binding.policy.burst)
            headers["X-RateLimit-Remaining"] = str(binding.remaining)
            headers["X-RateLimit-Reset"] = str(math.ceil(self.now + wait))
        if not self.allowed:
            headers["Retry-After"] = str(max(1, math.ceil(self.retry_after)))
        return headers


def rate_limited_error(decision: Decision) -> RateLimited:
    """The 429 problem for a refused decision, carrying its headers and violated policies."""
    if decision.allowed:
        raise ValueError("rate_limited_error needs a refused decision")
    wait = max(1, math.ceil(decision.retry_after))
    binding = decision.binding
    if binding is None:
        detail = f"rate limit reached; retry in {wait} s"
    else:
        p = binding.policy
        detail = (
            f"rate limit reached: the {p.name!r} policy allows {p.limit} requests per "
            f"{p.window_seconds} s (bursts of up to {p.burst}); retry in {wait} s"
        )
    # `violated-policies` is the extension member of the IETF quota-exceeded problem type.
    extra: dict[str, Any] = {"violated-policies": list(decision.violated)}
    return RateLimited(detail, headers=decision.headers(), retry_after=wait, **extra)


def unlimited(now: float) -> Decision:
    """The decision for a key without policies."""
    return Decision(allowed=True, retry_after=0.0, now=now)


def to_us(now: float) -> int:
    """Epoch seconds as whole microseconds, the unit every TAT is kept in."""
    return round(now * US)


def admits(policy: Policy, tat_us: int, now_us: int) -> bool:
    """Whether a policy whose (effective) TAT is `tat_us` lets one more request through."""
    return tat_us + policy.interval_us - policy.tolerance_us <= now_us


def decide(
    policies: tuple[Policy, ...], tats_us: Sequence[int], now: float, *, allowed: bool
) -> Decision:
    """Build the decision from each policy's TAT after the request (never before now)."""
    now_us = to_us(now)
    states = []
    for policy, tat in zip(policies, tats_us, strict=True):
        ahead = tat - now_us
        states.append(
            PolicyState(
                policy=policy,
                remaining=max(0, (policy.tolerance_us - ahead) // policy.interval_us),
                reset_after=ahead / US,
                retry_after=max(0, ahead + policy.interval_us - policy.tolerance_us) / US,
            )
        )
    retry = 0.0 if allowed else max(s.retry_after for s in states)
    return Decision(
        allowed=allowed, retry_after=retry, now=now, policies=policies, states=tuple(states)
    )


class RateLimiter(Protocol):
    """Counts a key's requests against its policies (memory or Redis)."""

    async def hit(self, key: str, policies: Sequence[Policy], now: float) -> Decision:
        """Admit and count one request of `key` at epoch second `now`, or refuse it."""
        ...

    async def aclose(self) -> None:
        """Release connections."""
        ...


class MemoryRateLimiter:
    """GCRA in this process: exact for embedded mode (one API process).

    A lock (never held across an await) makes check-and-update atomic for coroutines and
    threads alike. Entries whose TAT has passed carry no information and are swept out, so
    memory follows the keys active within the longest window.
    """

    def __init__(self, *, sweep_seconds: float = 60.0, min_sweep_size: int = 1024) -> None:
        self._tats: dict[tuple[str, str], int] = {}
        self._lock = threading.Lock()
        self._sweep_seconds = sweep_seconds
        self._min_sweep_size = min_sweep_size
        self._sweep_size = min_sweep_size
        self._next_sweep_us: int | None = None

    def __len__(self) -> int:
        return len(self._tats)

    async def hit(self, key: str, policies: Sequence[Policy], now: float) -> Decision:
        """Admit and count one request of `key` at epoch second `now`, or refuse it."""
        return self.take(key, policies, now)

    def take(self, key: str, policies: Sequence[Policy], now: float) -> Decision:
        """The synchronous `hit` (for threads and for Redis's fallback)."""
        if not key:
            raise ValueError("rate limit key must not be empty")
        chosen = tuple(policies)
        if not chosen:
            return unlimited(now)
        now_us = to_us(now)
        cells = [(key, p.slot) for p in chosen]
        with self._lock:
            tats = [max(self._tats.get(cell, now_us), now_us) for cell in cells]
            allowed = all(admits(p, t, now_us) for p, t in zip(chosen, tats, strict=True))
            if allowed:
                tats = [t + p.interval_us for p, t in zip(chosen, tats, strict=True)]
                self._tats.update(zip(cells, tats, strict=True))
                self._maybe_sweep(now_us)
        return decide(chosen, tats, now, allowed=allowed)

    def clear(self) -> None:
        """Forget every key."""
        with self._lock:
            self._tats.clear()

    def _maybe_sweep(self, now_us: int) -> None:
        # Sweep on a timer and whenever the table doubles: O(1) amortised per request.
        if self._next_sweep_us is None:
            self._next_sweep_us = now_us + round(self._sweep_seconds * US)
        if len(self._tats) < self._sweep_size and now_us < self._next_sweep_us:
            return
        self._tats = {cell: tat for cell, tat in self._tats.items() if tat > now_us}
        self._sweep_size = max(self._min_sweep_size, 2 * len(self._tats))
        self._next_sweep_us = now_us + round(self._sweep_seconds * US)

    async def aclose(self) -> None:
        """Nothing to release."""


def build_rate_limiter(settings: Settings) -> RateLimiter:
    """Redis when `redis_url` is set (limits shared by every API process), else memory.

    Also validates the tier table, so a bad `CROSSPOST_RATE_LIMIT_TIERS` fails at start.
    """
    validate_tiers(settings.rate_limit_tiers, settings.default_tier)
    if settings.resolved_redis_url:
        # ratelimit_redis builds on this module, so it is imported here, not at the top.
        from crosspost.usage.ratelimit_redis import RedisRateLimiter  # noqa: PLC0415

        return RedisRateLimiter(
            settings.resolved_redis_url, fail_open_seconds=settings.rate_limit_fail_open_seconds
        )
    return MemoryRateLimiter()
