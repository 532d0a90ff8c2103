"""/v1/keys over real HTTP: roles and scopes, escalation refused, roll with overlap,
revoke, idempotent creation, tenant isolation; and the API edge (sizes, types, headers)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime

import httpx
import pytest

from crosspost.clock import FrozenClock
from crosspost.domain.enums import KeyRole, Mode
from crosspost.engine.keys import ROLE_SCOPES, issue_key
from crosspost.ids import new_id
from crosspost.store.tables import tenants
from tests.e2e.conftest import Stack


def _client(stack: Stack, key: str) -> httpx.Client:
    return httpx.Client(base_url=stack.api_url, headers={"Authorization": f"Bearer {key}"})


def _create(stack: Stack, **body: object) -> httpx.Response:
    return stack.http.post("/v1/keys", json={"name": "k", **body})


def test_roles_map_to_scopes_and_scopes_are_enforced(stack: Stack) -> None:
    """A viewer reads but cannot write; its secret appears once and never in listings."""
    made = _create(stack, role="viewer")
    assert made.status_code == 201, made.text
    body = made.json()
    assert body["role"] == "viewer" and body["scopes"] == list(ROLE_SCOPES[KeyRole.VIEWER])
    assert body["key"].startswith("cp_test_") and body["mode"] == "test"
    with _client(stack, body["key"]) as viewer:
        assert viewer.get("/v1/posts").status_code == 200
        denied = viewer.post("/v1/posts", json={"text": "hi", "targets": ["x"]})
        assert (denied.status_code, denied.json()["code"]) == (403, "insufficient_scope")
        assert viewer.get("/v1/keys").json()["code"] == "insufficient_scope"
    listed = stack.http.get("/v1/keys").json()["data"]
    assert body["id"] in {k["id"] for k in listed}
    assert all("key" not in k for k in listed)
    assert body["key"] not in stack.http.get(f"/v1/keys/{body['id']}").text


def test_bad_key_requests_say_what_to_change(stack: Stack) -> None:
    """Unknown scopes and tiers, a role with scopes, a past expiry: 422 with a code."""
    cases = [
        ({"scopes": ["posts:write", "root"]}, "unknown_scope"),
        ({"role": "viewer", "scopes": ["posts:read"]}, "role_and_scopes"),
        ({"tier": "platinum"}, "unknown_tier"),
        ({"expires_at": "2001-01-01T00:00:00Z"}, "invalid_expiry"),
        ({"rate_limits": {"requests_per_hour": 0, "requests_per_day": 1, "burst": 1}}, None),
    ]
    for body, code in cases:
        answer = _create(stack, **body)
        assert answer.status_code == 422, (body, answer.text)
        assert answer.headers["content-type"] == "application/problem+json"
        if code:
            assert answer.json()["code"] == code, answer.json()


def test_no_key_can_grant_more_than_it_holds(stack: Stack) -> None:
    """A developer cannot manage keys; an admin cannot mint or revoke an owner key."""
    developer = _create(stack, role="developer").json()["key"]
    with _client(stack, developer) as dev:
        assert dev.post("/v1/keys", json={"name": "x"}).json()["code"] == "insufficient_scope"
    admin = _create(stack, role="admin").json()["key"]
    _, owner_id_key = issue_key(
        stack.svc, tenant_id=stack.tenant_id, name="o", mode=Mode.TEST, role=KeyRole.OWNER
    )
    owner_id = stack.http.get("/v1/keys").json()["data"][0]["id"]
    with _client(stack, admin) as adm:
        refused = adm.post("/v1/keys", json={"name": "o2", "role": "owner"})
        assert (refused.status_code, refused.json()["code"]) == (403, "owner_only")
        assert adm.delete(f"/v1/keys/{owner_id}").json()["code"] == "owner_only"
        assert adm.post("/v1/keys", json={"name": "v", "role": "viewer"}).status_code == 201
    with _client(stack, owner_id_key) as owner:
        assert owner.post("/v1/keys", json={"name": "o3", "role": "owner"}).status_code == 201


def test_roll_keeps_the_old_key_for_the_overlap_then_ends_it(
    make_stack: Callable[..., Stack],
) -> None:
    """After a roll both keys work; one second past the overlap only the new one does."""
    clock = FrozenClock(datetime.now(UTC))
    stack = make_stack(workers=0, clock=clock)
    made = _create(stack, role="developer").json()
    rolled = stack.http.post(f"/v1/keys/{made['id']}/roll", json={"overlap_seconds": 3600})
    assert rolled.status_code == 201, rolled.text
    new = rolled.json()
    assert new["id"] != made["id"] and new["scopes"] == made["scopes"]
    old_row = stack.http.get(f"/v1/keys/{made['id']}").json()
    assert old_row["rolled_to"] == new["id"]
    with _client(stack, made["key"]) as old, _client(stack, new["key"]) as fresh:
        assert old.get("/v1/posts").status_code == 200
        assert fresh.get("/v1/posts").status_code == 200
        clock.advance(3601)
        gone = old.get("/v1/posts")
        assert (gone.status_code, gone.json()["code"]) == (401, "api_key_expired")
        assert fresh.get("/v1/posts").status_code == 200
    again = stack.http.post(f"/v1/keys/{made['id']}/roll", json={})
    assert (again.status_code, again.json()["code"]) == (409, "key_already_rolled")


def test_revoke_is_immediate_and_creation_is_idempotent(stack: Stack) -> None:
    """A revoked key is refused at once; a replayed creation answers the same key without
    its secret; another tenant's key is not found."""
    first = _create(stack, role="viewer", name="once")
    replay = stack.http.post("/v1/keys", json={"name": "same"}, headers={"Idempotency-Key": "k-1"})
    again = stack.http.post(  # the name signed-request clients use (seed 002)
        "/v1/keys", json={"name": "same"}, headers={"X-Idempotency-Key": "k-1"}
    )
    assert replay.json()["id"] == again.json()["id"]
    assert replay.json()["key"] and again.json()["key"] is None
    assert again.headers.get("idempotent-replayed") == "true"
    key_id, secret = first.json()["id"], first.json()["key"]
    with _client(stack, secret) as victim:
        assert victim.get("/v1/posts").status_code == 200
        assert stack.http.delete(f"/v1/keys/{key_id}").status_code == 204
        refused = victim.get("/v1/posts")
        assert (refused.status_code, refused.json()["code"]) == (401, "invalid_api_key")
    other = new_id("ten")
    with stack.svc.db.write() as conn:
        conn.execute(
            tenants.insert(),
            {"id": other, "name": "o", "is_default": False, "created_at": stack.svc.clock.now()},
        )
    _, theirs = issue_key(stack.svc, tenant_id=other, name="o", mode=Mode.TEST)
    with _client(stack, theirs) as them:
        assert them.get(f"/v1/keys/{key_id}").status_code == 404
        assert them.delete(f"/v1/keys/{key_id}").status_code == 404
        assert them.post(f"/v1/keys/{key_id}/roll", json={}).status_code == 404
        assert key_id not in them.get("/v1/keys").text


@pytest.mark.parametrize(
    ("headers", "content", "status", "code"),
    [
        ({"Content-Type": "text/plain"}, b"{}", 415, "json_required"),
        ({"Content-Type": "application/json"}, b"{" + b" " * (1024 * 1024 + 1) + b"}", 413,
         "body_too_large"),
        ({"Content-Type": "application/json"}, b'{"text": "a\\u0000b", "targets": ["x"]}',
         422, "nul_character"),
    ],
)  # fmt: skip
def test_edge_refuses_wrong_types_and_oversized_bodies(
    stack: Stack, headers: dict[str, str], content: bytes, status: int, code: str
) -> None:
    """Before any work: a non-JSON body is 415, a body over the limit 413, and text with a
    NUL character (which PostgreSQL cannot store) 422."""
    answer = stack.http.post("/v1/posts", content=content, headers=headers)
    assert (answer.status_code, answer.json()["code"]) == (status, code)
    assert answer.headers["content-type"] == "application/problem+json"


def test_every_answer_carries_security_headers(stack: Stack) -> None:
    """nosniff, DENY, no-referrer on success and on errors; API answers are not cached."""
    for answer in (stack.http.get("/v1/posts"), httpx.get(f"{stack.api_url}/v1/posts")):
        assert answer.headers["x-content-type-options"] == "nosniff"
        assert answer.headers["x-frame-options"] == "DENY"
        assert answer.headers["referrer-policy"] == "no-referrer"
        assert answer.headers["cache-control"] == "no-store"
    nul = stack.http.get("/v1/posts/post_%00")
    assert (nul.status_code, nul.json()["code"]) == (400, "nul_character")


def test_every_key_action_is_in_the_audit_log(stack: Stack) -> None:
    """Create, change, roll and revoke each leave one audit event naming the acting key,
    its address and the key acted on; the log pages and filters by action family."""
    made = stack.http.post("/v1/keys", json={"name": "audited"}).json()
    assert stack.http.patch(f"/v1/keys/{made['id']}", json={"name": "renamed"}).status_code == 200
    rolled = stack.http.post(f"/v1/keys/{made['id']}/roll").json()
    assert stack.http.delete(f"/v1/keys/{rolled['id']}").status_code in (200, 204)
    acting = next(k["id"] for k in stack.http.get("/v1/keys").json()["data"] if k["name"] == "test")
    first = stack.http.get("/v1/audit", params={"action": "key.", "limit": 2}).json()
    second = stack.http.get(
        "/v1/audit", params={"action": "key.", "limit": 2, "cursor": first["next_cursor"]}
    ).json()
    events = list(reversed(first["data"] + second["data"]))
    assert [e["action"] for e in events] == ["key.created", "key.updated", "key.rolled",
                                             "key.revoked"]  # fmt: skip
    assert [e["target_id"] for e in events] == [made["id"], made["id"], made["id"], rolled["id"]]
    assert {(e["actor_type"], e["actor_id"], e["ip"]) for e in events} == {
        ("key", acting, "127.0.0.1")
    }
    assert events[1]["data"]["before"] == {"name": "audited"}
    # Older still: the stack's own key, created at the command line.
    rest = stack.http.get(
        "/v1/audit", params={"action": "key.", "cursor": second["next_cursor"]}
    ).json()
    assert [(e["action"], e["actor_type"], e["target_id"]) for e in rest["data"]] == [
        ("key.created", "cli", acting)
    ]
    assert rest["has_more"] is False
    only = stack.http.get("/v1/audit", params={"action": "key.revoked"}).json()["data"]
    assert [e["target_id"] for e in only] == [rolled["id"]]
