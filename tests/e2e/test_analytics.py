"""API analytics over real HTTP: exact counts, statuses and bytes for a known set of
requests, percentiles within the measured latencies, range checks and tenant isolation; and
the middleware's own cost."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest

from crosspost.domain.enums import Mode
from crosspost.engine.keys import issue_key
from crosspost.identity.operators import issue as issue_operator_key
from crosspost.store.tables import tenants
from tests.e2e.conftest import Stack, wait_until


def _iso(when: datetime) -> str:
    return when.isoformat()


def _analytics(client: httpx.Client, **params: str) -> httpx.Response:
    return client.get("/v1/analytics", params=params)


def _by_group(report: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {g["group"]: g for g in report["data"]}


def test_analytics_accuracy(make_stack: Callable[..., Stack]) -> None:
    """A known set of requests comes back exactly: per endpoint, status and key, with every
    byte counted and percentiles ordered and within what the client measured."""
    stack = make_stack(workers=0, analytics_flush_seconds=0.05)
    since = datetime.now(UTC) - timedelta(seconds=1)
    measured: dict[str, list[float]] = {}
    sizes: dict[str, list[tuple[int, int]]] = {}
    statuses: list[int] = []

    def call(group: str, method: str, path: str, body: dict[str, Any] | None = None) -> None:
        content = json.dumps(body).encode() if body is not None else b""
        headers = {"Content-Type": "application/json"} if body is not None else {}
        started = time.perf_counter()
        response = stack.http.request(method, path, content=content, headers=headers)
        measured.setdefault(group, []).append((time.perf_counter() - started) * 1000)
        sizes.setdefault(group, []).append((len(content), len(response.content)))
        statuses.append(response.status_code)

    for _ in range(5):
        call("GET /v1/posts", "GET", "/v1/posts")
    for _ in range(3):
        call("GET /v1/posts/{post_id}", "GET", "/v1/posts/post_missing")
    call("POST /v1/posts", "POST", "/v1/posts", {"text": "hello", "targets": ["x"]})
    for _ in range(2):
        call("POST /v1/posts", "POST", "/v1/posts", {"text": "bad", "targets": []})
    call("GET /v1/usage", "GET", "/v1/usage")
    # Unauthenticated and unmatched requests belong to no tenant: not in this report.
    httpx.get(f"{stack.api_url}/v1/posts")
    stack.http.get("/v1/no-such-route")
    until = datetime.now(UTC)
    expected_total = sum(len(v) for v in measured.values())
    window = {"from": _iso(since), "to": _iso(until)}

    report = _wait_for_rows(stack, window, expected_total)
    assert report["group_by"] == "endpoint"
    groups = _by_group(report)
    assert set(groups) == set(measured)
    for name, latencies in measured.items():
        group = groups[name]
        assert group["requests"] == len(latencies), name
        assert group["request_bytes"] == sum(s[0] for s in sizes[name]), name
        assert group["response_bytes"] == sum(s[1] for s in sizes[name]), name
        assert 0 < group["p50_ms"] <= group["p95_ms"] <= group["p99_ms"], group
        # The server's time is part of the client's: never more than the slowest round trip.
        assert group["p99_ms"] <= max(latencies), (group, latencies)
    assert groups["GET /v1/posts"]["errors"] == 0
    assert groups["GET /v1/posts/{post_id}"]["errors"] == 3
    assert groups["POST /v1/posts"]["errors"] == 2

    by_status = _by_group(_analytics(stack.http, group_by="status", **window).json())
    counted = {int(code): g["requests"] for code, g in by_status.items()}
    expected_statuses = {s: statuses.count(s) for s in set(statuses)}
    assert counted == expected_statuses == {200: 6, 404: 3, 201: 1, 422: 2}
    assert by_status["404"]["errors"] == 3 and by_status["200"]["errors"] == 0

    by_key = _analytics(stack.http, group_by="key", **window).json()["data"]
    assert [(g["group"][:4], g["requests"]) for g in by_key] == [("key_", expected_total)]


def _wait_for_rows(stack: Stack, window: dict[str, str], total: int) -> dict[str, Any]:
    """Poll the report until the window holds `total` requests (the flusher runs every
    50 ms); more than `total` is a failure, not a reason to wait."""
    deadline = time.monotonic() + 15
    while True:
        response = _analytics(stack.http, **window)
        assert response.status_code == 200, response.text
        report: dict[str, Any] = response.json()
        seen = sum(g["requests"] for g in report["data"])
        if seen >= total:
            assert seen == total, report
            return report
        if time.monotonic() > deadline:
            pytest.fail(f"only {seen} of {total} requests reached analytics: {report}")
        time.sleep(0.05)


def test_range_and_grouping_are_checked(make_stack: Callable[..., Stack]) -> None:
    """Bad times, reversed or too long ranges and unknown groupings get a 422 that says what
    to send; the default range is the last 24 h."""
    stack = make_stack(workers=0)
    default = _analytics(stack.http)
    assert default.status_code == 200
    body = default.json()
    span = datetime.fromisoformat(body["to"]) - datetime.fromisoformat(body["from"])
    assert span == timedelta(hours=24)
    for params, code, words in (
        ({"from": "yesterday"}, "invalid_time_range", "ISO 8601"),
        ({"from": "2026-11-02", "to": "2026-11-01"}, "invalid_time_range", "must be before"),
        ({"from": "2026-01-01", "to": "2026-03-01"}, "invalid_time_range", "31 days at most"),
        ({"group_by": "country"}, "validation_error", "endpoint"),
    ):
        response = _analytics(stack.http, **params)
        assert response.status_code == 422, params
        assert response.json()["code"] == code
        assert words in response.json()["detail"]


def test_tenants_see_only_their_own_requests(make_stack: Callable[..., Stack]) -> None:
    """Another tenant's report is empty however busy this one is; a key without
    `usage:read` is refused; the operator's report (GET /v1/admin/analytics) holds both."""
    stack = make_stack(workers=0, analytics_flush_seconds=0.05)
    since = datetime.now(UTC) - timedelta(seconds=1)
    for _ in range(3):
        assert stack.http.get("/v1/posts").status_code == 200
    window = {"from": _iso(since), "to": _iso(datetime.now(UTC))}
    _wait_for_rows(stack, window, 3)
    with stack.svc.db.write() as conn:
        conn.execute(
            tenants.insert(),
            {"id": "ten_b", "name": "b", "is_default": False, "created_at": stack.svc.clock.now()},
        )
    _, reader = issue_key(
        stack.svc, tenant_id="ten_b", name="b", mode=Mode.TEST, scopes=("usage:read",)
    )
    _, writer = issue_key(
        stack.svc, tenant_id="ten_b", name="w", mode=Mode.TEST, scopes=("posts:read",)
    )
    with httpx.Client(base_url=stack.api_url, headers={"Authorization": f"Bearer {reader}"}) as c:
        assert _analytics(c, **window).json()["data"] == []
    with httpx.Client(base_url=stack.api_url, headers={"Authorization": f"Bearer {writer}"}) as c:
        denied = _analytics(c, **window)
        assert denied.status_code == 403
        assert denied.json()["code"] == "insufficient_scope"
    # The operator's report spans both tenants (the operator's own calls are no tenant's);
    # a tenant's key cannot read it, and a tenant's key ids are not a grouping there.
    _, raw = issue_operator_key(stack.svc, name="ops")
    operator = {"Authorization": f"Bearer {raw}"}
    window = {"from": window["from"], "to": _iso(datetime.now(UTC) + timedelta(seconds=5))}
    with httpx.Client(base_url=stack.api_url, headers=operator) as ops:

        def both() -> dict[str, dict[str, Any]] | None:
            answer = ops.get("/v1/admin/analytics", params=window)
            assert answer.status_code == 200, answer.text
            groups = _by_group(answer.json())
            return groups if groups.get("ten_b", {}).get("requests") == 2 else None

        groups = wait_until("tenant B's two requests in the operator's report", both)
        assert groups["ten_b"]["errors"] == 1
        assert set(groups) == {"ten_b", stack.tenant_id} and groups[stack.tenant_id]["requests"] > 3
        only_b = ops.get("/v1/admin/analytics", params={**window, "tenant_id": "ten_b",
                                                         "group_by": "status"}).json()  # fmt: skip
        assert {g["group"]: g["requests"] for g in only_b["data"]} == {"200": 1, "403": 1}
        assert ops.get("/v1/admin/analytics", params={"group_by": "key"}).status_code == 422
    refused = stack.http.get("/v1/admin/analytics")
    assert refused.status_code == 403, refused.text
