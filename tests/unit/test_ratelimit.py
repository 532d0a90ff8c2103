"""API rate limits in memory: exact GCRA boundaries, all-or-nothing policies, headers, input.

The `scenario_*` coroutines take any `RateLimiter`; tests/store/test_ratelimit_redis.py runs
the same ones against Redis.
"""

from __future__ import annotations

import asyncio
import sys
import threading
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from crosspost.clock import FrozenClock
from crosspost.config import Settings
from crosspost.errors import RateLimited
from crosspost.usage.ratelimit import (
    Decision,
    MemoryRateLimiter,
    Policy,
    RateLimiter,
    build_rate_limiter,
    policies_for,
    rate_limited_error,
    resolve_policies,
    validate_tiers,
)
from crosspost.usage.ratelimit_redis import RedisRateLimiter

T0 = 1_800_000_000
FREE = {"requests_per_hour": 10, "requests_per_day": 100, "burst": 15}
PRO = {"requests_per_hour": 100, "requests_per_day": 5000, "burst": 150}
# Generous per hour, so the daily policy is the one that binds.
DAILY_BOUND = {"requests_per_hour": 1000, "requests_per_day": 100, "burst": 1000}


def fake_clock() -> FrozenClock:
    """A clock frozen at T0."""
    return FrozenClock(datetime.fromtimestamp(T0, UTC))


def now(clock: FrozenClock) -> float:
    """The clock's time as epoch seconds, as the API passes it."""
    return clock.now().timestamp()


async def hits(
    limiter: RateLimiter, key: str, policies: Sequence[Policy], t: float, n: int
) -> list[Decision]:
    """`n` sequential hits at the same instant."""
    return [await limiter.hit(key, policies, t) for _ in range(n)]


# Scenarios shared with the Redis suite -----------------------------------------------------


async def scenario_free_tier_burst(limiter: RateLimiter) -> None:
    """Free tier: 15 at once, the 16th waits 360 s; at exactly +360 s one more passes."""
    clock, free = fake_clock(), policies_for(FREE)
    burst = await hits(limiter, "key_a", free, now(clock), 15)
    assert all(d.allowed for d in burst)
    assert [d.state("hourly").remaining for d in burst] == list(range(14, -1, -1))
    assert [d.state("daily").remaining for d in burst] == list(range(99, 84, -1))

    refused = await limiter.hit("key_a", free, now(clock))
    assert not refused.allowed
    assert refused.retry_after == 360.0
    assert refused.violated == ("hourly",)
    assert refused.headers()["Retry-After"] == "360"
    # A refused request spends nothing, however often it is repeated.
    assert not any(d.allowed for d in await hits(limiter, "key_a", free, now(clock), 20))

    clock.advance(359.999)
    early = await limiter.hit("key_a", free, now(clock))
    assert not early.allowed
    assert early.retry_after == pytest.approx(0.001)
    assert early.headers()["Retry-After"] == "1"

    clock.advance(0.001)
    assert (await limiter.hit("key_a", free, now(clock))).allowed
    again = await limiter.hit("key_a", free, now(clock))
    assert not again.allowed
    assert again.retry_after == 360.0


async def scenario_daily_boundary(limiter: RateLimiter) -> None:
    """Exactly 100 a day pass; the 101st waits 864 s and the hourly policy is not charged."""
    clock, policies = fake_clock(), policies_for(DAILY_BOUND)
    passed = await hits(limiter, "key_d", policies, now(clock), 100)
    assert all(d.allowed for d in passed)
    assert passed[-1].state("daily").remaining == 0

    refused = await limiter.hit("key_d", policies, now(clock))
    assert not refused.allowed
    assert refused.violated == ("daily",)
    assert refused.retry_after == 864.0
    assert refused.headers()["RateLimit"] == '"daily";r=0;t=864'
    # The hourly policy counted the 100 that passed, not the refused one.
    assert refused.state("hourly").remaining == 900

    clock.advance(864)
    assert (await limiter.hit("key_d", policies, now(clock))).allowed
    assert not (await limiter.hit("key_d", policies, now(clock))).allowed


async def scenario_free_tier_over_a_day(limiter: RateLimiter) -> None:
    """Paced at the hourly rate, the free tier runs into its daily policy at request 161."""
    clock, free = fake_clock(), policies_for(FREE)
    assert all(d.allowed for d in await hits(limiter, "key_p", free, now(clock), 15))
    count = 15
    while True:
        clock.advance(360)
        decision = await limiter.hit("key_p", free, now(clock))
        if not decision.allowed:
            break
        count += 1
    # GCRA arithmetic: request k passes while k * 864 - 86400 <= (k - 15) * 360.
    assert count == 160
    assert now(clock) == T0 + 146 * 360
    assert decision.violated == ("daily",)
    assert decision.retry_after == 144.0
    assert decision.state("hourly").retry_after == 0


async def scenario_redis_cell_table(limiter: RateLimiter) -> None:
    """redis-cell's own test table (limit 5, one a second), for single requests."""
    cell = (Policy("cell", limit=1, window_seconds=1, burst=5),)
    cases = [  # (seconds after start, allowed, remaining, reset_after, retry_after)
        (0.0, True, 4, 1.0, 0.0),
        (0.0, True, 3, 2.0, 0.0),
        (0.0, True, 2, 3.0, 0.0),
        (0.0, True, 1, 4.0, 0.0),
        (0.0, True, 0, 5.0, 0.0),
        (0.0, False, 0, 5.0, 1.0),
        (3.0, True, 2, 3.0, 0.0),
        (3.1, True, 1, 3.9, 0.0),
        (4.0, True, 1, 4.0, 0.0),
        (8.0, True, 4, 1.0, 0.0),
        (9.5, True, 4, 1.0, 0.0),
    ]
    for number, (after, allowed, remaining, reset_after, retry_after) in enumerate(cases):
        decision = await limiter.hit("key_c", cell, T0 + after)
        state = decision.state("cell")
        got = (decision.allowed, state.remaining, state.reset_after, decision.retry_after)
        assert got == pytest.approx((allowed, remaining, reset_after, retry_after)), number


async def scenario_keys_and_tiers_apart(limiter: RateLimiter) -> None:
    """Keys have their own limits; a key moved to another tier starts with its full burst."""
    free, pro = policies_for(FREE), policies_for(PRO)
    await hits(limiter, "key_x", free, T0, 15)
    assert not (await limiter.hit("key_x", free, T0)).allowed
    assert (await limiter.hit("key_y", free, T0)).allowed
    upgraded = await limiter.hit("key_x", pro, T0)
    assert upgraded.allowed
    assert upgraded.state("hourly").remaining == 149


async def scenario_concurrent(limiters: Sequence[RateLimiter], hits_total: int = 50) -> None:
    """Racing hits spread over the limiters: exactly the burst passes."""
    free = policies_for(FREE)
    decisions = await asyncio.gather(
        *(limiters[i % len(limiters)].hit("key_r", free, T0) for i in range(hits_total))
    )
    assert sum(d.allowed for d in decisions) == 15
    assert all(d.retry_after == 360.0 for d in decisions if not d.allowed)
    remaining = sorted(d.state("hourly").remaining for d in decisions if d.allowed)
    assert remaining == list(range(15))


SCENARIOS = [
    scenario_free_tier_burst,
    scenario_daily_boundary,
    scenario_free_tier_over_a_day,
    scenario_redis_cell_table,
    scenario_keys_and_tiers_apart,
]


# Memory limiter ------------------------------------------------------------------------------


@pytest.mark.parametrize("scenario", SCENARIOS, ids=lambda s: s.__name__)
def test_memory_limiter(scenario: Any) -> None:
    """Every shared scenario holds in memory."""
    asyncio.run(scenario(MemoryRateLimiter()))


def test_memory_limiter_under_asyncio_concurrency() -> None:
    """Fifty racing coroutines on one limiter: exactly the burst of 15 passes."""
    asyncio.run(scenario_concurrent([MemoryRateLimiter()]))


def race_threads(limiter: MemoryRateLimiter, threads: int = 8, each: int = 50) -> int:
    """Threads released together, each hitting one key `each` times; how many passed."""
    free, start = policies_for(FREE), threading.Barrier(threads)

    def worker(_: int) -> int:
        start.wait()
        return sum(limiter.take("key_t", free, T0).allowed for _ in range(each))

    with ThreadPoolExecutor(threads) as pool:
        return sum(pool.map(worker, range(threads)))


def test_memory_limiter_under_threads() -> None:
    """Eight threads racing 400 hits: exactly the burst of 15 passes, trial after trial."""
    interval = sys.getswitchinterval()
    sys.setswitchinterval(1e-6)  # switch threads as often as possible, so races would show
    try:
        assert [race_threads(MemoryRateLimiter()) for _ in range(30)] == [15] * 30
    finally:
        sys.setswitchinterval(interval)


def test_memory_limiter_drops_expired_entries() -> None:
    """Keys idle longer than their longest window leave memory on the next sweep."""
    limiter, free = MemoryRateLimiter(sweep_seconds=60), policies_for(FREE)
    for i in range(3000):
        limiter.take(f"key_{i}", free, T0)
    assert len(limiter) == 6000  # two policies per key, all still live
    limiter.take("key_new", free, T0 + 864)  # every old entry has just run out
    assert len(limiter) == 2


def test_memory_limiter_keeps_live_entries_when_it_sweeps() -> None:
    """A sweep forgets nothing that still limits: a spent key stays spent."""
    limiter, free = MemoryRateLimiter(sweep_seconds=60, min_sweep_size=4), policies_for(FREE)
    for _ in range(15):
        limiter.take("key_a", free, T0)
    for i in range(50):  # many sweeps, on size and on time
        limiter.take(f"key_{i}", free, T0 + 100 + i)
    assert limiter.take("key_a", free, T0 + 200).retry_after == pytest.approx(160.0)


def test_no_policies_means_not_limited() -> None:
    """A key without tier or override always passes and sends no rate limit headers."""
    decision = MemoryRateLimiter().take("key_u", (), T0)
    assert decision.allowed
    assert decision.headers() == {}
    assert resolve_policies(Settings().rate_limit_tiers, None) == ()


def test_an_empty_key_is_refused() -> None:
    """An empty key would pool every caller into one limit."""
    with pytest.raises(ValueError, match="must not be empty"):
        MemoryRateLimiter().take("", policies_for(FREE), T0)


# Headers and the 429 problem -----------------------------------------------------------------


def test_headers_of_an_allowed_request() -> None:
    """Both header styles, reporting the most constrained policy."""
    decision = MemoryRateLimiter().take("key_h", policies_for(FREE), T0 + 0.25)
    assert decision.headers() == {
        "RateLimit-Policy": '"hourly";q=10;w=3600, "daily";q=100;w=86400',
        "RateLimit": '"hourly";r=14;t=360',
        "X-RateLimit-Limit": "15",
        "X-RateLimit-Remaining": "14",
        "X-RateLimit-Reset": str(T0 + 361),
    }


def test_headers_of_a_refused_request() -> None:
    """Retry-After, RateLimit's t and X-RateLimit-Reset name the same moment."""
    limiter, free = MemoryRateLimiter(), policies_for(FREE)
    last = limiter.take("key_h", free, T0)
    for _ in range(14):
        last = limiter.take("key_h", free, T0)
    assert last.headers()["RateLimit"] == '"hourly";r=0;t=5400'  # allowed: full again in 1.5 h
    refused = limiter.take("key_h", free, T0)
    headers = refused.headers()
    assert headers["RateLimit"] == '"hourly";r=0;t=360'
    assert headers["Retry-After"] == "360"
    assert headers["X-RateLimit-Remaining"] == "0"
    assert headers["X-RateLimit-Reset"] == str(T0 + 360)


def test_headers_while_the_state_is_unknown() -> None:
    """A fail-open answer states the policy but claims no remaining quota."""
    policies = policies_for(FREE)
    decision = Decision(allowed=True, retry_after=0.0, now=T0, policies=policies, degraded=True)
    assert decision.headers() == {"RateLimit-Policy": '"hourly";q=10;w=3600, "daily";q=100;w=86400'}
    with pytest.raises(KeyError):
        decision.state("hourly")


def test_rate_limited_error_is_a_429_problem() -> None:
    """The error names the policy, says when to retry and carries the headers."""
    limiter, policies = MemoryRateLimiter(), policies_for(DAILY_BOUND)
    for _ in range(100):
        limiter.take("key_e", policies, T0)
    error = rate_limited_error(limiter.take("key_e", policies, T0 + 0.5))
    assert isinstance(error, RateLimited)
    assert (error.status, error.code) == (429, "rate_limited")
    assert "'daily' policy allows 100 requests per 86400 s" in error.detail
    assert "retry in 864 s" in error.detail
    assert error.extra["violated-policies"] == ["daily"]
    assert error.extra["retry_after"] == 864
    assert error.extra["headers"]["Retry-After"] == "864"


def test_rate_limited_error_needs_a_refusal() -> None:
    """Building a 429 from an allowed decision is a programming error."""
    with pytest.raises(ValueError, match="refused decision"):
        rate_limited_error(MemoryRateLimiter().take("key_e", policies_for(FREE), T0))


# Tiers, overrides and bad input --------------------------------------------------------------


def test_policies_of_a_tier() -> None:
    """A tier becomes an hourly policy with its burst and a daily one holding a day's worth."""
    assert policies_for(FREE) == (
        Policy("hourly", 10, 3600, 15),
        Policy("daily", 100, 86400, 100),
    )


def test_default_tiers_and_overrides() -> None:
    """The settings' table is valid; a key's override wins over its tier."""
    tiers = Settings().rate_limit_tiers
    validate_tiers(tiers, "free")
    assert resolve_policies(tiers, "pro")[0] == Policy("hourly", 100, 3600, 150)
    assert resolve_policies(tiers, "enterprise")[1] == Policy("daily", 50000, 86400, 50000)
    assert resolve_policies(tiers, "free", DAILY_BOUND) == policies_for(DAILY_BOUND)
    assert resolve_policies(tiers, None, FREE) == policies_for(FREE)


@pytest.mark.parametrize(
    ("limits", "message"),
    [
        ({"requests_per_hour": 10, "requests_per_day": 100}, "lack 'burst'"),
        ({**FREE, "requests_per_minute": 1}, "unknown rate limit field.*requests_per_minute"),
        ({**FREE, "burst": 0}, "'burst' must be a whole number ≥ 1, got 0"),
        ({**FREE, "requests_per_hour": -5}, "'requests_per_hour' must be .* got -5"),
        ({**FREE, "requests_per_day": True}, "'requests_per_day' must be .* got True"),
        ({**FREE, "burst": 1.5}, "'burst' must be .* got 1.5"),
        ({**FREE, "burst": "15"}, "'burst' must be .* got '15'"),
        ({**FREE, "requests_per_day": None}, "got None"),
        ([10, 100, 15], "must be an object"),
        ({"requests_per_hour": 1, "requests_per_day": 10, "burst": 9000}, "366 days to refill"),
        ({**FREE, "requests_per_hour": 4_000_000_000}, "more than one a microsecond"),
    ],
)
def test_bad_limits_are_refused_clearly(limits: Any, message: str) -> None:
    """Every bad field is named with what to change."""
    with pytest.raises(ValueError, match=message):
        policies_for(limits)


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("Hourly", 10, 3600, 15), "lowercase letters"),
        (('a"b', 10, 3600, 15), "lowercase letters"),
        (("", 10, 3600, 15), "lowercase letters"),
        (("w", 10, 400 * 86400, 15), "window_seconds must be at most"),
        (("w", 10, 0, 15), "window_seconds must be a whole number"),
    ],
)
def test_bad_policies_are_refused(args: tuple[Any, ...], message: str) -> None:
    """A policy's name must be a valid header token and its numbers sane."""
    with pytest.raises(ValueError, match=message):
        Policy(*args)


def test_unknown_tier_is_refused() -> None:
    """A key whose tier is not configured gets a clear error, not an unlimited pass."""
    with pytest.raises(ValueError, match="unknown rate limit tier 'gold'; configured tiers: "):
        resolve_policies(Settings().rate_limit_tiers, "gold")


def test_bad_tier_settings_fail_at_start(tmp_path: Path) -> None:
    """A broken tier table or default tier stops `build_rate_limiter`, naming the setting."""
    broken = Settings(home=tmp_path, rate_limit_tiers={"free": {**FREE, "burst": 0}})
    with pytest.raises(ValueError, match=r"CROSSPOST_RATE_LIMIT_TIERS, tier 'free': .*burst"):
        build_rate_limiter(broken)
    with pytest.raises(ValueError, match="CROSSPOST_DEFAULT_TIER='gold' is not a configured"):
        build_rate_limiter(Settings(home=tmp_path, default_tier="gold"))


def test_build_picks_memory_or_redis(tmp_path: Path) -> None:
    """Embedded mode limits in memory; a Redis URL shares limits (no connection until used)."""
    assert isinstance(build_rate_limiter(Settings(home=tmp_path)), MemoryRateLimiter)
    redis_limiter = build_rate_limiter(
        Settings(home=tmp_path, redis_url="redis://127.0.0.1:1/0", rate_limit_fail_open_seconds=7)
    )
    assert isinstance(redis_limiter, RedisRateLimiter)
    assert redis_limiter.fail_open_seconds == 7
    asyncio.run(redis_limiter.aclose())


def test_redis_limiter_refuses_bad_settings() -> None:
    """Negative fail-open periods and non-positive timeouts are configuration mistakes."""
    with pytest.raises(ValueError, match="fail_open_seconds must be ≥ 0"):
        RedisRateLimiter("redis://127.0.0.1:6379/0", fail_open_seconds=-1)
    with pytest.raises(ValueError, match="timeout must be > 0"):
        RedisRateLimiter("redis://127.0.0.1:6379/0", fail_open_seconds=1, timeout=0)
