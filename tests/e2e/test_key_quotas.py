"""Quotas on one API key over real HTTP, on SQLite and PostgreSQL: the key's limit and the
tenant's, whichever is stricter, refuse with a 402 naming its scope; the operator's quotas
are fixed for the tenant."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
import sqlalchemy as sa

from crosspost.domain.enums import KeyRole, Mode
from crosspost.engine import tenants
from crosspost.engine.keys import issue_key
from crosspost.identity.audit import Actor
from crosspost.identity.operators import issue as issue_operator_key
from crosspost.media.samples import make_video
from crosspost.store.tables import ledger_events, posts, usage_quotas
from tests.e2e.conftest import Stack, expect_problem


@pytest.fixture
def idle(make_stack: Callable[..., Stack]) -> Stack:
    """A stack without workers: posts stay scheduled, counters change only by requests."""
    return make_stack(workers=0)


@pytest.fixture
def two_keys(idle: Stack) -> Iterator[tuple[Client, Client]]:
    """Two developer keys K1 and K2 of the stack's tenant."""
    made = []
    for name in ("k1", "k2"):
        key_id, raw = issue_key(
            idle.svc, tenant_id=idle.tenant_id, name=name, mode=Mode.TEST, role=KeyRole.DEVELOPER
        )
        made.append(Client(idle, key_id, raw))
    yield made[0], made[1]
    for client in made:
        client.http.close()


class Client:
    """An API key of the stack's tenant: its id and a client sending it."""

    def __init__(self, stack: Stack, key_id: str, raw: str) -> None:
        self.id = key_id
        self.raw = raw
        self.http = httpx.Client(
            base_url=stack.api_url, headers={"Authorization": f"Bearer {raw}"}, timeout=60
        )

    def post(self, text: str) -> httpx.Response:
        """Create a post (to X, scheduled far ahead)."""
        return self.http.post(
            "/v1/posts",
            json={"text": text, "targets": ["x"], "publish_at": "2099-01-01T00:00:00Z"},
        )


def _month() -> str:
    return datetime.now(UTC).strftime("%Y-%m")


def _put(http: httpx.Client, **body: Any) -> httpx.Response:
    return http.put("/v1/usage/quotas", json=body)


def _ok(answer: httpx.Response, status: int = 200) -> dict[str, Any]:
    assert answer.status_code == status, answer.text
    return dict(answer.json())


def _post_count(stack: Stack) -> int:
    with stack.svc.db.read() as conn:
        query = sa.select(sa.func.count()).select_from(posts)
        return int(conn.execute(query.where(posts.c.tenant_id == stack.tenant_id)).scalar_one())


def _key_usage(stack: Stack, key_id: str) -> int:
    report = _ok(stack.http.get("/v1/usage"))
    return int(next((k["metrics"]["posts"] for k in report["keys"] if k["key_id"] == key_id), 0))


def _quota(key_id: str | None, set_by: str = "tenant", **limits: Any) -> dict[str, Any]:
    return {
        "metric": "posts",
        "key_id": key_id,
        "set_by": set_by,
        "soft_limit": None,
        "hard_limit": None,
        **limits,
    }


def test_a_key_quota_refuses_that_key_only(idle: Stack, two_keys: tuple[Client, Client]) -> None:
    """With a hard limit of 1 on K1's posts, K1's second post is refused with 402 naming the
    key and creates nothing; K2 of the same tenant still posts."""
    k1, k2 = two_keys
    _ok(_put(idle.http, metric="posts", key_id=k1.id, hard_limit=1))
    assert k1.post("first").status_code == 201
    refused = k1.post("second")
    body = expect_problem(refused, 402, "quota_exceeded")
    assert (body["scope"], body["key_id"], body["quota"]) == ("key", k1.id, "posts"), body
    assert (body["limit"], body["used"], body["period"]) == (1, 1, _month()), body
    assert k1.id in body["detail"]
    assert _post_count(idle) == 1
    assert _key_usage(idle, k1.id) == 1
    assert _ok(idle.http.get("/v1/usage"))["tenant"]["posts"] == 1  # the total rolled back
    assert k2.post("other key").status_code == 201
    assert k2.post("other key again").status_code == 201
    assert _post_count(idle) == 3


def test_a_stricter_tenant_limit_refuses_first_with_scope_tenant(
    idle: Stack, two_keys: tuple[Client, Client]
) -> None:
    """A tenant-wide hard limit below the key's refuses the key's post with `scope: tenant`
    (and no key_id); the key's looser limit is not what answers."""
    k1, k2 = two_keys
    _ok(_put(idle.http, metric="posts", key_id=k2.id, hard_limit=10))
    _ok(_put(idle.http, metric="posts", hard_limit=2))
    assert k1.post("one").status_code == 201
    assert k2.post("two").status_code == 201
    body = expect_problem(k2.post("three"), 402, "quota_exceeded")
    assert (body["scope"], body["quota"], body["limit"], body["used"]) == (
        "tenant", "posts", 2, 2
    ), body  # fmt: skip
    assert "key_id" not in body, body
    assert _post_count(idle) == 2
    assert _key_usage(idle, k2.id) == 1


def test_bad_key_quotas_are_refused(idle: Stack, two_keys: tuple[Client, Client]) -> None:
    """A key quota on api_calls is 422 `invalid_quota`; an unknown key or another tenant's
    key is 404; nothing is stored for any of them."""
    k1, _ = two_keys
    refused = expect_problem(
        _put(idle.http, metric="api_calls", key_id=k1.id, hard_limit=5), 422, "invalid_quota"
    )
    assert "api_calls" in refused["detail"]
    with idle.svc.db.write() as conn:
        other = tenants.create(idle.svc, conn, name="other", actor=Actor.cli())
    theirs, _ = issue_key(idle.svc, tenant_id=other["id"], name="theirs", mode=Mode.TEST)
    for key_id in (theirs, "key_01NOSUCHKEY000000000000000"):
        expect_problem(
            _put(idle.http, metric="posts", key_id=key_id, hard_limit=1), 404, "not_found"
        )
    assert _ok(idle.http.get("/v1/usage/quotas"))["data"] == []
    with idle.svc.db.read() as conn:
        stored = conn.execute(sa.select(sa.func.count()).select_from(usage_quotas)).scalar_one()
    assert stored == 0  # nor in the other tenant's name


def test_quotas_list_key_quotas_with_what_the_key_used(
    idle: Stack, two_keys: tuple[Client, Client]
) -> None:
    """GET /v1/usage/quotas lists the tenant's quota and each key's, each with its own use."""
    k1, k2 = two_keys
    _ok(_put(idle.http, metric="posts", hard_limit=100))
    _ok(_put(idle.http, metric="posts", key_id=k1.id, soft_limit=5, hard_limit=10))
    _ok(_put(idle.http, metric="posts", key_id=k2.id, hard_limit=20))
    for client, n in ((k1, 2), (k2, 1)):
        for i in range(n):
            assert client.post(f"p{i}").status_code == 201
    listed = _ok(idle.http.get("/v1/usage/quotas"))
    assert listed["period"] == _month()
    expected = [
        _quota(None, hard_limit=100, used=3),
        _quota(k1.id, soft_limit=5, hard_limit=10, used=2),
        _quota(k2.id, hard_limit=20, used=1),
    ]
    key = lambda q: q["key_id"] or ""  # noqa: E731
    assert sorted(listed["data"], key=key) == sorted(expected, key=key)
    assert sorted(_ok(idle.http.get("/v1/usage"))["quotas"], key=key) == sorted(expected, key=key)
    # Removing a key's quota (both limits omitted) leaves the others.
    _ok(_put(idle.http, metric="posts", key_id=k2.id))
    assert {q["key_id"] for q in _ok(idle.http.get("/v1/usage/quotas"))["data"]} == {None, k1.id}


def test_a_key_soft_limit_warns_naming_the_key(
    idle: Stack, two_keys: tuple[Client, Client]
) -> None:
    """Past a key's soft limit that key's responses carry X-Usage-Warning naming it; the
    other key's do not; one `usage.threshold` event records the key."""
    k1, k2 = two_keys
    _ok(_put(idle.http, metric="posts", key_id=k1.id, soft_limit=2))
    headers = [k1.post(f"p{i}").headers.get("X-Usage-Warning") for i in range(3)]
    month = _month()
    assert headers == [
        None,
        f"posts 2/2 (key {k1.id} soft limit) for {month}",
        f"posts 3/2 (key {k1.id} soft limit) for {month}",
    ]
    other = k2.post("other")
    assert other.status_code == 201 and "X-Usage-Warning" not in other.headers
    with idle.svc.db.read() as conn:
        events = list(
            conn.execute(
                sa.select(ledger_events.c.data).where(
                    ledger_events.c.tenant_id == idle.tenant_id,
                    ledger_events.c.event_type == "usage.threshold",
                )
            ).scalars()
        )
    assert events == [
        {
            "metric": "posts",
            "period": month,
            "used": 2,
            "soft_limit": 2,
            "hard_limit": None,
            "key_id": k1.id,
        }
    ]


def test_a_quota_the_operator_set_is_fixed_for_the_tenant(
    idle: Stack, two_keys: tuple[Client, Client]
) -> None:
    """Quotas the operator sets (tenant-wide and on a key) through /v1/admin show
    `set_by: operator`, hold, and the tenant's admin key can neither change nor remove them
    (403 `quota_set_by_operator`)."""
    k1, _ = two_keys
    _, operator_key = issue_operator_key(idle.svc, name="ops")
    with httpx.Client(
        base_url=idle.api_url, headers={"Authorization": f"Bearer {operator_key}"}, timeout=30
    ) as operator:
        url = f"/v1/admin/tenants/{idle.tenant_id}/quotas"
        set_tenant = _ok(operator.put(url, json={"metric": "posts", "hard_limit": 2}))
        assert set_tenant["data"] == [_quota(None, "operator", hard_limit=2, used=0)]
        _ok(operator.put(url, json={"metric": "posts", "key_id": k1.id, "hard_limit": 1}))
        # The operator's route is the operator's: a tenant key is refused there.
        expect_problem(
            idle.http.put(url, json={"metric": "posts", "hard_limit": 99}),
            403,
            "operator_key_required",
        )
    for body in (
        {"metric": "posts", "hard_limit": 100},
        {"metric": "posts", "soft_limit": 1, "hard_limit": 2},
        {"metric": "posts"},  # removing it
        {"metric": "posts", "key_id": k1.id, "hard_limit": 100},
        {"metric": "posts", "key_id": k1.id},
    ):
        expect_problem(_put(idle.http, **body), 403, "quota_set_by_operator")
    listed = _ok(idle.http.get("/v1/usage/quotas"))["data"]
    key = lambda q: q["key_id"] or ""  # noqa: E731
    assert sorted(listed, key=key) == [
        _quota(None, "operator", hard_limit=2, used=0),
        _quota(k1.id, "operator", hard_limit=1, used=0),
    ]
    assert k1.post("one").status_code == 201
    assert expect_problem(k1.post("two"), 402, "quota_exceeded")["scope"] == "key"
    assert (
        idle.http.post(
            "/v1/posts", json={"text": "x", "targets": ["x"], "publish_at": "2099-01-01T00:00:00Z"}
        ).status_code
        == 201
    )
    tenant_refusal = idle.http.post(
        "/v1/posts", json={"text": "y", "targets": ["x"], "publish_at": "2099-01-01T00:00:00Z"}
    )
    assert expect_problem(tenant_refusal, 402, "quota_exceeded")["scope"] == "tenant"
    # A metric the operator did not touch stays the tenant's to set.
    _ok(_put(idle.http, metric="exports", hard_limit=3))


def test_parallel_posts_of_one_key_stop_at_its_hard_limit(
    idle: Stack, two_keys: tuple[Client, Client]
) -> None:
    """8 threads posting with K1 at once under a key hard limit of 3: exactly 3 created,
    5 refused with the key's 402, and the counters say 3."""
    k1, _ = two_keys
    _ok(_put(idle.http, metric="posts", key_id=k1.id, hard_limit=3))

    def create(i: int) -> httpx.Response:
        with httpx.Client(
            base_url=idle.api_url, headers={"Authorization": f"Bearer {k1.raw}"}, timeout=60
        ) as client:
            return client.post(
                "/v1/posts",
                json={"text": f"race {i}", "targets": ["x"], "publish_at": "2099-01-01T00:00:00Z"},
            )

    with ThreadPoolExecutor(max_workers=8) as pool:
        answers = list(pool.map(create, range(8)))
    statuses = sorted(a.status_code for a in answers)
    assert statuses == [201] * 3 + [402] * 5, [a.text for a in answers]
    assert all(a.json()["scope"] == "key" for a in answers if a.status_code == 402)
    assert _post_count(idle) == 3
    assert _key_usage(idle, k1.id) == 3
    assert _ok(idle.http.get("/v1/usage"))["tenant"]["posts"] == 3


def test_a_key_quota_on_uploads_refuses_before_storing(
    idle: Stack, two_keys: tuple[Client, Client], tmp_path: Path
) -> None:
    """A key's bytes_uploaded hard limit below a file's size refuses K1's upload (402, scope
    key) and keeps no file; K2 uploads the same file."""
    k1, k2 = two_keys
    clip = tmp_path / "clip.mp4"
    make_video(clip, seconds=1.0)
    data = clip.read_bytes()
    headers = {"Content-Type": "video/mp4", "X-Filename": "clip.mp4"}
    _ok(_put(idle.http, metric="bytes_uploaded", key_id=k1.id, hard_limit=len(data) - 1))
    for send in (
        lambda: k1.http.post("/v1/media", content=data, headers=headers),
        lambda: k1.http.post("/v1/media", files={"file": ("clip.mp4", data, "video/mp4")}),
    ):
        body = expect_problem(send(), 402, "quota_exceeded")
        assert (body["scope"], body["key_id"], body["quota"]) == ("key", k1.id, "bytes_uploaded")
    assert idle.stored_everything() == []
    assert k2.http.post("/v1/media", content=data, headers=headers).status_code == 201


def test_a_rolled_key_keeps_its_quota(idle: Stack, two_keys: tuple[Client, Client]) -> None:
    """Rolling a key (POST /v1/keys/{id}/roll: a new secret of the same powers) does not
    shed its quota: the replacement is listed with the same limits and is refused past them."""
    k1, _ = two_keys
    _ok(_put(idle.http, metric="posts", key_id=k1.id, hard_limit=1))
    assert k1.post("before the roll").status_code == 201
    rolled = _ok(idle.http.post(f"/v1/keys/{k1.id}/roll", json={}), 201)
    replacement = Client(idle, rolled["id"], rolled["key"])
    try:
        quotas = _ok(idle.http.get("/v1/usage/quotas"))["data"]
        assert rolled["id"] in {q["key_id"] for q in quotas}, quotas
        replacement.post("after the roll")
        body = expect_problem(replacement.post("past the limit"), 402, "quota_exceeded")
        assert body["scope"] == "key", body
    finally:
        replacement.http.close()
