"""How callers authenticate, as the OpenAPI document declares it.

`AUTHORIZATION` is the one FastAPI security dependency: `get_principal` reads the
`Authorization` header through it, so FastAPI writes each operation's OAuth 2.0 requirement,
with the scopes its `Security(get_principal, scopes=…)` enforces. `document_security` then
offers the same scopes through the other ways of presenting credentials (an API key as a
Bearer token, alone or with the HMAC signing headers), so a new route is covered by what
it depends on, never by a list kept here.
"""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI
from fastapi.openapi.models import (
    OAuthFlowAuthorizationCode,
    OAuthFlowClientCredentials,
    OAuthFlows,
)
from fastapi.security import APIKeyCookie, APIKeyHeader, OAuth2

from crosspost.api.errors import PROBLEM
from crosspost.api.openapi_extend import amend_document
from crosspost.engine.keys import SCOPE_DESCRIPTIONS
from crosspost_sdk.signing import KEY_ID_HEADER, NONCE_HEADER, SIGNATURE_HEADER, TIMESTAMP_HEADER

TOKEN_URL = "/oauth/token"  # noqa: S105 -- a path, not a secret
AUTHORIZE_URL = "/oauth/authorize"
OAUTH2 = "oauth2"
API_KEY = "bearer"
API_KEY_HEADER = "apiKeyHeader"
SESSION_SCHEME = "sessionCookie"
SIGNATURE = "signature"
SIGNATURE_TIMESTAMP = "signatureTimestamp"
SIGNATURE_NONCE = "signatureNonce"
SIGNATURE_KEY_ID = "signatureKeyId"

_SIGNED_ALONE = "Part of a signed request: send X-Signature, X-Timestamp and X-Nonce together"

AUTHORIZATION = OAuth2(
    flows=OAuthFlows(
        clientCredentials=OAuthFlowClientCredentials(
            tokenUrl=TOKEN_URL, scopes=dict(SCOPE_DESCRIPTIONS)
        ),
        authorizationCode=OAuthFlowAuthorizationCode(
            authorizationUrl=AUTHORIZE_URL,
            tokenUrl=TOKEN_URL,
            refreshUrl=TOKEN_URL,
            scopes=dict(SCOPE_DESCRIPTIONS),
        ),
    ),
    scheme_name=OAUTH2,
    description=(
        "OAuth 2.0: client credentials for partner backends (trade a client's id and secret "
        f"at {TOKEN_URL}), or the authorization code flow with PKCE (S256) for third-party "
        "apps a person authorises; either gives a short-lived JWT, sent as "
        "`Authorization: Bearer <token>`."
    ),
    # Missing or malformed credentials are refused by get_principal with its own problem.
    auto_error=False,
)

# The operator's server-level key, for /v1/admin/* only (the header's whole value is read:
# `Bearer cp_op_…`).
OPERATOR = APIKeyHeader(
    name="Authorization",
    scheme_name="operatorKey",
    description=(
        "The server operator's key: `Authorization: Bearer cp_op_…` (or `X-API-Key: cp_op_…`), "
        "created on the server with `crosspost operator-keys create`. Tenant keys are refused."
    ),
    auto_error=False,
)

SESSION_COOKIE_NAME = "cp_session"
# A person signed in (POST /v1/auth/login); unsafe methods also need X-CSRF-Token.
SESSION = APIKeyCookie(
    name=SESSION_COOKIE_NAME,
    scheme_name="sessionCookie",
    description=(
        "A signed-in person's session (POST /v1/auth/login sets it). Requests other than "
        "GET also send the session's csrf_token as X-CSRF-Token."
    ),
    auto_error=False,
)

_SCHEMES: dict[str, dict[str, Any]] = {
    API_KEY: {
        "type": "http",
        "scheme": "bearer",
        "bearerFormat": "cp_test_… or cp_live_…",
        "description": (
            "An API key: `Authorization: Bearer cp_test_…` (sandbox) or `cp_live_…`. A key "
            "holds scopes (its role's or its own); the scopes listed with it are needed."
        ),
    },
    SESSION_SCHEME: {
        "type": "apiKey",
        "in": "cookie",
        "name": "cp_session",
        "description": "A signed-in person's session, acting with their role's scopes; "
        "requests other than GET also send X-CSRF-Token.",
    },
    API_KEY_HEADER: {
        "type": "apiKey",
        "in": "header",
        "name": "X-API-Key",
        "description": "The same API key as the bearer scheme, as `X-API-Key: cp_…` instead.",
    },
    SIGNATURE: {
        "type": "apiKey",
        "in": "header",
        "name": SIGNATURE_HEADER,
        "description": (
            "HMAC request signing, on top of the API key: lowercase hex HMAC-SHA256 of the "
            "string to sign (method, raw path, canonical query, body SHA-256, X-Timestamp, "
            "X-Nonce, joined by \\n), keyed with the key's signing secret (`cpsig_…`). "
            "Goes with X-Timestamp and X-Nonce (and optionally X-Key-Id); a tenant may "
            "require it. See the README's 'Signed requests (HMAC)'."
        ),
    },
    SIGNATURE_TIMESTAMP: {
        "type": "apiKey",
        "in": "header",
        "name": TIMESTAMP_HEADER,
        "description": f"{_SIGNED_ALONE}: the signing time, UTC `YYYY-MM-DDTHH:MM:SSZ`.",
    },
    SIGNATURE_NONCE: {
        "type": "apiKey",
        "in": "header",
        "name": NONCE_HEADER,
        "description": f"{_SIGNED_ALONE}: 16-128 random `A-Za-z0-9_-`, new every request.",
    },
    SIGNATURE_KEY_ID: {
        "type": "apiKey",
        "in": "header",
        "name": KEY_ID_HEADER,
        "description": (
            f"{_SIGNED_ALONE}; optional: the `sig_…` id of the signing secret used "
            "(without it every active secret of the key is tried)."
        ),
    },
}
_SIGNED = (SIGNATURE, SIGNATURE_TIMESTAMP, SIGNATURE_NONCE)


def document_security(app: FastAPI) -> None:
    """Declare the security schemes and each operation's alternatives (call once)."""
    amend_document(app, _declare)


def _declare(document: dict[str, Any]) -> None:
    components = document.setdefault("components", {})
    components.setdefault("securitySchemes", {}).update(_SCHEMES)
    has_problem = "Problem" in components.get("schemas", {})
    for item in document.get("paths", {}).values():
        for operation in item.values():
            scopes = _oauth2_scopes(operation)
            if scopes is None:
                continue  # public: no credentials are read
            operation["security"] = _alternatives(scopes)
            if has_problem:
                _answers(operation, scoped=bool(scopes))


def _alternatives(scopes: list[str]) -> list[dict[str, list[str]]]:
    """Each way to call an operation that needs `scopes` (any one of them will do)."""
    signed = {API_KEY: scopes, **{name: [] for name in _SIGNED}}
    return [
        {API_KEY: scopes},
        {API_KEY_HEADER: scopes},
        {SESSION_SCHEME: scopes},
        signed,
        {**signed, SIGNATURE_KEY_ID: []},
        {OAUTH2: scopes},
    ]


def _oauth2_scopes(operation: Any) -> list[str] | None:
    if not isinstance(operation, dict):
        return None
    for requirement in operation.get("security", []):
        if OAUTH2 in requirement:
            return list(requirement[OAUTH2])
    return None


def _answers(operation: dict[str, Any], *, scoped: bool) -> None:
    """Document the refusals the credentials check itself can answer."""
    responses = operation.setdefault("responses", {})
    refusals = {"401": "Unauthorized", **({"403": "Forbidden"} if scoped else {})}
    for status, title in refusals.items():
        responses.setdefault(
            status,
            {
                "description": title,
                "content": {PROBLEM: {"schema": {"$ref": "#/components/schemas/Problem"}}},
            },
        )
