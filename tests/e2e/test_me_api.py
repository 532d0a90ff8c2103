"""GET /v1/me over real HTTP: any valid credentials learn who they are (tenant, mode, role,
scopes, the key's public view), never a secret; bad credentials get the usual 401."""

from __future__ import annotations

import httpx

from crosspost.domain.enums import KeyRole, Mode
from crosspost.engine.keys import ROLE_SCOPES, issue_key
from tests.e2e.conftest import Stack


def _as(stack: Stack, token: str) -> httpx.Client:
    return httpx.Client(
        base_url=stack.api_url, headers={"Authorization": f"Bearer {token}"}, timeout=30
    )


def test_a_key_of_any_scope_learns_who_it_is(stack: Stack) -> None:
    """A viewer key and a key holding one scope both read their own public view and their
    tenant; the answer holds neither the secret nor its hash."""
    viewer_id, viewer = issue_key(
        stack.svc, tenant_id=stack.tenant_id, name="reader", mode=Mode.TEST, role=KeyRole.VIEWER
    )
    narrow_id, narrow = issue_key(
        stack.svc, tenant_id=stack.tenant_id, name="one", mode=Mode.LIVE, scopes=("media:write",)
    )
    for key_id, raw, name, mode, role, scopes in (
        (viewer_id, viewer, "reader", "test", "viewer", sorted(ROLE_SCOPES[KeyRole.VIEWER])),
        (narrow_id, narrow, "one", "live", None, ["media:write"]),
    ):
        with _as(stack, raw) as http:
            answer = http.get("/v1/me")
        assert answer.status_code == 200, answer.text
        me = answer.json()
        assert me["tenant"] == {"id": stack.tenant_id, "name": "default"}
        assert (me["mode"], me["role"], me["scopes"]) == (mode, role, scopes)
        assert me["key"]["id"] == key_id and me["key"]["name"] == name
        assert me["key"]["display_prefix"] == raw[:12] and me["oauth_client_id"] is None
        assert raw not in answer.text and raw[12:] not in answer.text
        assert "hash" not in answer.text


def test_an_oauth_token_is_its_client_not_a_key(stack: Stack) -> None:
    """An OAuth client's access token answers with the client's id and no key."""
    made = stack.http.post("/v1/oauth-clients", json={"name": "p", "scopes": ["posts:read"]})
    client = made.json()
    token = httpx.post(
        f"{stack.api_url}/oauth/token",
        data={"grant_type": "client_credentials"},
        auth=(client["client_id"], client["client_secret"]),
    ).json()["access_token"]
    with _as(stack, token) as http:
        me = http.get("/v1/me").json()
    assert me["key"] is None and me["oauth_client_id"] == client["client_id"]
    assert me["scopes"] == ["posts:read"] and me["tenant"]["id"] == stack.tenant_id


def test_bad_credentials_are_refused_with_their_code(stack: Stack) -> None:
    """No key, a mistyped key and a revoked key: 401 problem+json with a stable code."""
    key_id, raw = issue_key(stack.svc, tenant_id=stack.tenant_id, name="gone", mode=Mode.TEST)
    assert stack.http.delete(f"/v1/keys/{key_id}").status_code == 204
    missing = httpx.get(f"{stack.api_url}/v1/me")
    assert (missing.status_code, missing.json()["code"]) == (401, "missing_api_key")
    for token in (raw[:-1] + ("A" if raw[-1] != "A" else "B"), raw):
        with _as(stack, token) as http:
            refused = http.get("/v1/me")
        assert refused.status_code == 401
        assert refused.headers["content-type"] == "application/problem+json"
        assert refused.json()["code"] == "invalid_api_key"


def test_me_is_in_the_openapi_document(stack: Stack) -> None:
    """GET /v1/me is documented with its answer's shape and its 401."""
    document = stack.http.get("/openapi.json").json()
    operation = document["paths"]["/v1/me"]["get"]
    assert "401" in operation["responses"]
    schema = operation["responses"]["200"]["content"]["application/json"]["schema"]
    assert schema == {"$ref": "#/components/schemas/Caller"}
    assert {"tenant", "mode", "role", "scopes", "key"} <= set(
        document["components"]["schemas"]["Caller"]["properties"]
    )
