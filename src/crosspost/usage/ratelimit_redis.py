"""Rate limits shared by every API process through Redis, failing open when Redis is down.

One Lua script checks and updates all of a key's policies atomically, so N processes share
one exact limit. If Redis cannot be reached, requests pass unchecked for
`fail_open_seconds` (logged), then each process limits on its own with a
`MemoryRateLimiter` until Redis answers again; the API never goes down with Redis.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import replace
from urllib.parse import urlsplit

from redis.asyncio import Redis
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import RedisError

from crosspost.usage.ratelimit import (
    Decision,
    MemoryRateLimiter,
    Policy,
    decide,
    to_us,
    unlimited,
)

log = logging.getLogger("crosspost.ratelimit")

# The same GCRA as `MemoryRateLimiter.take`, in whole microseconds (exact in Lua's doubles
# up to 2^53 µs, i.e. until year 2255). TATs travel as strings: Lua's tostring would
# round them to 14 digits.
_GCRA_BODY = """
local now = tonumber(ARGV[1])
local tats = {}
local allowed = 1
for i = 1, cells do
  local tat = tonumber(redis.call('GET', KEYS[i])) or now
  if tat < now then tat = now end
  if tat + tonumber(ARGV[2 * i]) - tonumber(ARGV[2 * i + 1]) > now then allowed = 0 end
  tats[i] = tat
end
if allowed == 1 then
  for i = 1, cells do
    tats[i] = tats[i] + tonumber(ARGV[2 * i])
    redis.call('SET', KEYS[i], string.format('%.0f', tats[i]),
               'PX', math.ceil((tats[i] - now) / 1000))
  end
end
local reply = {allowed}
for i = 1, cells do reply[i + 1] = string.format('%.0f', tats[i]) end
return reply
"""
_GCRA = "local cells = #KEYS\n" + _GCRA_BODY
# A signed request's nonce (the last key, kept ARGV[#ARGV] seconds) is recorded first, in the
# same round trip: a nonce already there answers {-1} and counts nothing.
_NONCE_THEN_GCRA = (
    """
local cells = #KEYS - 1
if not redis.call('SET', KEYS[#KEYS], '1', 'NX', 'EX', ARGV[#ARGV]) then return {-1} end
"""
    + _GCRA_BODY
)

# Anything Redis can fail with (down, restarting, failing over, out of memory, ACL denied)
# must not take the API down; NOSCRIPT never gets here (register_script reloads the script).
_UNAVAILABLE = (RedisError, OSError)


class RedisRateLimiter:
    """GCRA in Redis: one exact limit per key across every API process."""

    def __init__(
        self,
        url: str,
        *,
        prefix: str = "crosspost:rl:",
        fail_open_seconds: float,
        timeout: float = 0.5,
        probe_seconds: float = 1.0,
    ) -> None:
        if fail_open_seconds < 0:
            raise ValueError(f"fail_open_seconds must be ≥ 0, got {fail_open_seconds}")
        if timeout <= 0 or probe_seconds < 0:
            raise ValueError("timeout must be > 0 and probe_seconds ≥ 0")
        self.prefix = prefix
        self.fail_open_seconds = fail_open_seconds
        self.probe_seconds = probe_seconds
        parts = urlsplit(url)
        # For logs: the address without credentials (a unix socket has only a path).
        self._where = f"{parts.hostname}:{parts.port or 6379}" if parts.hostname else parts.path
        # One quick retry, on connection errors only: a stale pooled connection is redialled,
        # but a timed-out script (which may have run) is never sent twice.
        self._redis = Redis.from_url(
            url,
            socket_timeout=timeout,
            socket_connect_timeout=timeout,
            retry=Retry(NoBackoff(), 1, supported_errors=(RedisConnectionError,)),
        )
        # register_script sends EVALSHA and loads the script on NOSCRIPT.
        self._script = self._redis.register_script(_GCRA)
        self._nonce_script = self._redis.register_script(_NONCE_THEN_GCRA)
        self._fallback = MemoryRateLimiter()
        self._down_since: float | None = None
        self._next_probe = 0.0
        self._local_announced = False

    def cell_key(self, key: str, policy: Policy) -> str:
        """The Redis key of one policy's TAT; the hash tag keeps a key's cells in one slot."""
        return f"{self.prefix}{{{key}}}:{policy.slot}"

    async def hit(self, key: str, policies: Sequence[Policy], now: float) -> Decision:
        """Admit and count one request of `key` at epoch second `now`, or refuse it."""
        if not key:
            raise ValueError("rate limit key must not be empty")
        chosen = tuple(policies)
        if not chosen:
            return unlimited(now)
        if self._down_since is not None:
            if now < self._next_probe:
                return self._degraded(key, chosen, now)
            # Claimed before the await, so concurrent requests do not all probe at once.
            self._next_probe = now + self.probe_seconds
        try:
            decision = await self._remote(key, chosen, now)
        except _UNAVAILABLE as exc:
            self._unavailable(now, exc)
            return self._degraded(key, chosen, now)
        self._reachable(now)
        return decision

    @property
    def shared(self) -> bool:
        """Whether Redis answered the last request (limits are shared, not fail-open/local)."""
        return self._down_since is None

    async def hit_remembering(
        self, key: str, policies: Sequence[Policy], now: float, nonce_key: str, ttl_seconds: int
    ) -> Decision | None:
        """`hit`, after recording the Redis key `nonce_key` for `ttl_seconds` in the same
        script (one round trip); None, with nothing counted, when that key already exists.

        Unlike `hit`, this cannot fail open (a replay would get through): when Redis cannot be
        reached it raises, and the limiter turns to its degraded mode for later calls.
        """
        chosen = tuple(policies)
        if not key or not chosen:
            raise ValueError("a key and at least one policy are needed")
        args: list[int] = [to_us(now)]
        for policy in chosen:
            args += [policy.interval_us, policy.tolerance_us]
        keys = [*(self.cell_key(key, p) for p in chosen), nonce_key]
        try:
            reply = await self._nonce_script(keys=keys, args=[*args, ttl_seconds])
        except _UNAVAILABLE as exc:
            self._unavailable(now, exc)
            raise
        self._reachable(now)
        allowed, *tats = reply
        if int(allowed) == -1:
            return None
        return decide(chosen, [int(t) for t in tats], now, allowed=int(allowed) == 1)

    async def _remote(self, key: str, policies: tuple[Policy, ...], now: float) -> Decision:
        args: list[int] = [to_us(now)]
        for policy in policies:
            args += [policy.interval_us, policy.tolerance_us]
        reply = await self._script(keys=[self.cell_key(key, p) for p in policies], args=args)
        allowed, *tats = reply
        return decide(policies, [int(t) for t in tats], now, allowed=int(allowed) == 1)

    def _unavailable(self, now: float, exc: BaseException) -> None:
        self._next_probe = now + self.probe_seconds
        if self._down_since is not None:
            return
        self._down_since = now
        self._local_announced = False
        log.warning(
            "rate limiter: Redis at %s is unavailable (%s: %s); letting requests through "
            "unchecked for %.0f s, then limiting each API process on its own",
            self._where,
            type(exc).__name__,
            exc,
            self.fail_open_seconds,
        )

    def _reachable(self, now: float) -> None:
        if self._down_since is None:
            return
        log.warning(
            "rate limiter: Redis at %s answers again after %.0f s; shared limits resume",
            self._where,
            now - self._down_since,
        )
        self._down_since = None
        self._fallback.clear()

    def _degraded(self, key: str, policies: tuple[Policy, ...], now: float) -> Decision:
        down_for = now - (now if self._down_since is None else self._down_since)
        if down_for < self.fail_open_seconds:
            return Decision(
                allowed=True, retry_after=0.0, now=now, policies=policies, degraded=True
            )
        if not self._local_announced:
            self._local_announced = True
            log.warning(
                "rate limiter: Redis at %s still unavailable after %.0f s; limiting in this "
                "process only until it answers (each API process allows the full limit)",
                self._where,
                down_for,
            )
        return replace(self._fallback.take(key, policies, now), degraded=True)

    async def aclose(self) -> None:
        """Close the connection pool."""
        await self._redis.aclose()
