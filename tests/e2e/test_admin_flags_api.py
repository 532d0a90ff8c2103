"""/v1/admin/flags over real HTTP with a real operator key, and the capability flags that
switch routes off for a tenant."""

from __future__ import annotations

import time
from collections.abc import Callable

import httpx
import pytest

from crosspost.domain.enums import KeyRole, Mode
from crosspost.engine.keys import issue_key
from crosspost.identity.operators import issue as issue_operator_key
from crosspost.store import audit
from tests.e2e.conftest import Stack

BASE = "/v1/admin/flags"


def _operator(stack: Stack) -> httpx.Client:
    _, raw = issue_operator_key(stack.svc, name="ops")
    return httpx.Client(
        base_url=stack.api_url, headers={"Authorization": f"Bearer {raw}"}, timeout=30
    )


def _until(check: Callable[[], bool], what: str, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return
        time.sleep(0.05)
    pytest.fail(f"not within {timeout} s: {what}")


def test_put_kill_evaluate_delete(make_stack: Callable[..., Stack]) -> None:
    """The flag's life over the API; a PUT without `killed` keeps a kill; every change is
    audited as the operator's, with the operator key's id."""
    stack = make_stack(workers=0)
    with _operator(stack) as http:
        body = {"rollout_percent": 10, "allow_tenants": ["ten_a"], "description": "Threads"}
        made = http.put(f"{BASE}/publish.threads", json=body)
        assert made.status_code == 200, made.text
        assert made.json()["stored"] is True
        answer = http.get(f"{BASE}/publish.threads/evaluate", params={"tenant_id": "ten_b"})
        assert (answer.json()["on"], answer.json()["reason"]) == (False, "out_of_rollout")
        assert http.post(f"{BASE}/publish.threads/kill").json()["killed"] is True
        kept = http.put(f"{BASE}/publish.threads", json={**body, "rollout_percent": 50}).json()
        assert (kept["killed"], kept["rollout_percent"]) == (True, 50)
        revived = http.put(f"{BASE}/publish.threads", json={**body, "killed": False}).json()
        assert revived["killed"] is False and revived["rollout_percent"] == 10
        assert "publish.threads" in [f["key"] for f in http.get(BASE).json()["data"]]
        assert http.delete(f"{BASE}/publish.threads").status_code == 204
        assert http.get(f"{BASE}/publish.threads").status_code == 404
    with stack.svc.db.read() as conn:
        events = audit.page(conn, None, limit=10, action="flag.")
    assert [e["action"] for e in reversed(events)] == [
        "flag.created", "flag.killed", "flag.updated", "flag.updated", "flag.deleted"
    ]  # fmt: skip
    assert {e["actor_type"] for e in events} == {"operator"}
    assert all(str(e["actor_id"]).startswith("opk_") for e in events)


def test_refusals_are_problems_with_codes(make_stack: Callable[..., Stack]) -> None:
    """Bad input answers problem+json with a stable code and what to change; tenant keys
    and no key are refused."""
    stack = make_stack(workers=0)
    with _operator(stack) as http:
        bad_key = http.put(f"{BASE}/Bad%20Key", json={})
        assert bad_key.status_code == 422
        assert bad_key.headers["content-type"].startswith("application/problem+json")
        assert bad_key.json()["code"] == "invalid_flag_key"
        both = http.put(f"{BASE}/x", json={"allow_tenants": ["t1"], "deny_tenants": ["t1"]})
        assert both.json()["code"] == "tenant_allowed_and_denied"
        assert http.put(f"{BASE}/x", json={"rollout_percent": 101}).status_code == 422
        assert http.put(f"{BASE}/x", json={"colour": "red"}).status_code == 422
        missing = http.post(f"{BASE}/no.such.flag/kill")
        assert (missing.status_code, missing.json()["code"]) == (404, "not_found")
    _, owner = issue_key(
        stack.svc, tenant_id=stack.tenant_id, name="o", mode=Mode.TEST, role=KeyRole.OWNER
    )
    refused = httpx.get(
        f"{stack.api_url}{BASE}", headers={"Authorization": f"Bearer {owner}"}, timeout=30
    )
    assert (refused.status_code, refused.json()["code"]) == (403, "operator_key_required")
    assert httpx.get(f"{stack.api_url}{BASE}", timeout=30).status_code == 401


def test_a_killed_capability_is_gone_for_its_tenant_and_back_when_revived(
    make_stack: Callable[..., Stack],
) -> None:
    """Killing `audit.log` makes GET /v1/audit answer 404 `feature_disabled` within the
    flags' refresh; a deny-list hides it from one tenant only; reviving brings it back."""
    stack = make_stack(workers=0)
    _, admin = issue_key(
        stack.svc, tenant_id=stack.tenant_id, name="a", mode=Mode.TEST, role=KeyRole.ADMIN
    )
    tenant = httpx.Client(
        base_url=stack.api_url, headers={"Authorization": f"Bearer {admin}"}, timeout=30
    )
    with _operator(stack) as http, tenant:
        assert tenant.get("/v1/audit").status_code == 200
        assert http.post(f"{BASE}/audit.log/kill").status_code == 200
        _until(
            lambda: tenant.get("/v1/audit").json().get("code") == "feature_disabled",
            "the kill reaches the API",
        )
        assert tenant.get("/v1/audit").status_code == 404
        http.put(f"{BASE}/audit.log", json={"killed": False, "deny_tenants": ["ten_other"]})
        _until(lambda: tenant.get("/v1/audit").status_code == 200, "the revive reaches the API")
        http.put(f"{BASE}/audit.log", json={"deny_tenants": [stack.tenant_id]})
        _until(lambda: tenant.get("/v1/audit").status_code == 404, "the deny-list applies")
        assert http.post(f"{BASE}/admin.tenants/kill").status_code == 200
        _until(
            lambda: http.get("/v1/admin/tenants").json().get("code") == "feature_disabled",
            "the tenants API is switched off",
        )
