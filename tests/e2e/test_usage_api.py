"""Usage metering and quotas over real HTTP, on SQLite and PostgreSQL."""

from __future__ import annotations

import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
import sqlalchemy as sa

from crosspost.domain.enums import Mode
from crosspost.engine.keys import issue_key
from crosspost.media.samples import make_video
from crosspost.store.tables import ledger_events, media, posts, tenants
from tests.e2e.conftest import Stack

FINAL = {"published", "partially_published", "failed", "cancelled"}


def _month() -> str:
    return datetime.now(UTC).strftime("%Y-%m")


def _client(stack: Stack, key: str) -> httpx.Client:
    return httpx.Client(base_url=stack.api_url, headers={"Authorization": f"Bearer {key}"})


def _other_tenant(stack: Stack, **options: Any) -> tuple[str, str]:
    """A second tenant with its own key: (tenant id, key)."""
    tenant_id = "ten_other"
    with stack.svc.db.write() as conn:
        conn.execute(
            tenants.insert(),
            {
                "id": tenant_id,
                "name": "other",
                "is_default": False,
                "created_at": stack.svc.clock.now(),
            },
        )
    _, key = issue_key(stack.svc, tenant_id=tenant_id, name="other", mode=Mode.TEST, **options)
    return tenant_id, key


def _put_quota(stack: Stack, **body: Any) -> httpx.Response:
    return stack.http.put("/v1/usage/quotas", json=body)


def _usage(stack: Stack, **params: str) -> dict[str, Any]:
    response = stack.http.get("/v1/usage", params=params)
    assert response.status_code == 200, response.text
    return dict(response.json())


def _wait_for(
    what: str, read: Callable[[], Any], done: Callable[[Any], bool], timeout: float = 15.0
) -> Any:
    deadline = time.monotonic() + timeout
    value = read()
    while not done(value):
        if time.monotonic() > deadline:
            pytest.fail(f"{what} did not happen in {timeout} s; last seen: {value}")
        time.sleep(0.05)
        value = read()
    return value


def _threshold_events(stack: Stack, tenant_id: str) -> list[dict[str, Any]]:
    with stack.svc.db.read() as conn:
        rows = conn.execute(
            sa.select(ledger_events.c.data).where(
                ledger_events.c.tenant_id == tenant_id,
                ledger_events.c.event_type == "usage.threshold",
            )
        )
        return [dict(r.data) for r in rows]


def test_usage_report_after_publishing(make_stack: Callable[..., Stack], tmp_path: Path) -> None:
    """Upload, post to two platforms, publish through the sandbox: every metric is counted
    once, for the tenant and for the key, and API calls follow within a flush."""
    stack = make_stack(analytics_flush_seconds=0.05)
    uploaded = stack.upload_video(tmp_path, seconds=3.0)
    created = stack.http.post(
        "/v1/posts",
        json={"media_id": uploaded["id"], "text": "metered", "targets": ["youtube", "tiktok"]},
    )
    assert created.status_code == 201, created.text
    assert "X-Usage-Warning" not in created.headers
    post = stack.wait_post(created.json()["id"], lambda p: p["status"] in FINAL)
    assert post["status"] == "published", post
    minutes = round(uploaded["duration_seconds"] / 60, 2)
    expected = {
        "posts": 1,
        "posts_published": 1,
        "targets_published": 2,
        "bytes_uploaded": uploaded["size_bytes"],
        "media_minutes": minutes,
    }
    report = _wait_for(
        "the usage report",
        lambda: _usage(stack),
        lambda r: r["tenant"]["posts_published"] == 1 and r["tenant"]["api_calls"] >= 3,
    )
    assert report["period"] == _month()
    assert {k: report["tenant"][k] for k in expected} == expected
    assert minutes == pytest.approx(0.05, abs=0.01)
    [key] = report["keys"]
    assert key["key_id"].startswith("key_")
    assert {k: key["metrics"][k] for k in expected} == expected
    assert report["quotas"] == []
    # An explicit period reads that month; another month is empty.
    assert _usage(stack, period=_month())["tenant"]["posts"] == 1
    empty = _usage(stack, period="2020-01")
    assert set(empty["tenant"].values()) == {0} and empty["keys"] == []


def test_soft_limit_warns_in_a_header_and_records_one_event(
    make_stack: Callable[..., Stack],
) -> None:
    """Past the soft limit every creating response carries X-Usage-Warning; the
    `usage.threshold` ledger event is recorded once."""
    stack = make_stack(workers=0)
    put = _put_quota(stack, metric="posts", soft_limit=2, hard_limit=10)
    assert put.status_code == 200, put.text
    assert put.json() == {
        "period": _month(),
        "data": [
            {
                "metric": "posts",
                "key_id": None,
                "set_by": "tenant",
                "soft_limit": 2,
                "hard_limit": 10,
                "used": 0,
            }
        ],
    }
    warnings = []
    for i in range(3):
        response = stack.http.post("/v1/posts", json={"text": f"post {i}", "targets": ["x"]})
        assert response.status_code == 201, response.text
        warnings.append(response.headers.get("X-Usage-Warning"))
    month = _month()
    assert warnings == [
        None,
        f"posts 2/2 (soft limit) for {month}",
        f"posts 3/2 (soft limit) for {month}",
    ]
    assert _threshold_events(stack, stack.tenant_id) == [
        {"metric": "posts", "period": month, "used": 2, "soft_limit": 2, "hard_limit": 10}
    ]
    quotas = stack.http.get("/v1/usage/quotas").json()
    assert quotas["data"] == [
        {"metric": "posts", "key_id": None, "set_by": "tenant", "soft_limit": 2,
         "hard_limit": 10, "used": 3}
    ]  # fmt: skip


def test_hard_limit_answers_402_and_creates_nothing(make_stack: Callable[..., Stack]) -> None:
    """The post past the hard limit is refused with a problem naming the quota; a retry with
    the same Idempotency-Key works once the quota is raised."""
    stack = make_stack(workers=0)
    assert _put_quota(stack, metric="posts", hard_limit=1).status_code == 200
    first = stack.http.post("/v1/posts", json={"text": "one", "targets": ["x"]})
    assert first.status_code == 201, first.text
    refused = stack.http.post(
        "/v1/posts", json={"text": "two", "targets": ["x"]}, headers={"Idempotency-Key": "k-2"}
    )
    assert refused.status_code == 402
    assert refused.headers["content-type"].startswith("application/problem+json")
    body = refused.json()
    assert body["code"] == "quota_exceeded"
    assert body["type"] == "/docs/errors#quota_exceeded"
    assert (body["quota"], body["limit"], body["used"], body["period"]) == (
        "posts",
        1,
        1,
        _month(),
    )
    assert "PUT /v1/usage/quotas" in body["detail"]
    with stack.svc.db.read() as conn:
        assert conn.execute(sa.select(sa.func.count()).select_from(posts)).scalar() == 1
    assert _usage(stack)["tenant"]["posts"] == 1
    assert _put_quota(stack, metric="posts", hard_limit=2).status_code == 200
    retried = stack.http.post(
        "/v1/posts", json={"text": "two", "targets": ["x"]}, headers={"Idempotency-Key": "k-2"}
    )
    assert retried.status_code == 201, retried.text
    assert _usage(stack)["tenant"]["posts"] == 2


def test_fifty_parallel_posts_against_a_hard_limit_of_twenty(
    make_stack: Callable[..., Stack],
) -> None:
    """50 concurrent POST /v1/posts: exactly 20 are created, 30 refused with 402."""
    stack = make_stack(workers=0)
    assert _put_quota(stack, metric="posts", hard_limit=20).status_code == 200

    def create(i: int) -> int:
        with _client(stack, stack.key) as client:
            return client.post(
                "/v1/posts", json={"text": f"parallel {i}", "targets": ["x"]}, timeout=60
            ).status_code

    with ThreadPoolExecutor(max_workers=50) as pool:
        statuses = list(pool.map(create, range(50)))
    assert statuses.count(201) == 20, statuses
    assert statuses.count(402) == 30, statuses
    assert _usage(stack)["tenant"]["posts"] == 20
    listed = stack.http.get("/v1/posts", params={"limit": 100}).json()["data"]
    assert len(listed) == 20


def test_upload_quota_and_idempotent_upload(
    make_stack: Callable[..., Stack], tmp_path: Path
) -> None:
    """A file over the byte quota is refused before it is stored; an upload retried with the
    same Idempotency-Key answers the first media, a different file under it (or a malformed
    key) is refused, and no refused upload leaves a file behind."""
    stack = make_stack(workers=0)
    clip = tmp_path / "clip.mp4"
    make_video(clip, seconds=1.0)
    data = clip.read_bytes()
    headers = {"Content-Type": "video/mp4", "X-Filename": "clip.mp4"}
    assert _put_quota(stack, metric="bytes_uploaded", hard_limit=len(data) - 1).status_code == 200
    refused = stack.http.post("/v1/media", content=data, headers=headers)
    assert refused.status_code == 402, refused.text
    assert refused.json()["quota"] == "bytes_uploaded"
    with stack.svc.db.read() as conn:
        assert conn.execute(sa.select(sa.func.count()).select_from(media)).scalar() == 0
    assert _put_quota(stack, metric="bytes_uploaded", hard_limit=10 * len(data)).status_code == 200
    keyed = {**headers, "Idempotency-Key": "upload-1"}
    first = stack.http.post("/v1/media", content=data, headers=keyed)
    assert first.status_code == 201, first.text
    again = stack.http.post("/v1/media", content=data, headers=keyed)
    assert again.status_code == 201
    assert again.headers.get("Idempotent-Replayed") == "true"
    assert again.json()["id"] == first.json()["id"]
    other = stack.http.post("/v1/media", content=data + b"\0", headers=keyed)
    assert other.status_code == 422
    assert other.json()["code"] == "idempotency_key_reused"
    # A multipart retry has a new boundary but the same file: still a replay.
    multipart = [
        stack.http.post(
            "/v1/media",
            files={"file": ("clip.mp4", data, "video/mp4")},
            headers={"Idempotency-Key": "upload-multipart"},
        )
        for _ in range(2)
    ]
    assert [r.status_code for r in multipart] == [201, 201]
    assert multipart[1].headers.get("Idempotent-Replayed") == "true"
    assert multipart[0].json()["id"] == multipart[1].json()["id"] != first.json()["id"]
    bad_key = stack.http.post(
        "/v1/media", content=data, headers={**headers, "Idempotency-Key": "x" * 256}
    )
    assert bad_key.status_code == 422
    assert bad_key.json()["code"] == "invalid_idempotency_key"
    with stack.svc.db.read() as conn:
        assert conn.execute(sa.select(sa.func.count()).select_from(media)).scalar() == 2
    report = _usage(stack)["tenant"]
    assert report["bytes_uploaded"] == 2 * len(data)
    assert report["media_minutes"] == round(2 * first.json()["duration_seconds"] / 60, 2)
    leftovers = stack.stored_everything()
    assert len(leftovers) == 2, leftovers  # replays and refusals kept no file


def test_api_calls_hard_limit_refuses_until_raised(make_stack: Callable[..., Stack]) -> None:
    """Once a flush counts the tenant to its api_calls hard limit, calls get 402 — but the
    usage routes stay open, and raising the limit lets calls through again."""
    stack = make_stack(workers=0, analytics_flush_seconds=0.05)
    assert _put_quota(stack, metric="api_calls", hard_limit=5).status_code == 200
    _wait_for(
        "the api_calls limit",
        lambda: stack.http.get("/v1/posts").status_code,
        lambda status: status == 402,
    )
    refused = stack.http.get("/v1/posts")
    assert refused.status_code == 402
    assert refused.json()["quota"] == "api_calls"
    used = _usage(stack)["tenant"]["api_calls"]
    assert used >= 5
    assert _put_quota(stack, metric="api_calls", hard_limit=used + 100).status_code == 200
    assert stack.http.get("/v1/posts").status_code == 200


def test_bad_input_and_permissions(make_stack: Callable[..., Stack]) -> None:
    """Bad periods, unknown metrics, soft above hard and missing scopes are refused with
    what to change."""
    stack = make_stack(workers=0)
    for period in ("2026-13", "2026-1", "november", "2026/11"):
        response = stack.http.get("/v1/usage", params={"period": period})
        assert response.status_code == 422, period
        assert response.json()["code"] == "invalid_period"
        assert "e.g. 2026-11" in response.json()["detail"]
    cases = [
        ({"metric": "tweets", "hard_limit": 1}, "unknown_metric", "valid metrics: posts"),
        ({"metric": "posts", "soft_limit": 5, "hard_limit": 2}, "invalid_quota", "above"),
        ({"metric": "posts_published", "hard_limit": 2}, "invalid_quota", "only a soft limit"),
        ({"metric": "posts", "hard_limit": -1}, "validation_error", "hard_limit: must be a whole"),
        ({"metric": "posts", "limit": 3}, "validation_error", "Extra inputs"),
    ]
    for body, code, words in cases:
        response = _put_quota(stack, **body)
        assert response.status_code == 422, body
        assert response.json()["code"] == code, response.json()
        assert words in response.json()["detail"], response.json()
    _, developer = _other_tenant(stack, role=None, scopes=("posts:read", "usage:read"))
    with _client(stack, developer) as client:
        denied = client.put("/v1/usage/quotas", json={"metric": "posts", "hard_limit": 1})
        assert denied.status_code == 403
        assert denied.json()["code"] == "insufficient_scope"
        assert client.get("/v1/usage").status_code == 200


def test_tenants_see_only_their_own_usage(make_stack: Callable[..., Stack]) -> None:
    """Another tenant's counters, keys and quotas never show, nor limit anyone else."""
    stack = make_stack(workers=0)
    assert _put_quota(stack, metric="posts", hard_limit=1).status_code == 200
    assert stack.http.post("/v1/posts", json={"text": "a", "targets": ["x"]}).status_code == 201
    _, key = _other_tenant(stack, scopes=("usage:read", "admin"))
    with _client(stack, key) as client:
        theirs = client.get("/v1/usage").json()
        assert theirs["tenant"]["posts"] == 0
        assert theirs["keys"] == [] and theirs["quotas"] == []
        assert client.get("/v1/usage/quotas").json()["data"] == []
        raised = client.put("/v1/usage/quotas", json={"metric": "posts", "hard_limit": 100})
        assert raised.status_code == 200
    mine = _usage(stack)
    assert mine["quotas"] == [
        {"metric": "posts", "key_id": None, "set_by": "tenant", "soft_limit": None,
         "hard_limit": 1, "used": 1}
    ]  # fmt: skip
    second = stack.http.post("/v1/posts", json={"text": "b", "targets": ["x"]})
    assert second.status_code == 402
