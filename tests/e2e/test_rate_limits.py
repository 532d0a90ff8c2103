"""Rate limits over real HTTP: exact counts at the boundary, headers on every answer, a
problem+json 429 with Retry-After, and one shared limit across two API processes (Redis)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime

import httpx

from crosspost.api.app import create_app
from crosspost.clock import FrozenClock
from crosspost.domain.enums import Mode
from crosspost.engine.keys import issue_key
from crosspost.fakes.server import serve_in_thread
from tests.conftest import REDIS_ENV, service_url
from tests.e2e.conftest import Stack

LIMITS = {"requests_per_hour": 3, "requests_per_day": 100, "burst": 3}


def _limited_key(stack: Stack, **limits: int) -> str:
    _, key = issue_key(
        stack.svc,
        tenant_id=stack.tenant_id,
        name="limited",
        mode=Mode.TEST,
        rate_limits={**LIMITS, **limits},
    )
    return key


def test_the_burst_passes_the_next_request_waits_exactly(make_stack: Callable[..., Stack]) -> None:
    """Three at once pass, the fourth is 429 for 1200 s; 1200 s later exactly one passes."""
    clock = FrozenClock(datetime.now(UTC))
    stack = make_stack(workers=0, clock=clock)
    key = _limited_key(stack)
    with httpx.Client(base_url=stack.api_url, headers={"Authorization": f"Bearer {key}"}) as c:
        answers = [c.get("/v1/posts") for _ in range(3)]
        assert [a.status_code for a in answers] == [200, 200, 200]
        assert answers[0].headers["ratelimit-policy"] == (
            '"hourly";q=3;w=3600, "daily";q=100;w=86400'
        )
        assert [a.headers["x-ratelimit-remaining"] for a in answers] == ["2", "1", "0"]
        refused = c.get("/v1/posts")
        assert refused.status_code == 429
        assert refused.headers["content-type"] == "application/problem+json"
        assert refused.json()["code"] == "rate_limited"
        assert refused.headers["retry-after"] == "1200"
        assert refused.json()["violated-policies"] == ["hourly"]
        clock.advance(1199)
        assert c.get("/v1/posts").status_code == 429
        clock.advance(1)
        assert c.get("/v1/posts").status_code == 200
        assert c.get("/v1/posts").status_code == 429
    # Keys without a tier are not limited, and carry no rate-limit headers.
    unlimited = [stack.http.get("/v1/posts") for _ in range(10)]
    assert {a.status_code for a in unlimited} == {200}
    assert "ratelimit" not in unlimited[-1].headers


def test_tiers_apply_and_bad_limits_are_refused(stack: Stack) -> None:
    """A free key gets the free policy; an unknown tier or a zero limit is a clear 422."""
    made = stack.http.post("/v1/keys", json={"name": "f", "tier": "free"}).json()
    with httpx.Client(
        base_url=stack.api_url, headers={"Authorization": f"Bearer {made['key']}"}
    ) as c:
        first = c.get("/v1/posts")
        assert first.headers["x-ratelimit-limit"] == "15"
        assert first.headers["ratelimit-policy"].startswith('"hourly";q=10;w=3600')
    bad = stack.http.post(
        "/v1/keys",
        json={"name": "b", "rate_limits": {"requests_per_hour": 1, "requests_per_day": 1,
                                           "burst": 10**7}},
    )  # fmt: skip
    assert (bad.status_code, bad.json()["code"]) == (422, "invalid_rate_limits")
    patched = stack.http.patch(f"/v1/keys/{made['id']}", json={"tier": "pro"})
    assert patched.status_code == 200 and patched.json()["tier"] == "pro"


def test_two_api_processes_share_one_limit_through_redis(
    make_stack: Callable[..., Stack],
) -> None:
    """Requests spread over two API servers with their own limiters: five pass in all."""
    redis_url = service_url(REDIS_ENV)
    stack = make_stack(workers=0, redis_url=redis_url)
    second = serve_in_thread(create_app(stack.svc))
    key = _limited_key(stack, burst=5, requests_per_hour=5)
    try:
        statuses = []
        for i in range(12):
            base = stack.api_url if i % 2 else second.url
            statuses.append(
                httpx.get(
                    f"{base}/v1/posts", headers={"Authorization": f"Bearer {key}"}
                ).status_code
            )
        assert statuses.count(200) == 5 and statuses.count(429) == 7
    finally:
        second.stop()
