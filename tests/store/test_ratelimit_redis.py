"""Rate limits in real Redis: the memory suite's exact boundaries, one limit shared by separate
limiters, and failing open (then process-local) while Redis is unreachable.
"""

from __future__ import annotations

import asyncio
import logging
import secrets
from collections.abc import Awaitable, Callable, Iterator
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import pytest
import redis

from crosspost.fakes.server import free_port
from crosspost.usage.admission import Nonce, admit
from crosspost.usage.nonces import NonceStoreUnavailable, RedisNonceStore
from crosspost.usage.ratelimit import Decision, policies_for
from crosspost.usage.ratelimit_redis import RedisRateLimiter
from tests.conftest import REDIS_ENV, service_url
from tests.unit.test_ratelimit import (
    DAILY_BOUND,
    FREE,
    SCENARIOS,
    T0,
    scenario_concurrent,
)

LOGGER = "crosspost.ratelimit"


@pytest.fixture
def redis_url() -> str:
    """The test Redis server, or a skip."""
    return service_url(REDIS_ENV)


@pytest.fixture
def prefix(redis_url: str) -> Iterator[str]:
    """A key prefix no other test run uses; its keys are deleted afterwards."""
    value = f"crosspost:test:rl:{secrets.token_hex(6)}:"
    yield value
    client = redis.Redis.from_url(redis_url)
    try:
        keys = list(client.scan_iter(match=f"{value}*", count=1000))
        if keys:
            client.delete(*keys)
    finally:
        client.close()


# Tests of exactness race dozens of hits, each opening its own connection at first; on a
# loaded CI machine one connect can take longer than the default 0.5 s, and the limiter then
# (rightly) fails open. These tests are about the shared count, not about slow connects.
EXACT_TIMEOUT = 5.0


def run_with(
    url: str, prefix: str, body: Callable[[RedisRateLimiter], Awaitable[None]], **options: Any
) -> None:
    """Run `body` with a limiter of its own, closed afterwards."""

    async def main() -> None:
        settings = {"fail_open_seconds": 300, "timeout": EXACT_TIMEOUT, **options}
        limiter = RedisRateLimiter(url, prefix=prefix, **settings)
        try:
            await body(limiter)
        finally:
            await limiter.aclose()

    asyncio.run(main())


@pytest.mark.parametrize("scenario", SCENARIOS, ids=lambda s: s.__name__)
def test_redis_limiter(redis_url: str, prefix: str, scenario: Any) -> None:
    """Every boundary scenario of the memory suite holds in Redis, to the microsecond."""
    run_with(redis_url, prefix, scenario)


def test_separate_limiters_share_one_exact_limit(redis_url: str, prefix: str) -> None:
    """Two limiters on their own connections (two API processes): 50 racing hits, 15 pass."""

    async def main() -> None:
        limiters = [
            RedisRateLimiter(redis_url, prefix=prefix, fail_open_seconds=300, timeout=EXACT_TIMEOUT)
            for _ in range(2)
        ]
        try:
            await scenario_concurrent(limiters)
            # The daily boundary too, with 150 racing hits for 100 places.
            policies = policies_for(DAILY_BOUND)
            decisions = await asyncio.gather(
                *(limiters[i % 2].hit("key_s", policies, T0) for i in range(150))
            )
            assert sum(d.allowed for d in decisions) == 100
            assert all(d.retry_after == 864.0 for d in decisions if not d.allowed)
        finally:
            for limiter in limiters:
                await limiter.aclose()

    asyncio.run(main())


def test_state_expires_with_the_policy(redis_url: str, prefix: str) -> None:
    """Each policy's TAT is stored with a TTL of its reset time, in one cluster slot per key."""

    async def body(limiter: RedisRateLimiter) -> None:
        await limiter.hit("key_ttl", policies_for(FREE), T0)

    run_with(redis_url, prefix, body)
    client = redis.Redis.from_url(redis_url, decode_responses=True)
    try:
        keys = sorted(client.scan_iter(match=f"{prefix}*"))
        assert keys == [
            f"{prefix}{{key_ttl}}:daily:100:86400:100",
            f"{prefix}{{key_ttl}}:hourly:10:3600:15",
        ]
        assert 863_000 < client.pttl(keys[0]) <= 864_000
        assert 359_000 < client.pttl(keys[1]) <= 360_000
        assert client.get(keys[1]) == str((T0 + 360) * 1_000_000)  # whole microseconds
    finally:
        client.close()


def test_script_is_reloaded_after_a_flush(redis_url: str, prefix: str) -> None:
    """EVALSHA falls back to loading the script when Redis has forgotten it (restart)."""

    async def body(limiter: RedisRateLimiter) -> None:
        free = policies_for(FREE)
        assert (await limiter.hit("key_f", free, T0)).allowed
        flusher = redis.Redis.from_url(redis_url)
        try:
            flusher.script_flush()
        finally:
            flusher.close()
        second = await limiter.hit("key_f", free, T0)
        assert second.allowed
        assert second.state("hourly").remaining == 13
        assert not second.degraded

    run_with(redis_url, prefix, body)


def test_fail_open_then_local_limits_while_redis_is_down(
    redis_url: str, prefix: str, caplog: pytest.LogCaptureFixture
) -> None:
    """Nothing listens: requests pass (logged once) for the fail-open period, then each
    process enforces the limit in memory."""
    down = f"redis://127.0.0.1:{free_port()}/0"
    free = policies_for(FREE)

    async def body(limiter: RedisRateLimiter) -> None:
        opened = [await limiter.hit("key_o", free, T0 + i) for i in range(40)]
        assert all(d.allowed and d.degraded and not d.states for d in opened)
        assert "RateLimit" not in opened[0].headers()
        assert (await limiter.hit("key_o", free, T0 + 299.9)).allowed
        fail_open_logs = _messages(caplog)
        assert len(fail_open_logs) == 1
        assert "unavailable" in fail_open_logs[0]
        assert "300 s" in fail_open_logs[0]

        local = [await limiter.hit("key_o", free, T0 + 300) for _ in range(16)]
        assert all(d.degraded for d in local)
        assert [d.allowed for d in local] == [True] * 15 + [False]
        assert local[-1].retry_after == 360.0
        logs = _messages(caplog)
        assert len(logs) == 2
        assert "limiting in this process only" in logs[1]

    with caplog.at_level(logging.WARNING, logger=LOGGER):
        run_with(down, prefix, body, fail_open_seconds=300)


def test_no_fail_open_period_limits_locally_at_once(
    redis_url: str, prefix: str, caplog: pytest.LogCaptureFixture
) -> None:
    """With a fail-open period of 0 the process-local limit applies from the first request."""
    down = f"redis://127.0.0.1:{free_port()}/0"

    async def body(limiter: RedisRateLimiter) -> None:
        decisions = [await limiter.hit("key_z", policies_for(FREE), T0) for _ in range(16)]
        assert [d.allowed for d in decisions] == [True] * 15 + [False]

    with caplog.at_level(logging.WARNING, logger=LOGGER):
        run_with(down, prefix, body, fail_open_seconds=0)
    assert len(_messages(caplog)) == 2


def test_a_redis_that_refuses_the_script_fails_open(
    redis_url: str, prefix: str, caplog: pytest.LogCaptureFixture
) -> None:
    """Redis answering with an error (here an ACL denial) is an outage too, not a 500."""
    admin = redis.Redis.from_url(redis_url)
    user = f"crosspost_test_{secrets.token_hex(4)}"
    admin.acl_setuser(
        user,
        enabled=True,
        passwords=["+pw"],
        keys=["*"],
        commands=["+@all", "-eval", "-evalsha", "-script"],
    )
    parts = urlsplit(redis_url)
    denied = urlunsplit(parts._replace(netloc=f"{user}:pw@{parts.hostname}:{parts.port or 6379}"))

    async def body(limiter: RedisRateLimiter) -> None:
        decision = await limiter.hit("key_acl", policies_for(FREE), T0)
        assert decision.allowed and decision.degraded

    try:
        with caplog.at_level(logging.WARNING, logger=LOGGER):
            run_with(denied, prefix, body)
    finally:
        admin.acl_deluser(user)
        admin.close()
    assert "NoPermissionError" in _messages(caplog)[0]


def test_shared_limits_resume_when_redis_answers_again(
    redis_url: str, prefix: str, caplog: pytest.LogCaptureFixture
) -> None:
    """Redis drops away behind a proxy and comes back: the limiter fails open, goes local,
    then counts in Redis again, where the requests made before the outage are still known."""
    free = policies_for(FREE)

    async def main() -> None:
        proxy = await TcpProxy.start(redis_url)
        via_proxy = RedisRateLimiter(proxy.url, prefix=prefix, fail_open_seconds=300)
        direct = RedisRateLimiter(redis_url, prefix=prefix, fail_open_seconds=300)
        try:
            before = [await via_proxy.hit("key_b", free, T0) for _ in range(3)]
            assert before[-1].state("hourly").remaining == 12

            await proxy.stop()
            outage = await via_proxy.hit("key_b", free, T0 + 1)
            assert outage.allowed and outage.degraded
            local = await via_proxy.hit("key_b", free, T0 + 400)
            assert local.degraded and local.state("hourly").remaining == 14

            await proxy.resume()
            # Within the probe interval the limiter does not ask Redis yet.
            assert (await via_proxy.hit("key_b", free, T0 + 400.5)).degraded
            back = await via_proxy.hit("key_b", free, T0 + 402)
            assert not back.degraded
            # Redis still holds the 3 made before the outage: 12 left then, 402 s of refill
            # since (one per 360 s), minus this one; the local requests are forgotten.
            assert back.state("hourly").remaining == 12
            seen = await direct.hit("key_b", free, T0 + 402)
            assert seen.state("hourly").remaining == 11
        finally:
            await via_proxy.aclose()
            await direct.aclose()
            await proxy.stop()

    with caplog.at_level(logging.WARNING, logger=LOGGER):
        asyncio.run(main())
    logs = _messages(caplog)
    assert "unavailable" in logs[0]
    assert "answers again" in logs[-1]


def test_a_down_redis_is_not_asked_on_every_request(redis_url: str, prefix: str) -> None:
    """During an outage only one request per probe interval tries Redis; the rest answer
    without waiting on a connection."""
    free = policies_for(FREE)

    async def main() -> None:
        proxy = await TcpProxy.start(redis_url)
        limiter = RedisRateLimiter(proxy.url, prefix=prefix, fail_open_seconds=300, probe_seconds=5)
        try:
            await proxy.stop()
            decisions: list[Decision] = [await limiter.hit("key_q", free, T0)]
            await proxy.resume()
            decisions += [await limiter.hit("key_q", free, T0 + i / 10) for i in range(1, 49)]
            assert all(d.degraded for d in decisions)
            assert proxy.connections == 0  # nobody dialled the revived Redis before T0 + 5
            assert not (await limiter.hit("key_q", free, T0 + 5)).degraded
            assert proxy.connections > 0
        finally:
            await limiter.aclose()
            await proxy.stop()

    asyncio.run(main())


def _messages(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.name == LOGGER]


class TcpProxy:
    """A loopback TCP relay to the real Redis that can be cut and restored (an outage)."""

    def __init__(self, redis_url: str) -> None:
        parts = urlsplit(redis_url)
        self.target = (parts.hostname or "127.0.0.1", parts.port or 6379)
        self.port = free_port()
        # Same credentials and database, another address.
        user = parts.netloc.rpartition("@")[0]
        netloc = f"{user}@127.0.0.1:{self.port}" if user else f"127.0.0.1:{self.port}"
        self.url = urlunsplit(parts._replace(netloc=netloc))
        self.connections = 0
        self._server: asyncio.Server | None = None
        self._writers: set[asyncio.StreamWriter] = set()

    @classmethod
    async def start(cls, redis_url: str) -> TcpProxy:
        """Listen on a free port, relaying to `redis_url`'s server."""
        proxy = cls(redis_url)
        await proxy.resume()
        return proxy

    async def resume(self) -> None:
        """Accept connections again."""
        self.connections = 0
        self._server = await asyncio.start_server(
            self._relay, "127.0.0.1", self.port, reuse_address=True
        )

    async def stop(self) -> None:
        """Refuse new connections and cut the open ones."""
        if self._server is not None:
            self._server.close()
            self._server = None
        for writer in list(self._writers):
            writer.close()
        self._writers.clear()

    async def _relay(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        up_reader, up_writer = await asyncio.open_connection(*self.target)
        self._writers |= {writer, up_writer}

        async def pump(src: asyncio.StreamReader, dst: asyncio.StreamWriter) -> None:
            try:
                while data := await src.read(65536):
                    dst.write(data)
                    await dst.drain()
            except (ConnectionError, OSError):
                pass
            finally:
                dst.close()

        await asyncio.gather(pump(reader, up_writer), pump(up_reader, writer))


def test_a_nonce_with_the_limit_is_one_script_that_fails_closed(
    redis_url: str, prefix: str
) -> None:
    """`admit` records a nonce and counts the hit together; a reused nonce counts nothing;
    with Redis down, a nonce is refused (503) while hits without one fail open."""
    free = policies_for(FREE)
    nonces = RedisNonceStore.from_url(redis_url)
    nonce = Nonce(f"{prefix}n1", 600)

    async def body(limiter: RedisRateLimiter) -> None:
        first = await admit(limiter, nonces, "key_n", free, T0, nonce)
        assert first.fresh and first.decision is not None and first.decision.allowed
        again = await admit(limiter, nonces, "key_n", free, T0 + 1, nonce)
        assert not again.fresh and again.decision is None
        # Only the first counted: the next new nonce sees one unit used, not two.
        second = await admit(limiter, nonces, "key_n", free, T0 + 1, Nonce(f"{prefix}n2", 600))
        used = second.decision
        assert used is not None and used.binding is not None
        assert used.binding.remaining == used.binding.policy.burst - 2

    run_with(redis_url, prefix, body)
    down = f"redis://127.0.0.1:{free_port()}/0"
    unreachable = RedisNonceStore.from_url(down)

    async def refused(limiter: RedisRateLimiter) -> None:
        for _ in range(2):  # the combined script, then (limiter degraded) the store alone
            with pytest.raises(NonceStoreUnavailable):
                await admit(limiter, unreachable, "key_d", free, T0, Nonce("n3", 600))
        assert not limiter.shared
        opened = await admit(limiter, unreachable, "key_d", free, T0, None)
        assert opened.fresh and opened.decision is not None and opened.decision.degraded

    run_with(down, prefix, refused)
    asyncio.run(nonces.close())
    asyncio.run(unreachable.close())
