"""Admitting an authenticated request: its signed nonce, never seen before, then its rate
limits. With both in Redis, one script does both in one round trip; otherwise the nonce
store answers first, then the limiter."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from redis.exceptions import RedisError

from crosspost.usage.nonces import NonceStore, RedisNonceStore, unavailable
from crosspost.usage.ratelimit import Decision, Policy, RateLimiter
from crosspost.usage.ratelimit_redis import RedisRateLimiter


@dataclass(frozen=True)
class Nonce:
    """A verified signed request's nonce, to be recorded for `ttl_seconds`."""

    value: str
    ttl_seconds: int


@dataclass(frozen=True)
class Admission:
    """`fresh` is False when the nonce was used before (then nothing was counted);
    `decision` is None when no policy limits the key."""

    fresh: bool
    decision: Decision | None


async def admit(
    limiter: RateLimiter,
    nonces: NonceStore,
    key_id: str,
    policies: Sequence[Policy],
    now: float,
    nonce: Nonce | None,
) -> Admission:
    """Record `nonce` (if any) for `key_id`, then count the request against `policies`."""
    if (
        nonce is not None
        and policies
        and isinstance(limiter, RedisRateLimiter)
        and isinstance(nonces, RedisNonceStore)
        and limiter.shared
    ):
        try:
            decision = await limiter.hit_remembering(
                key_id, policies, now, nonces.key_for(key_id, nonce.value), nonce.ttl_seconds
            )
        except (RedisError, OSError) as exc:
            raise unavailable(exc) from exc
        return Admission(decision is not None, decision)
    if nonce is not None and not await nonces.remember(key_id, nonce.value, nonce.ttl_seconds):
        return Admission(fresh=False, decision=None)
    decision = await limiter.hit(key_id, policies, now) if policies else None
    return Admission(fresh=True, decision=decision)
