"""/v1/admin/tenants over real HTTP, on SQLite and PostgreSQL: operator keys only, create
(idempotent), list, get, settings, suspend and resume with the workers holding and then
publishing, soft delete and restore, the purge of every row and file of one tenant and
none of another's, and the audit log of it all."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
import sqlalchemy as sa

from crosspost.api.app import create_app
from crosspost.api.streams import ApiServer
from crosspost.clock import FrozenClock
from crosspost.domain.enums import KeyRole, Mode
from crosspost.engine import tenants as lifecycle
from crosspost.engine.keys import issue_key
from crosspost.engine.publish_jobs import dedupe_key
from crosspost.engine.sandbox import provision_sandbox_accounts
from crosspost.fakes.server import serve_in_thread
from crosspost.identity import operators
from crosspost.ids import new_id
from crosspost.media.samples import make_video
from crosspost.store.tables import (
    api_analytics,
    exports,
    jobs,
    ledger_events,
    media,
    metadata,
    targets,
)
from crosspost.store.tables_identity import audit_events
from crosspost.vault.signing_secrets import issue_secret
from tests.e2e.conftest import Stack, expect_problem

ADMIN = "/v1/admin/tenants"
HOOK = "http://127.0.0.1:9/hooks/crosspost"  # test mode may target loopback over http
PROBLEM = "application/problem+json"


# --- helpers -----------------------------------------------------------------------------


@dataclass
class Operator:
    """The operator's key and a client that sends it."""

    key_id: str
    key: str
    http: httpx.Client


def _client(stack: Stack, key: str, *, header: str = "Authorization") -> httpx.Client:
    value = f"Bearer {key}" if header == "Authorization" else key
    return httpx.Client(base_url=stack.api_url, headers={header: value}, timeout=30)


@pytest.fixture
def clients() -> Iterator[list[httpx.Client]]:
    """Clients a test opens, closed after it."""
    opened: list[httpx.Client] = []
    yield opened
    for client in opened:
        client.close()


def _operator(stack: Stack, clients: list[httpx.Client], name: str = "ops") -> Operator:
    row, raw = operators.issue(stack.svc, name=name)
    http = _client(stack, raw)
    clients.append(http)
    return Operator(str(row["id"]), raw, http)


def _tenant_key(
    stack: Stack, clients: list[httpx.Client], tenant_id: str, **options: Any
) -> tuple[str, httpx.Client]:
    """A test-mode key of the tenant (every scope unless a role is given) and its client."""
    key_id, raw = issue_key(stack.svc, tenant_id=tenant_id, name="k", mode=Mode.TEST, **options)
    http = _client(stack, raw)
    clients.append(http)
    return key_id, http


def _create(op: Operator, name: str, **body: Any) -> dict[str, Any]:
    made = op.http.post(ADMIN, json={"name": name, **body})
    assert made.status_code == 201, made.text
    return dict(made.json())


def _act(op: Operator, tenant_id: str, act: str, status: int = 200) -> dict[str, Any]:
    answer = op.http.post(f"{ADMIN}/{tenant_id}/{act}")
    assert answer.status_code == status, answer.text
    return dict(answer.json())


def _wait_for(
    what: str, read: Callable[[], Any], done: Callable[[Any], bool], timeout: float = 30.0
) -> Any:
    """Poll `read` until `done` holds of its value; fail at the deadline with the last one."""
    deadline = time.monotonic() + timeout
    value = read()
    while not done(value):
        if time.monotonic() > deadline:
            pytest.fail(f"{what} did not happen within {timeout} s; last seen: {value!r}")
        time.sleep(0.05)
        value = read()
    return value


def _tenant_tables() -> list[sa.Table]:
    return [t for t in metadata.sorted_tables if "tenant_id" in t.c]


def _counts(stack: Stack, tenant_id: str) -> dict[str, int]:
    """Rows of the tenant in every table with a tenant_id column."""
    with stack.svc.db.read() as conn:
        return {
            t.name: int(
                conn.execute(
                    sa.select(sa.func.count()).select_from(t).where(t.c.tenant_id == tenant_id)
                ).scalar_one()
            )
            for t in _tenant_tables()
        }


def _row_ids(stack: Stack, tenant_id: str) -> dict[str, set[tuple[Any, ...]]]:
    """The primary keys of the tenant's rows, table by table."""
    with stack.svc.db.read() as conn:
        return {
            t.name: {
                tuple(r)
                for r in conn.execute(
                    sa.select(*t.primary_key.columns).where(t.c.tenant_id == tenant_id)
                )
            }
            for t in _tenant_tables()
        }


def _flushed(stack: Stack) -> None:
    """Wait until every request answered so far is in api_analytics: a marker request by a
    fresh key of the default tenant lands there (the recorder writes its buffer in order)."""
    key_id, raw = issue_key(stack.svc, tenant_id=stack.tenant_id, name="marker", mode=Mode.TEST)
    with _client(stack, raw) as marker:
        assert marker.get("/v1/posts", params={"limit": 1}).status_code == 200

    def seen() -> int:
        with stack.svc.db.read() as conn:
            query = sa.select(sa.func.count()).where(api_analytics.c.key_id == key_id)
            return int(conn.execute(query.select_from(api_analytics)).scalar_one())

    _wait_for("the marker request's analytics row", seen, lambda n: n >= 1)


def _publish_job(stack: Stack, target_id: str) -> dict[str, Any] | None:
    with stack.svc.db.read() as conn:
        row = conn.execute(sa.select(jobs).where(jobs.c.dedupe_key == dedupe_key(target_id)))
        found = row.mappings().first()
    return dict(found) if found else None


def _purge_jobs(stack: Stack, tenant_id: str) -> list[dict[str, Any]]:
    with stack.svc.db.read() as conn:
        rows = conn.execute(
            sa.select(jobs).where(
                jobs.c.kind == lifecycle.PURGE_KIND, jobs.c.dedupe_key == f"purge:{tenant_id}"
            )
        )
        return [dict(r) for r in rows.mappings()]


def _target(stack: Stack, target_id: str) -> dict[str, Any]:
    with stack.svc.db.read() as conn:
        row = conn.execute(sa.select(targets).where(targets.c.id == target_id)).mappings().one()
    return dict(row)


def _upload(client: httpx.Client, tmp_path: Path, name: str) -> dict[str, Any]:
    path = make_video(tmp_path / name, seconds=1.0)
    made = client.post(
        "/v1/media",
        content=path.read_bytes(),
        headers={"Content-Type": "video/mp4", "X-Filename": name},
    )
    assert made.status_code == 201, made.text
    return dict(made.json())


def _audit(client: httpx.Client, **params: Any) -> list[dict[str, Any]]:
    answer = client.get("/v1/audit", params={"limit": 100, **params})
    assert answer.status_code == 200, answer.text
    assert answer.json()["has_more"] is False
    return list(answer.json()["data"])


# --- 1. who reaches /v1/admin ------------------------------------------------------------


def test_only_an_operator_key_reaches_the_admin_api(
    stack: Stack, clients: list[httpx.Client]
) -> None:
    """No credentials 401; tenant keys (owner and admin too) 403 operator_key_required; a
    revoked operator key 401; an operator key on a tenant route 403; X-API-Key works too."""
    op = _operator(stack, clients)
    assert op.http.get(ADMIN).status_code == 200
    with _client(stack, op.key, header="X-API-Key") as by_header:
        listed = by_header.get(ADMIN)
        assert listed.status_code == 200, listed.text
        assert stack.tenant_id in {t["id"] for t in listed.json()["data"]}
        refused = by_header.get("/v1/posts")
        expect_problem(refused, 403, "operator_key_not_allowed")
    anonymous = httpx.get(f"{stack.api_url}{ADMIN}")
    expect_problem(anonymous, 401, "missing_api_key")
    assert anonymous.headers["www-authenticate"].startswith("Bearer")
    expect_problem(httpx.post(f"{stack.api_url}{ADMIN}", json={"name": "x"}), 401)
    for role in (KeyRole.OWNER, KeyRole.ADMIN, None):
        options = {"role": role} if role else {}
        _, tenant = _tenant_key(stack, clients, stack.tenant_id, **options)
        expect_problem(tenant.get(ADMIN), 403, "operator_key_required")
        expect_problem(tenant.post(ADMIN, json={"name": "mine"}), 403, "operator_key_required")
        expect_problem(
            tenant.post(f"{ADMIN}/{stack.tenant_id}/suspend"), 403, "operator_key_required"
        )
    with _client(stack, stack.key, header="X-API-Key") as tenant_by_header:
        expect_problem(tenant_by_header.get(ADMIN), 403, "operator_key_required")
        assert tenant_by_header.get("/v1/posts").status_code == 200
    expect_problem(op.http.get("/v1/posts"), 403, "operator_key_not_allowed")
    expect_problem(op.http.post("/v1/posts", json={"text": "t", "targets": ["x"]}), 403)
    # Two different credentials at once are refused, never silently one of them.
    both = httpx.get(
        f"{stack.api_url}{ADMIN}",
        headers={"Authorization": f"Bearer {op.key}", "X-API-Key": stack.key},
    )
    expect_problem(both, 401, "conflicting_credentials")
    mistyped = {"Authorization": f"Bearer {op.key[:-1]}{'A' if op.key[-1] != 'A' else 'B'}"}
    expect_problem(httpx.get(f"{stack.api_url}{ADMIN}", headers=mistyped), 401, "invalid_api_key")
    assert [t["name"] for t in op.http.get(ADMIN).json()["data"]] == ["default"]
    operators.revoke(stack.svc, op.key_id)
    expect_problem(op.http.get(ADMIN), 401, "invalid_api_key")
    with _client(stack, op.key, header="X-API-Key") as revoked:
        expect_problem(revoked.get(ADMIN), 401, "invalid_api_key")


# --- 2. create, list, get, settings ------------------------------------------------------


def test_create_is_idempotent_and_the_list_pages_and_filters(
    stack: Stack, clients: list[httpx.Client]
) -> None:
    """A replayed Idempotency-Key answers the same tenant (no second one); the list pages one
    at a time by cursor, newest first, and filters by status."""
    op = _operator(stack, clients)
    first = op.http.post(ADMIN, json={"name": "acme"}, headers={"Idempotency-Key": "t-1"})
    assert first.status_code == 201, first.text
    acme = first.json()
    assert acme["id"].startswith("ten_") and acme["status"] == "active"
    assert acme["is_default"] is False and acme["require_signing"] is False
    replay = op.http.post(ADMIN, json={"name": "acme"}, headers={"Idempotency-Key": "t-1"})
    assert replay.status_code == 201 and replay.json() == acme
    assert replay.headers.get("idempotent-replayed") == "true"
    # Another operator key shares the namespace: the server's, not a key's.
    other_op = _operator(stack, clients, "ops2")
    again = other_op.http.post(ADMIN, json={"name": "acme"}, headers={"Idempotency-Key": "t-1"})
    assert again.json()["id"] == acme["id"]
    expect_problem(
        op.http.post(ADMIN, json={"name": "other"}, headers={"Idempotency-Key": "t-1"}),
        422,
        "idempotency_key_reused",
    )
    beta, gamma = _create(op, "beta"), _create(op, "gamma")
    names = [t["name"] for t in op.http.get(ADMIN, params={"limit": 100}).json()["data"]]
    assert names.count("acme") == 1

    seen: list[str] = []
    params: dict[str, Any] = {"limit": 1}
    while True:
        page = op.http.get(ADMIN, params=params)
        assert page.status_code == 200, page.text
        body = page.json()
        assert len(body["data"]) == 1
        seen.append(body["data"][0]["id"])
        if not body["has_more"]:
            assert body["next_cursor"] is None and "link" not in page.headers
            break
        assert 'rel="next"' in page.headers["link"]
        params = {"limit": 1, "cursor": body["next_cursor"]}
        assert len(seen) < 10, seen
    assert seen == [gamma["id"], beta["id"], acme["id"], stack.tenant_id]

    _act(op, beta["id"], "suspend")
    suspended = op.http.get(ADMIN, params={"status": "suspended"}).json()["data"]
    assert [t["id"] for t in suspended] == [beta["id"]]
    active = [t["id"] for t in op.http.get(ADMIN, params={"status": "active"}).json()["data"]]
    assert active == [gamma["id"], acme["id"], stack.tenant_id]
    assert op.http.get(ADMIN, params={"status": "deleted"}).json()["data"] == []
    expect_problem(op.http.get(ADMIN, params={"status": "asleep"}), 422)
    expect_problem(op.http.get(ADMIN, params={"cursor": "not-ours"}), 422, "invalid_cursor")
    expect_problem(op.http.get(ADMIN, params={"limit": 0}), 422)


def test_get_patch_and_bad_bodies_answer_problems_never_500(
    stack: Stack, clients: list[httpx.Client]
) -> None:
    """GET one or 404; PATCH checks tiers and retention against the server's, null returns a
    setting to the server's; extra fields, empty names and wrong types are 422 problems."""
    op = _operator(stack, clients)
    made = _create(op, "acme", default_tier="pro", analytics_retention_days=30)
    got = op.http.get(f"{ADMIN}/{made['id']}")
    assert got.status_code == 200 and got.json() == made
    assert made["default_tier"] == "pro" and made["analytics_retention_days"] == 30
    # The tenant's default tier is what a key made without one gets.
    _, key_client = _tenant_key(stack, clients, made["id"])
    assert key_client.get("/v1/me").json()["tier"] == "pro"
    expect_problem(op.http.get(f"{ADMIN}/ten_nope"), 404, "not_found")
    expect_problem(op.http.patch(f"{ADMIN}/ten_nope", json={"name": "x"}), 404)
    for act in ("suspend", "resume"):
        expect_problem(op.http.post(f"{ADMIN}/ten_nope/{act}"), 404)
    expect_problem(op.http.delete(f"{ADMIN}/ten_nope"), 404)

    url = f"{ADMIN}/{made['id']}"
    changed = op.http.patch(
        url, json={"name": "Acme Inc.", "require_signing": True, "webhook_max_endpoints": 3}
    )
    assert changed.status_code == 200, changed.text
    assert changed.json()["name"] == "Acme Inc." and changed.json()["require_signing"] is True
    assert changed.json()["webhook_max_endpoints"] == 3
    assert changed.json()["default_tier"] == "pro"  # untouched when not sent
    expect_problem(op.http.patch(url, json={"default_tier": "platinum"}), 422, "unknown_tier")
    server = stack.svc.settings
    for name, days in (
        ("webhook_payload_retention_days", server.webhook_payload_retention_days + 1),
        ("analytics_retention_days", server.analytics_retention_days + 1),
    ):
        expect_problem(op.http.patch(url, json={name: days}), 422, "invalid_retention")
    reset = op.http.patch(
        url,
        json={
            "default_tier": None,
            "require_signing": None,
            "analytics_retention_days": None,
            "webhook_max_endpoints": None,
            "name": None,
        },
    )
    assert reset.status_code == 200, reset.text
    assert {
        k: reset.json()[k]
        for k in (
            "default_tier",
            "analytics_retention_days",
            "webhook_max_endpoints",
            "require_signing",
            "name",
        )
    } == {
        "default_tier": None,
        "analytics_retention_days": None,
        "webhook_max_endpoints": None,
        "require_signing": False,
        "name": "Acme Inc.",
    }
    assert op.http.get(url).json() == reset.json()

    bad: list[tuple[str, str, Any]] = [
        ("POST", ADMIN, {"name": ""}),
        ("POST", ADMIN, {}),
        ("POST", ADMIN, {"name": "x", "plan": "gold"}),
        ("POST", ADMIN, {"name": "x", "status": "suspended"}),
        ("POST", ADMIN, {"name": "x" * 201}),
        ("POST", ADMIN, {"name": 5}),
        ("POST", ADMIN, ["acme"]),
        ("POST", ADMIN, {"name": "x", "webhook_max_endpoints": -1}),
        ("POST", ADMIN, {"name": "x", "analytics_retention_days": 0}),
        ("POST", ADMIN, {"name": "x", "require_signing": {"a": 1}}),
        ("PATCH", url, {"name": ""}),
        ("PATCH", url, {"is_default": True}),
        ("PATCH", url, {"status": "active"}),
        ("PATCH", url, {"webhook_payload_retention_days": 0}),
        ("PATCH", url, "acme"),
    ]
    for method, path, body in bad:
        answer = op.http.request(method, path, json=body)
        expect_problem(answer, 422)
    tenants_now = op.http.get(ADMIN, params={"limit": 100}).json()["data"]
    assert sorted(t["name"] for t in tenants_now) == ["Acme Inc.", "default"]
    for method, path in (("POST", ADMIN), ("PATCH", url)):
        for content in (b"{", b"", b"null"):
            answer = op.http.request(
                method, path, content=content, headers={"Content-Type": "application/json"}
            )
            assert 400 <= answer.status_code < 500, (method, content, answer.text)
            assert answer.headers["content-type"] == PROBLEM


# --- 3. suspend and resume: the tenant's keys --------------------------------------------


def test_suspend_refuses_only_that_tenants_keys_until_resume(
    stack: Stack, clients: list[httpx.Client]
) -> None:
    """A suspended tenant's keys (cached or not) answer 403 tenant_suspended, another tenant's
    work, resume restores them; suspend is idempotent; a deleted tenant's suspend is 409."""
    op = _operator(stack, clients)
    acme = _create(op, "acme")
    _, key = _tenant_key(stack, clients, acme["id"])
    assert key.get("/v1/posts").status_code == 200  # now in the key cache
    assert key.get("/v1/posts").status_code == 200
    app = key.post("/v1/oauth-clients", json={"name": "app", "scopes": ["posts:read"]}).json()
    minted = httpx.post(
        f"{stack.api_url}/oauth/token",
        data={"grant_type": "client_credentials"},
        auth=(app["client_id"], app["client_secret"]),
    )
    assert minted.status_code == 200, minted.text
    token = _client(stack, minted.json()["access_token"])
    clients.append(token)
    assert token.get("/v1/posts").status_code == 200
    suspended = _act(op, acme["id"], "suspend")
    assert suspended["status"] == "suspended" and suspended["suspended_at"] is not None
    expect_problem(key.get("/v1/posts"), 403, "tenant_suspended")
    expect_problem(
        key.post("/v1/posts", json={"text": "t", "targets": ["x"]}), 403, "tenant_suspended"
    )
    _, fresh = _tenant_key(stack, clients, acme["id"], role=KeyRole.OWNER)
    expect_problem(fresh.get("/v1/keys"), 403, "tenant_suspended")
    expect_problem(token.get("/v1/posts"), 403, "tenant_suspended")  # an OAuth token too
    assert stack.http.get("/v1/posts").status_code == 200  # the default tenant is untouched
    assert op.http.get(f"{ADMIN}/{stack.tenant_id}").json()["status"] == "active"

    twice = _act(op, acme["id"], "suspend")
    assert twice == suspended
    resumed = _act(op, acme["id"], "resume")
    assert resumed["status"] == "active" and resumed["suspended_at"] is None
    assert key.get("/v1/posts").status_code == 200
    assert fresh.get("/v1/keys").status_code == 200
    assert token.get("/v1/posts").status_code == 200
    assert _act(op, acme["id"], "resume") == resumed  # idempotent too

    deleted = op.http.delete(f"{ADMIN}/{acme['id']}")
    assert deleted.status_code == 202, deleted.text
    expect_problem(op.http.post(f"{ADMIN}/{acme['id']}/suspend"), 409, "tenant_not_active")
    assert op.http.get(f"{ADMIN}/{acme['id']}").json()["status"] == "deleted"
    expect_problem(key.get("/v1/posts"), 403, "tenant_deleted")
    expect_problem(token.get("/v1/posts"), 403, "tenant_deleted")


# --- 4. nothing lost across suspend and resume -------------------------------------------


def test_a_target_held_while_suspended_publishes_once_after_resume(
    stack: Stack, clients: list[httpx.Client]
) -> None:
    """A post due while its tenant is suspended is held by the worker (no attempt spent, job
    an hour ahead); resume brings it forward and it is published exactly once."""
    op = _operator(stack, clients)
    acme = _create(op, "acme")
    provision_sandbox_accounts(stack.svc, acme["id"])
    _, key = _tenant_key(stack, clients, acme["id"])
    text = f"held {new_id('t')}"
    when = datetime.now(UTC) + timedelta(seconds=2)
    created = key.post(
        "/v1/posts", json={"text": text, "targets": ["x"], "publish_at": when.isoformat()}
    )
    assert created.status_code == 201, created.text
    post = created.json()
    assert post["status"] == "scheduled"
    [target] = post["targets"]
    first_job = _publish_job(stack, target["id"])
    assert first_job is not None and first_job["attempts"] == 0
    _act(op, acme["id"], "suspend")

    # The worker takes the job once it is due and puts it back about an hour ahead.
    held = _wait_for(
        "the worker to hold the suspended tenant's job",
        lambda: _publish_job(stack, target["id"]),
        lambda job: (
            job is not None
            and job["attempts"] >= 1
            and job["status"] == "queued"
            and job["run_at"] > datetime.now(UTC) + timedelta(minutes=50)
        ),
    )
    assert held["run_at"] <= datetime.now(UTC) + timedelta(minutes=61)
    row = _target(stack, target["id"])
    assert row["status"] in ("scheduled", "queued") and row["attempts"] == 0, row
    assert row["external_id"] is None
    assert stack.fake("x", "state")["posts"] == []

    resumed = _act(op, acme["id"], "resume")
    assert resumed["status"] == "active"
    done = _wait_for(
        "the held target to publish after resume",
        lambda: key.get(f"/v1/posts/{post['id']}").json(),
        lambda p: p["status"] in ("published", "partially_published", "failed", "cancelled"),
    )
    assert done["status"] == "published", done
    assert done["targets"][0]["attempts"] == 1
    published = [p for p in stack.fake("x", "state")["posts"] if p["text"] == text]
    assert len(published) == 1, stack.fake("x", "state")["posts"]
    assert len(stack.fake("x", "state")["posts"]) == 1
    ledger = [e["event_type"] for e in key.get(f"/v1/posts/{post['id']}/ledger").json()]
    assert ledger.count("publish_successful") == 1, ledger
    assert _publish_job(stack, target["id"]) is None  # the job is over, nothing waits


# --- 5. delete, restore, purge -----------------------------------------------------------


def test_delete_refuses_keys_and_resume_within_the_window_restores(
    stack: Stack, clients: list[httpx.Client]
) -> None:
    """DELETE is 202 with purge_after, keys answer 403 tenant_deleted, an early purge does
    nothing, resume restores it all; the default tenant cannot be deleted (409)."""
    op = _operator(stack, clients)
    acme = _create(op, "acme")
    provision_sandbox_accounts(stack.svc, acme["id"])
    _, key = _tenant_key(stack, clients, acme["id"])
    posted = key.post(
        "/v1/posts", json={"text": "kept", "targets": ["x"], "publish_at": "2099-01-01T00:00:00Z"}
    )
    assert posted.status_code == 201, posted.text
    answer = op.http.delete(f"{ADMIN}/{acme['id']}")
    assert answer.status_code == 202, answer.text
    deleted = answer.json()
    assert deleted["status"] == "deleted" and deleted["deleted_at"] is not None
    deleted_at = datetime.fromisoformat(deleted["deleted_at"])
    purge_after = datetime.fromisoformat(deleted["purge_after"])
    days = stack.svc.settings.tenant_retention_days
    assert purge_after - deleted_at == timedelta(days=days)
    [job] = _purge_jobs(stack, acme["id"])
    assert job["status"] == "queued" and job["run_at"] == purge_after
    expect_problem(key.get("/v1/posts"), 403, "tenant_deleted")
    again = op.http.delete(f"{ADMIN}/{acme['id']}", params={"retention_days": 0})
    assert again.status_code == 202 and again.json() == deleted  # idempotent: window kept

    _flushed(stack)  # the requests above are counted before the counts are taken
    before = _counts(stack, acme["id"])
    assert lifecycle.purge(stack.svc, acme["id"]) is None  # the window is not over
    assert _counts(stack, acme["id"]) == before
    assert op.http.get(f"{ADMIN}/{acme['id']}").json()["status"] == "deleted"

    restored = _act(op, acme["id"], "resume")
    assert restored["status"] == "active"
    assert restored["deleted_at"] is None and restored["purge_after"] is None
    listed = key.get("/v1/posts")
    assert listed.status_code == 200
    assert [p["id"] for p in listed.json()["data"]] == [posted.json()["id"]]

    expect_problem(op.http.delete(f"{ADMIN}/{stack.tenant_id}"), 409, "default_tenant")
    assert stack.http.get("/v1/posts").status_code == 200
    for days_param in (-1, 3651, "soon"):
        bad = op.http.delete(f"{ADMIN}/{acme['id']}", params={"retention_days": days_param})
        expect_problem(bad, 422)
    assert op.http.get(f"{ADMIN}/{acme['id']}").json()["status"] == "active"


def test_a_second_delete_after_a_restore_purges_at_its_own_time(
    make_stack: Callable[..., Stack], clients: list[httpx.Client]
) -> None:
    """Delete (1 day), resume, delete again (3 days): not purged after one day, purged once
    the second window is over (the first delete's purge job must not stand in for it)."""
    clock = FrozenClock(datetime.now(UTC).replace(microsecond=0))
    stack = make_stack(clock=clock)
    op = _operator(stack, clients)
    acme = _create(op, "acme")
    url = f"{ADMIN}/{acme['id']}"
    assert op.http.delete(url, params={"retention_days": 1}).status_code == 202
    _act(op, acme["id"], "resume")
    clock.advance(3600)
    second = op.http.delete(url, params={"retention_days": 3})
    assert second.status_code == 202, second.text
    purge_after = datetime.fromisoformat(second.json()["purge_after"])
    assert purge_after == clock.now() + timedelta(days=3)

    # One day after the first delete: the first window would be over, the second is not.
    clock.advance(86400)
    assert stack.runner is not None
    stack.runner.wake()
    _wait_for(
        "the purge jobs due now to be taken",
        lambda: [
            j
            for j in _purge_jobs(stack, acme["id"])
            if j["run_at"] <= clock.now() or j["status"] != "queued"
        ],
        lambda due: due == [],
    )
    assert op.http.get(url).json()["status"] == "deleted"

    clock.advance((purge_after - clock.now()).total_seconds() + 1)
    stack.runner.wake()
    _wait_for(
        "the purge at the second delete's purge_after",
        lambda: op.http.get(url).json()["status"],
        lambda status: status == "purged",
        timeout=15.0,
    )


def test_purge_removes_every_row_and_file_of_the_tenant_and_nothing_else(
    make_stack: Callable[..., Stack], clients: list[httpx.Client], tmp_path: Path
) -> None:
    """The worker's purge (retention_days=0) leaves no row of the tenant but one tenant.purged
    ledger entry, no file, a tombstone; another tenant keeps everything; a re-purge is None."""
    stack = make_stack(analytics_flush_seconds=0.05)
    op = _operator(stack, clients)
    acme = _create(op, "acme")
    tid = acme["id"]
    provision_sandbox_accounts(stack.svc, tid)
    key_id, key = _tenant_key(stack, clients, tid)
    issue_secret(
        stack.svc.db,
        stack.svc.keyring,
        tenant_id=tid,
        key_id=key_id,
        now=stack.svc.clock.now(),
        grace=timedelta(hours=1),
    )
    hook = key.post("/v1/webhooks", json={"url": HOOK})
    assert hook.status_code == 201, hook.text
    assert key.post(f"/v1/webhooks/{hook.json()['id']}/test").status_code == 202
    clip = _upload(key, tmp_path, "acme.mp4")
    now_post = key.post(
        "/v1/posts",
        json={"text": f"gone {new_id('t')}", "targets": ["x"]},
        headers={"Idempotency-Key": "acme-post"},
    )
    assert now_post.status_code == 201, now_post.text
    later = key.post(
        "/v1/posts",
        json={"media_id": clip["id"], "targets": ["youtube"], "publish_at": "2099-01-01T00:00:00Z"},
    )
    assert later.status_code == 201, later.text
    quota = key.put("/v1/usage/quotas", json={"metric": "posts", "hard_limit": 1000})
    assert quota.status_code == 200, quota.text
    oauth = key.post("/v1/oauth-clients", json={"name": "app", "scopes": ["posts:read"]})
    assert oauth.status_code == 201, oauth.text
    export = key.post("/v1/exports", json={})
    assert export.status_code == 202, export.text
    _wait_for(
        "the tenant's post and export",
        lambda: (
            key.get(f"/v1/posts/{now_post.json()['id']}").json()["status"],
            key.get(f"/v1/exports/{export.json()['id']}").json()["status"],
        ),
        lambda s: s[0] == "published" and s[1] in ("ready", "failed"),
    )
    assert key.get(f"/v1/exports/{export.json()['id']}").json()["status"] == "ready"

    # The other tenant (the default one) has rows and a file of its own.
    theirs = stack.upload_video(tmp_path)
    assert stack.http.put("/v1/usage/quotas", json={"metric": "posts", "hard_limit": 99}).is_success
    assert stack.http.post("/v1/webhooks", json={"url": HOOK}).status_code == 201
    their_post = stack.http.post(
        "/v1/posts",
        json={
            "media_id": theirs["id"],
            "targets": ["youtube"],
            "publish_at": "2099-01-01T00:00:00Z",
        },
    )
    assert their_post.status_code == 201, their_post.text

    _flushed(stack)  # every request so far is written: nothing of acme is still buffered
    before = _counts(stack, tid)
    populated = {
        "api_keys",
        "social_accounts",
        "media",
        "posts",
        "targets",
        "ledger_events",
        "usage_counters",
        "usage_quotas",
        "idempotency_keys",
        "webhook_endpoints",
        "webhook_events",
        "oauth_clients",
        "signing_secrets",
        "exports",
        "audit_events",
        "api_analytics",
    }
    assert {t for t, n in before.items() if n} >= populated, before
    file_keys: list[sa.Select[Any]] = [
        sa.select(media.c.storage_key).where(media.c.tenant_id == tid),
        sa.select(exports.c.storage_key).where(
            exports.c.tenant_id == tid, exports.c.storage_key.is_not(None)
        ),
    ]
    with stack.svc.db.read() as conn:
        files: list[str] = []
        for query in file_keys:
            files += map(str, conn.execute(query).scalars())
        their_file = str(
            conn.execute(
                sa.select(media.c.storage_key).where(media.c.id == theirs["id"])
            ).scalar_one()
        )
    assert len(files) == 2 and all(stack.svc.storage.exists(k) for k in files), files
    kept = _row_ids(stack, stack.tenant_id)

    gone = op.http.delete(f"{ADMIN}/{tid}", params={"retention_days": 0})
    assert gone.status_code == 202, gone.text
    assert gone.json()["purge_after"] == gone.json()["deleted_at"]
    tomb = _wait_for(
        "the worker's purge",
        lambda: op.http.get(f"{ADMIN}/{tid}").json(),
        lambda t: t["status"] == "purged",
    )
    assert tomb["name"] == "acme" and tomb["id"] == tid
    _flushed(stack)  # nothing written after the purge brings a row of acme back
    after = _counts(stack, tid)
    assert {t: n for t, n in after.items() if n} == {"ledger_events": 1}, after
    with stack.svc.db.read() as conn:
        [event] = conn.execute(sa.select(ledger_events).where(ledger_events.c.tenant_id == tid))
        server_events = (
            conn.execute(sa.select(audit_events).where(audit_events.c.action == "tenant.purged"))
            .mappings()
            .all()
        )
    assert event.event_type == "tenant.purged"
    removed = event.data["removed"]
    assert event.data["files"] == 2
    stable = (
        "api_keys",
        "media",
        "posts",
        "targets",
        "exports",
        "webhook_endpoints",
        "oauth_clients",
        "usage_quotas",
        "signing_secrets",
        "social_accounts",
    )
    for table in stable:
        assert removed[table] == before[table], (table, removed, before)
    assert removed["audit_events"] == before["audit_events"] + 1  # with tenant.deleted
    assert set(removed) >= populated
    [audit] = server_events
    assert audit["tenant_id"] is None and audit["actor_type"] == "system"
    assert (audit["target_type"], audit["target_id"]) == ("tenant", tid)
    assert audit["data"]["removed"] == removed
    assert not any(stack.svc.storage.exists(k) for k in files)

    # The other tenant: every row it had is still there, its file too, its key works.
    now_theirs = _row_ids(stack, stack.tenant_id)
    for table, ids in kept.items():
        assert ids <= now_theirs[table], table
    assert stack.svc.storage.exists(their_file)
    assert stack.http.get(f"/v1/posts/{their_post.json()['id']}").status_code == 200

    assert lifecycle.purge(stack.svc, tid) is None
    assert _counts(stack, tid) == after
    expect_problem(op.http.post(f"{ADMIN}/{tid}/resume"), 409, "purged")
    expect_problem(op.http.patch(f"{ADMIN}/{tid}", json={"name": "back"}), 409, "purged")
    expect_problem(op.http.post(f"{ADMIN}/{tid}/suspend"), 409, "tenant_not_active")
    again = op.http.delete(f"{ADMIN}/{tid}")
    assert again.status_code == 202 and again.json()["status"] == "purged"
    expect_problem(key.get("/v1/posts"), 401, "invalid_api_key")
    assert [t["id"] for t in op.http.get(ADMIN, params={"status": "purged"}).json()["data"]] == [
        tid
    ]


def test_requests_answered_just_before_a_purge_leave_no_rows_after_it(
    make_stack: Callable[..., Stack], clients: list[httpx.Client]
) -> None:
    """Requests still in an API process's analytics buffer when an immediate purge runs are
    not written afterwards: no api_analytics or usage_counters row of a purged tenant."""
    stack = make_stack(workers=0, analytics_flush_seconds=3600)
    app = create_app(stack.svc)  # our own API process, whose buffer the test can flush
    server = serve_in_thread(app, server_class=ApiServer)
    try:
        op = _operator(stack, clients)
        acme = _create(op, "acme")
        _, raw = issue_key(stack.svc, tenant_id=acme["id"], name="k", mode=Mode.TEST)
        with httpx.Client(base_url=server.url, headers={"Authorization": f"Bearer {raw}"}) as key:
            for _ in range(3):
                assert key.get("/v1/posts").status_code == 200
        assert app.state.analytics.buffered >= 3
        gone = op.http.delete(f"{ADMIN}/{acme['id']}", params={"retention_days": 0})
        assert gone.status_code == 202, gone.text
        assert lifecycle.purge(stack.svc, acme["id"]) is not None
        app.state.analytics.flush()
        after = _counts(stack, acme["id"])
        assert {t: n for t, n in after.items() if n} == {"ledger_events": 1}, after
    finally:
        server.stop()


# --- the operator's quotas ---------------------------------------------------------------


def test_a_quota_the_operator_sets_binds_the_tenant(
    stack: Stack, clients: list[httpx.Client]
) -> None:
    """PUT /v1/admin/tenants/{id}/quotas sets a quota the tenant's admin key reads but cannot
    change (403 quota_set_by_operator) and that refuses its posts past the hard limit."""
    op = _operator(stack, clients)
    acme = _create(op, "acme")
    provision_sandbox_accounts(stack.svc, acme["id"])
    _, key = _tenant_key(stack, clients, acme["id"])
    put = op.http.put(f"{ADMIN}/{acme['id']}/quotas", json={"metric": "posts", "hard_limit": 1})
    assert put.status_code == 200, put.text
    [quota] = put.json()["data"]
    assert quota["set_by"] == "operator" and quota["hard_limit"] == 1
    assert key.get("/v1/usage/quotas").json()["data"] == put.json()["data"]
    expect_problem(
        key.put("/v1/usage/quotas", json={"metric": "posts", "hard_limit": 50}),
        403,
        "quota_set_by_operator",
    )
    later = {"text": "one", "targets": ["x"], "publish_at": "2099-01-01T00:00:00Z"}
    assert key.post("/v1/posts", json=later).status_code == 201
    expect_problem(key.post("/v1/posts", json=later), 402)
    assert stack.http.get("/v1/usage/quotas").json()["data"] == []  # another tenant's: none
    expect_problem(op.http.put(f"{ADMIN}/ten_nope/quotas", json={"metric": "posts"}), 404)


# --- 6. the audit log --------------------------------------------------------------------


def test_every_tenant_change_is_in_its_audit_log_with_the_operator(
    stack: Stack, clients: list[httpx.Client]
) -> None:
    """tenant.created/updated/suspended/resumed/deleted are in the tenant's GET /v1/audit by
    the operator's key id; `action=tenant.` filters, the cursor pages, other tenants see none."""
    op = _operator(stack, clients)
    made = op.http.post(ADMIN, json={"name": "acme"}, headers={"Idempotency-Key": "aud-1"})
    tid = made.json()["id"]
    op.http.post(ADMIN, json={"name": "acme"}, headers={"Idempotency-Key": "aud-1"})
    assert op.http.patch(f"{ADMIN}/{tid}", json={"default_tier": "pro"}).status_code == 200
    _act(op, tid, "suspend")
    _act(op, tid, "suspend")  # idempotent: no second entry
    _act(op, tid, "resume")
    assert op.http.delete(f"{ADMIN}/{tid}").status_code == 202
    _act(op, tid, "resume")
    _, admin = _tenant_key(stack, clients, tid, role=KeyRole.ADMIN)

    events = _audit(admin, action="tenant.")
    actions = [e["action"] for e in events]
    assert actions == [
        "tenant.resumed",
        "tenant.deleted",
        "tenant.resumed",
        "tenant.suspended",
        "tenant.updated",
        "tenant.created",
    ], actions
    for event in events:
        assert event["actor_type"] == "operator", event
        assert event["actor_id"] == op.key_id, event
        assert (event["target_type"], event["target_id"]) == ("tenant", tid), event
        assert event["ip"] == "127.0.0.1", event
    by_action = {e["action"]: e for e in reversed(events)}
    assert by_action["tenant.created"]["data"]["name"] == "acme"
    assert by_action["tenant.updated"]["data"] == {
        "before": {"default_tier": None},
        "after": {"default_tier": "pro"},
    }
    assert [e["data"]["was"] for e in events if e["action"] == "tenant.resumed"] == [
        "deleted",
        "suspended",
    ]
    assert "purge_after" in by_action["tenant.deleted"]["data"]

    everything = _audit(admin)
    assert [e for e in everything if e["action"].startswith("tenant.")] == events
    assert len(everything) > len(events)  # the admin key's own creation, at least
    assert [e["action"] for e in _audit(admin, action="tenant.suspended")] == ["tenant.suspended"]
    assert all(e["action"].startswith("key.") for e in _audit(admin, action="key."))
    assert _audit(admin, actor_id="opk_nobody") == []
    assert [e for e in _audit(admin, target_id=tid) if e["action"].startswith("tenant.")] == events

    paged: list[dict[str, Any]] = []
    params: dict[str, Any] = {"limit": 2, "action": "tenant."}
    for _ in range(10):
        page = admin.get("/v1/audit", params=params).json()
        paged += page["data"]
        if not page["has_more"]:
            break
        params["cursor"] = page["next_cursor"]
    assert paged == events
    expect_problem(admin.get("/v1/audit", params={"cursor": "nope"}), 422, "invalid_cursor")

    # The default tenant's log has none of acme's; a developer key may not read a log.
    assert all(e["target_id"] != tid for e in _audit(stack.http))
    _, developer = _tenant_key(stack, clients, tid, role=KeyRole.DEVELOPER)
    expect_problem(developer.get("/v1/audit"), 403, "insufficient_scope")
    expect_problem(op.http.get("/v1/audit"), 403, "operator_key_not_allowed")
