"""OAuth 2.0 client credentials over real HTTP: clients, the token endpoint (HTTP Basic and
form authentication), every refused request with its RFC 6749 and problem+json members, the
JWKS verified independently with joserfc, key rotation, revocation across API processes, and
the token as a bearer on /v1."""

from __future__ import annotations

import base64
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from typing import Any, cast

import httpx
import pytest
from joserfc import jwt
from joserfc.jwk import KeySet, KeySetSerialization
from joserfc.jwt import JWTClaimsRegistry

from crosspost.clock import FrozenClock
from crosspost.domain.enums import Mode
from crosspost.engine.keys import issue_key
from crosspost.engine.oauth_clients import looks_like_jwt, verify_access_token
from crosspost.errors import Unauthorized
from crosspost.ids import new_id
from crosspost.store.tables import tenants
from crosspost.vault.jwt_keys import PUBLISH_GRACE
from tests.e2e.conftest import Stack

# Tokens are minted and verified in code (JWT, JWKS): SQLite only.
pytestmark = pytest.mark.one_database

PROBLEM = "application/problem+json"
GRANT = {"grant_type": "client_credentials"}


@pytest.fixture
def anon(stack: Stack) -> Iterator[httpx.Client]:
    """An HTTP client with no API key: the token endpoint authenticates the OAuth client."""
    with httpx.Client(base_url=stack.api_url, timeout=30) as client:
        yield client


def _create(stack: Stack, http: httpx.Client | None = None, **body: Any) -> httpx.Response:
    payload = {"name": "partner", "scopes": ["posts:read", "posts:write"], **body}
    return (http or stack.http).post("/v1/oauth-clients", json=payload)


def _client(stack: Stack, **body: Any) -> dict[str, Any]:
    made = _create(stack, **body)
    assert made.status_code == 201, made.text
    return dict(made.json())


def _token(anon: httpx.Client, client: dict[str, Any], **form: str) -> httpx.Response:
    return anon.post(
        "/oauth/token",
        data={**GRANT, **form},
        auth=(client["client_id"], client["client_secret"]),
    )


def _bearer(stack: Stack, token: str) -> httpx.Client:
    return httpx.Client(
        base_url=stack.api_url, headers={"Authorization": f"Bearer {token}"}, timeout=30
    )


def _key_set(http: httpx.Client) -> KeySet:
    answer = http.get("/.well-known/jwks.json")
    assert answer.status_code == 200
    assert answer.headers["cache-control"] == "public, max-age=300"
    return KeySet.import_key_set(cast(KeySetSerialization, answer.json()))


def _kids(http: httpx.Client) -> set[str]:
    return {k["kid"] for k in http.get("/.well-known/jwks.json").json()["keys"]}


def _basic(user: str, password: str) -> str:
    return "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()


def test_a_client_gets_tokens_with_basic_or_form_auth_that_verify_against_the_jwks(
    stack: Stack, anon: httpx.Client
) -> None:
    made = _create(stack, tier="pro")
    assert made.status_code == 201, made.text
    client = made.json()
    assert client["id"] == client["client_id"] and client["id"].startswith("cli_")
    assert client["client_secret"].startswith("cpcs_") and len(client["client_secret"]) >= 48
    assert (client["mode"], client["tier"]) == ("test", "pro")
    assert client["scopes"] == ["posts:read", "posts:write"] and client["revoked_at"] is None
    listed = stack.http.get("/v1/oauth-clients").json()["data"]
    assert [c["id"] for c in listed] == [client["id"]]
    assert "client_secret" not in listed[0]
    assert client["client_secret"] not in stack.http.get(f"/v1/oauth-clients/{client['id']}").text

    by_basic = _token(anon, client)
    assert by_basic.status_code == 200, by_basic.text
    assert by_basic.headers["cache-control"] == "no-store"
    body = by_basic.json()
    assert body["token_type"] == "Bearer" and body["expires_in"] == 900
    assert body["scope"] == "posts:read posts:write"
    by_form = anon.post(
        "/oauth/token",
        data={**GRANT, "client_id": client["id"], "client_secret": client["client_secret"]},
    )
    assert by_form.status_code == 200, by_form.text
    narrowed = _token(anon, client, scope="posts:read")
    assert narrowed.json()["scope"] == "posts:read"

    # A partner verifies our tokens with any JOSE library and the published keys alone.
    key_set = _key_set(anon)
    for answer in (by_basic, by_form, narrowed):
        token = answer.json()["access_token"]
        assert looks_like_jwt(token)
        decoded = jwt.decode(token, key_set, algorithms=["ES256"])
        assert decoded.header["typ"] == "at+jwt" and decoded.header["alg"] == "ES256"
        assert decoded.header["kid"] in {k.kid for k in key_set}
        JWTClaimsRegistry(
            iss={"essential": True, "value": stack.svc.settings.base_url},
            aud={"essential": True, "value": "crosspost"},
            sub={"essential": True, "value": client["id"]},
            client_id={"essential": True, "value": client["id"]},
            tenant={"essential": True, "value": stack.tenant_id},
            mode={"essential": True, "value": "test"},
            exp={"essential": True},
            jti={"essential": True},
        ).validate(decoded.claims)
        assert decoded.claims["exp"] - decoded.claims["iat"] == 900
        assert decoded.claims["scope"] == answer.json()["scope"]
    jtis = {
        jwt.decode(a.json()["access_token"], key_set).claims["jti"] for a in (by_basic, by_form)
    }
    assert len(jtis) == 2

    claims = verify_access_token(stack.svc, narrowed.json()["access_token"])
    assert (claims.tenant_id, claims.client_id, claims.mode) == (
        stack.tenant_id,
        client["id"],
        Mode.TEST,
    )
    assert claims.scopes == frozenset({"posts:read"}) and claims.tier == "pro"

    meta = anon.get("/.well-known/oauth-authorization-server").json()
    assert meta["issuer"] == stack.svc.settings.base_url
    assert meta["token_endpoint"] == f"{stack.svc.settings.base_url}/oauth/token"
    assert meta["jwks_uri"] == f"{stack.svc.settings.base_url}/.well-known/jwks.json"


def test_the_token_is_a_bearer_on_v1_within_its_scopes(stack: Stack, anon: httpx.Client) -> None:
    """Needs the JWT branch of `api.auth.authenticate`."""
    client = _client(stack)
    full = _token(anon, client).json()["access_token"]
    read_only = _token(anon, client, scope="posts:read").json()["access_token"]
    with _bearer(stack, full) as partner:
        listed = partner.get("/v1/posts")
        assert listed.status_code == 200, listed.text
        denied = partner.get("/v1/oauth-clients")
        assert (denied.status_code, denied.json()["code"]) == (403, "insufficient_scope")
    with _bearer(stack, read_only) as reader:
        assert reader.get("/v1/posts").status_code == 200
        refused = reader.post("/v1/posts", json={"text": "hi", "targets": ["x"]})
        assert (refused.status_code, refused.json()["code"]) == (403, "insufficient_scope")
    header, payload, signature = full.split(".")
    forged = f"{header}.{payload}.{signature[:-4]}AAAA"
    with _bearer(stack, forged) as forger:
        answer = forger.get("/v1/posts")
        assert answer.status_code == 401
        assert answer.headers["content-type"] == PROBLEM
        assert answer.json()["code"] == "invalid_token"
        assert "POST /oauth/token" in answer.json()["detail"]
        assert 'error="invalid_token"' in answer.headers["www-authenticate"]


def test_every_bad_token_request_is_refused_in_both_error_shapes(
    stack: Stack, anon: httpx.Client
) -> None:
    client = _client(stack)
    cid, secret = client["client_id"], client["client_secret"]
    form_auth = {"client_id": cid, "client_secret": secret}
    cases: list[tuple[str, dict[str, Any], int, str]] = [
        (
            "wrong secret, Basic",
            {"data": GRANT, "auth": (cid, secret + "x")},
            401,
            "invalid_client",
        ),
        (
            "wrong secret, form",
            {"data": {**GRANT, "client_id": cid, "client_secret": "cpcs_nope"}},
            401,
            "invalid_client",
        ),
        ("unknown client", {"data": GRANT, "auth": ("cli_nobody", secret)}, 401, "invalid_client"),
        ("no client auth", {"data": GRANT}, 401, "invalid_client"),
        ("id without secret", {"data": {**GRANT, "client_id": cid}}, 401, "invalid_client"),
        (
            "bearer on the token endpoint",
            {"data": GRANT, "headers": {"Authorization": f"Bearer {stack.key}"}},
            401,
            "invalid_client",
        ),
        (
            "malformed Basic",
            {"data": GRANT, "headers": {"Authorization": "Basic !!notbase64"}},
            401,
            "invalid_client",
        ),
        (
            "both methods",
            {"data": {**GRANT, **form_auth}, "auth": (cid, secret)},
            400,
            "invalid_request",
        ),
        (
            "Basic and another client_id",
            {"data": {**GRANT, "client_id": "cli_other"}, "auth": (cid, secret)},
            400,
            "invalid_request",
        ),
        ("missing grant_type", {"data": form_auth}, 400, "invalid_request"),
        ("empty grant_type", {"data": {"grant_type": "", **form_auth}}, 400, "invalid_request"),
        (
            "wrong grant_type",
            {"data": {"grant_type": "password", **form_auth}},
            400,
            "unsupported_grant_type",
        ),
        (
            "repeated grant_type",
            {
                "content": f"grant_type=client_credentials&grant_type=client_credentials"
                f"&client_id={cid}&client_secret={secret}",
                "headers": {"Content-Type": "application/x-www-form-urlencoded"},
            },
            400,
            "invalid_request",
        ),
        ("JSON body", {"json": {**GRANT, **form_auth}}, 415, "invalid_request"),
        (
            "secret in the URL",
            {"data": {**GRANT, "client_id": cid}, "params": {"client_secret": secret}},
            400,
            "invalid_request",
        ),
        (
            "scope not granted",
            {"data": {**GRANT, **form_auth, "scope": "admin"}},
            400,
            "invalid_scope",
        ),
        (
            "one scope too many",
            {"data": {**GRANT, **form_auth, "scope": "posts:read usage:read"}},
            400,
            "invalid_scope",
        ),
        (
            "malformed scope",
            {"data": {**GRANT, **form_auth, "scope": 'posts:read "x"'}},
            400,
            "invalid_scope",
        ),
    ]
    for name, request, status, error in cases:
        answer = anon.post("/oauth/token", **request)
        assert answer.status_code == status, (name, answer.text)
        assert answer.headers["content-type"] == PROBLEM, name
        body = answer.json()
        code = "form_required" if status == 415 else error
        assert (body["error"], body["code"]) == (error, code), (name, body)
        assert body["error_description"] and body["error_description"] in body["detail"], name
        assert body["status"] == status and body["type"].endswith(code) and body["title"], name
        assert "access_token" not in body, name
        if status == 401:
            assert answer.headers["www-authenticate"].startswith("Basic"), name
    # The refusals leave the client working.
    assert _token(anon, client).status_code == 200


def test_a_revoked_client_gets_no_token_and_its_tokens_stop_working_everywhere(
    stack: Stack, make_stack: Callable[..., Stack], anon: httpx.Client
) -> None:
    """A second API process on the same database notices within `auth_cache_seconds`."""
    other = make_stack(workers=0, public_url=stack.svc.settings.public_url)
    client = _client(stack)
    token = _token(anon, client).json()["access_token"]
    assert verify_access_token(other.svc, token).client_id == client["id"]  # now cached there

    revoked = stack.http.delete(f"/v1/oauth-clients/{client['id']}")
    assert revoked.status_code == 204
    assert stack.http.delete(f"/v1/oauth-clients/{client['id']}").status_code == 204
    assert stack.http.get(f"/v1/oauth-clients/{client['id']}").json()["revoked_at"] is not None

    refused = _token(anon, client)
    assert refused.status_code == 401 and refused.json()["error"] == "invalid_client"
    assert "revoked" in refused.json()["error_description"]
    with pytest.raises(Unauthorized, match="revoked") as here:
        verify_access_token(stack.svc, token)  # the revoking process: at once
    assert here.value.code == "invalid_token"

    deadline = time.monotonic() + stack.svc.settings.auth_cache_seconds + 5
    while _still_accepted(other, token):
        assert time.monotonic() < deadline, "the other process kept honouring a revoked client"
        time.sleep(0.05)
    with pytest.raises(Unauthorized, match="revoked"):
        verify_access_token(other.svc, token)


def _still_accepted(stack: Stack, token: str) -> bool:
    try:
        verify_access_token(stack.svc, token)
    except Unauthorized:
        return False
    return True


def test_the_revoked_token_is_refused_on_v1(stack: Stack, anon: httpx.Client) -> None:
    """Needs the JWT branch of `api.auth.authenticate`."""
    client = _client(stack)
    token = _token(anon, client).json()["access_token"]
    with _bearer(stack, token) as partner:
        assert partner.get("/v1/posts").status_code == 200
        assert stack.http.delete(f"/v1/oauth-clients/{client['id']}").status_code == 204
        answer = partner.get("/v1/posts")
        assert answer.status_code == 401 and answer.json()["code"] == "invalid_token"


def test_signing_keys_rotate_and_the_old_key_stays_published_until_its_tokens_expire(
    make_stack: Callable[..., Stack],
) -> None:
    clock = FrozenClock(datetime.now(UTC))
    stack = make_stack(workers=0, clock=clock, jwt_key_rotate_seconds=3600)
    ttl = stack.svc.settings.jwt_ttl_seconds
    client = _client(stack)
    with httpx.Client(base_url=stack.api_url, timeout=30) as anon:
        assert _token(anon, client).status_code == 200  # the first token makes the first key
        clock.advance(3599)
        last_of_old = _token(anon, client).json()["access_token"]  # the old key's last token
        clock.advance(1)
        first_of_new = _token(anon, client).json()["access_token"]
        rotated_at = clock.now()
        key_set = _key_set(anon)
        old_kid = jwt.decode(last_of_old, key_set).header["kid"]
        new_kid = jwt.decode(first_of_new, key_set).header["kid"]
        assert old_kid != new_kid and _kids(anon) == {old_kid, new_kid}

        # The old key's token lives to its `exp`, one second short of the TTL from here.
        clock.advance(ttl - 2)
        assert verify_access_token(stack.svc, last_of_old).client_id == client["id"]
        clock.advance(1)
        with pytest.raises(Unauthorized) as expired:
            verify_access_token(stack.svc, last_of_old)
        assert expired.value.code == "token_expired"

        # The old key leaves the JWKS once no token it signed can be alive.
        gone_at = rotated_at + timedelta(seconds=ttl) + PUBLISH_GRACE
        clock.advance((gone_at - clock.now()).total_seconds() - 1)
        assert _kids(anon) == {old_kid, new_kid}
        clock.advance(1)
        assert _kids(anon) == {new_kid}
        assert verify_access_token(stack.svc, _token(anon, client).json()["access_token"])


def test_client_management_refuses_bad_input_and_other_tenants(stack: Stack) -> None:
    cases: list[tuple[dict[str, Any], int, str]] = [
        ({"scopes": ["posts:read", "root"]}, 422, "unknown_scope"),
        ({"scopes": []}, 422, "validation_error"),
        ({"tier": "platinum"}, 422, "unknown_tier"),
        ({"name": ""}, 422, "validation_error"),
        ({"secret": "mine"}, 422, "validation_error"),
    ]
    for body, status, code in cases:
        answer = _create(stack, **body)
        assert (answer.status_code, answer.json()["code"]) == (status, code), (body, answer.text)
        assert answer.headers["content-type"] == PROBLEM

    _, narrow = issue_key(
        stack.svc,
        tenant_id=stack.tenant_id,
        name="n",
        mode=Mode.TEST,
        scopes=("admin", "posts:read"),
    )
    _, plain = issue_key(
        stack.svc, tenant_id=stack.tenant_id, name="p", mode=Mode.TEST, scopes=("posts:read",)
    )
    with _bearer(stack, narrow) as limited, _bearer(stack, plain) as developer:
        escalation = _create(stack, limited)
        assert (escalation.status_code, escalation.json()["code"]) == (403, "scope_escalation")
        assert _create(stack, limited, scopes=["posts:read"]).status_code == 201
        assert _create(stack, developer).json()["code"] == "insufficient_scope"
        assert developer.get("/v1/oauth-clients").status_code == 403

    mine = _client(stack)
    with stack.svc.db.write() as conn:
        other_tenant = new_id("ten")
        conn.execute(
            tenants.insert().values(
                id=other_tenant, name="other", is_default=False, created_at=stack.svc.clock.now()
            )
        )
    _, outsider = issue_key(stack.svc, tenant_id=other_tenant, name="o", mode=Mode.TEST)
    with _bearer(stack, outsider) as stranger:
        assert stranger.get(f"/v1/oauth-clients/{mine['id']}").status_code == 404
        assert stranger.delete(f"/v1/oauth-clients/{mine['id']}").status_code == 404
        assert stranger.get("/v1/oauth-clients").json()["data"] == []
    assert stack.http.get(f"/v1/oauth-clients/{mine['id']}").json()["revoked_at"] is None
    assert stack.http.delete("/v1/oauth-clients/cli_missing").status_code == 404


def test_creation_is_idempotent_and_a_replay_shows_no_secret(stack: Stack) -> None:
    headers = {"Idempotency-Key": "partner-1"}
    body = {"name": "partner", "scopes": ["posts:read"]}
    first = stack.http.post("/v1/oauth-clients", json=body, headers=headers)
    again = stack.http.post("/v1/oauth-clients", json=body, headers=headers)
    assert first.status_code == again.status_code == 201
    assert again.headers["idempotent-replayed"] == "true"
    assert again.json()["id"] == first.json()["id"] and again.json()["client_secret"] is None
    assert first.json()["client_secret"].startswith("cpcs_")
    assert len(stack.http.get("/v1/oauth-clients").json()["data"]) == 1


def test_a_live_key_makes_live_clients_and_live_tokens(stack: Stack, anon: httpx.Client) -> None:
    _, live = issue_key(stack.svc, tenant_id=stack.tenant_id, name="live", mode=Mode.LIVE)
    with _bearer(stack, live) as admin:
        client = _client_via(admin)
    assert client["mode"] == "live"
    token = _token(anon, client).json()["access_token"]
    assert verify_access_token(stack.svc, token).mode is Mode.LIVE


def _client_via(http: httpx.Client) -> dict[str, Any]:
    made = http.post("/v1/oauth-clients", json={"name": "p", "scopes": ["posts:read"]})
    assert made.status_code == 201, made.text
    return dict(made.json())


def test_an_expired_token_is_refused_with_what_to_do(make_stack: Callable[..., Stack]) -> None:
    clock = FrozenClock(datetime.now(UTC))
    stack = make_stack(workers=0, clock=clock)
    client = _client(stack)
    with httpx.Client(base_url=stack.api_url, timeout=30) as anon:
        token = _token(anon, client).json()["access_token"]
    clock.advance(timedelta(seconds=stack.svc.settings.jwt_ttl_seconds).total_seconds())
    with pytest.raises(Unauthorized) as expired:
        verify_access_token(stack.svc, token)
    assert expired.value.code == "token_expired"
    assert "request a new token at POST /oauth/token" in expired.value.detail
