"""The OAuth 2.0 token endpoint (client credentials, RFC 6749 §4.4), the JWK Set that
verifies its tokens, and the authorization server metadata (RFC 8414)."""

from __future__ import annotations

import base64
import binascii
from typing import Any, Literal
from urllib.parse import parse_qsl, unquote_plus

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field

from crosspost.api.deps import ServicesDep
from crosspost.api.errors import problem_responses
from crosspost.engine import oauth_clients
from crosspost.engine.keys import ALL_SCOPES
from crosspost.engine.oauth_clients import GRANT_TYPE, IssuedToken, TokenError
from crosspost.vault.jwt_keys import ALG

router = APIRouter(tags=["oauth2"])

_FORM = "application/x-www-form-urlencoded"
_MAX_BODY = 8 * 1024
_MAX_FIELDS = 20
_PARAMS = ("grant_type", "scope", "client_id", "client_secret")
_JWKS_CACHE = "public, max-age=300"
_TOKEN_FORM = {
    "requestBody": {
        "required": True,
        "content": {
            _FORM: {
                "schema": {
                    "type": "object",
                    "required": ["grant_type"],
                    "properties": {
                        "grant_type": {"type": "string", "enum": [GRANT_TYPE]},
                        "scope": {
                            "type": "string",
                            "description": "Space-separated scopes; default all the client's.",
                        },
                        "client_id": {
                            "type": "string",
                            "description": "With client_secret, instead of HTTP Basic.",
                        },
                        "client_secret": {"type": "string"},
                    },
                }
            }
        },
    }
}


class TokenResponse(BaseModel):
    """An access token (RFC 6749 §5.1): send it as `Authorization: Bearer <access_token>`."""

    access_token: str = Field(
        description="An ES256 JWT (RFC 9068); verify with the JWKS.", repr=False
    )
    token_type: Literal["Bearer"]
    expires_in: int = Field(description="Seconds until the token expires.")
    scope: str = Field(description="The granted scopes, space-separated.")


class JsonWebKeySet(BaseModel):
    """The public keys that verify access tokens (RFC 7517 §5)."""

    keys: list[dict[str, Any]]


@router.post(
    "/oauth/token",
    response_model=TokenResponse,
    responses=problem_responses(400, 401, 415),
    openapi_extra=_TOKEN_FORM,
)
async def token(request: Request, svc: ServicesDep) -> JSONResponse:
    """Exchange client credentials (HTTP Basic, or `client_id` and `client_secret` form
    fields: one of the two) for a short-lived access token. Errors carry the RFC 6749
    `error` and `error_description` members besides the problem+json ones."""
    if "client_secret" in request.query_params:
        raise TokenError(
            "invalid_request", "never put client_secret in the URL; send it in the body"
        )
    form = await _read_form(request)
    grant_type = form.get("grant_type")
    if grant_type is None:
        raise TokenError(
            "invalid_request", "grant_type is missing; send grant_type=client_credentials"
        )
    if grant_type != GRANT_TYPE:
        raise TokenError(
            "unsupported_grant_type", "only grant_type=client_credentials is supported here"
        )
    client_id, client_secret = _client_credentials(request.headers.get("authorization"), form)

    def work() -> IssuedToken:
        client = oauth_clients.authenticate_client(svc, client_id, client_secret)
        return oauth_clients.issue_token(svc, client, form.get("scope"))

    issued = await svc.db.run(work)
    body = TokenResponse(
        access_token=issued.access_token,
        token_type=issued.token_type,
        expires_in=issued.expires_in,
        scope=issued.scope,
    )
    # RFC 6749 §5.1: a token must never be cached.
    return JSONResponse(
        body.model_dump(), headers={"Cache-Control": "no-store", "Pragma": "no-cache"}
    )


@router.get("/.well-known/jwks.json", response_model=JsonWebKeySet)
async def jwks(svc: ServicesDep) -> JSONResponse:
    """The public keys (ES256, by `kid`) that verify our access tokens. During a key
    rotation both keys are listed; fetch again when a token names a `kid` you lack."""
    keys = await svc.db.run(oauth_clients.jwks, svc)
    return JSONResponse(keys, headers={"Cache-Control": _JWKS_CACHE})


@router.get("/.well-known/oauth-authorization-server")
async def metadata(svc: ServicesDep) -> JSONResponse:
    """Authorization server metadata (RFC 8414): where the token endpoint and keys are."""
    base = svc.settings.base_url
    document = {
        "issuer": base,
        "token_endpoint": f"{base}/oauth/token",
        "jwks_uri": f"{base}/.well-known/jwks.json",
        "grant_types_supported": [GRANT_TYPE],
        "token_endpoint_auth_methods_supported": ["client_secret_basic", "client_secret_post"],
        "scopes_supported": list(ALL_SCOPES),
        "response_types_supported": [],
        "token_endpoint_auth_signing_alg_values_supported": [ALG],
    }
    return JSONResponse(document, headers={"Cache-Control": _JWKS_CACHE})


async def _read_form(request: Request) -> dict[str, str]:
    kind = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if kind != _FORM:
        raise TokenError(
            "invalid_request",
            f"send the parameters form-encoded with Content-Type: {_FORM} (RFC 6749 4.4.2)",
            status=415,
            title="Unsupported media type",
            code="form_required",
        )
    raw = await request.body()
    if len(raw) > _MAX_BODY:
        raise TokenError("invalid_request", f"the body exceeds {_MAX_BODY} bytes")
    try:
        pairs = parse_qsl(
            raw.decode(), keep_blank_values=True, errors="strict", max_num_fields=_MAX_FIELDS
        )
    except (UnicodeDecodeError, ValueError):
        raise TokenError(
            "invalid_request", "the body is not a valid UTF-8 form-encoded parameter list"
        ) from None
    form: dict[str, str] = {}
    for name, value in pairs:
        if not value:
            continue  # RFC 6749 §3.1: a parameter without a value counts as omitted
        if name in form and name in _PARAMS:
            raise TokenError("invalid_request", f"{name} is given more than once")
        form.setdefault(name, value)
    return form


def _client_credentials(authorization: str | None, form: dict[str, str]) -> tuple[str, str]:
    form_id, form_secret = form.get("client_id"), form.get("client_secret")
    if authorization:
        basic = _parse_basic(authorization)
        if form_secret is not None:
            raise TokenError(
                "invalid_request",
                "use one client authentication method: HTTP Basic or client_id and "
                "client_secret in the body, not both",
            )
        if form_id is not None and form_id != basic[0]:
            raise TokenError(
                "invalid_request", "client_id in the body differs from the one in HTTP Basic"
            )
        return basic
    if form_id is None or form_secret is None:
        raise TokenError(
            "invalid_client",
            "client authentication is missing: send HTTP Basic credentials "
            "(client_id:client_secret) or both client_id and client_secret form fields",
            status=401,
        )
    return form_id, form_secret


def _parse_basic(authorization: str) -> tuple[str, str]:
    scheme, _, value = authorization.strip().partition(" ")
    if scheme.lower() != "basic":
        raise TokenError(
            "invalid_client",
            "authenticate the client with HTTP Basic (Authorization: Basic ...) or with "
            "client_id and client_secret form fields",
            status=401,
        )
    try:
        decoded = base64.b64decode(value.strip(), validate=True).decode()
    except (binascii.Error, UnicodeDecodeError):
        decoded = ""
    client_id, colon, secret = decoded.partition(":")
    if not colon or not client_id:
        raise TokenError(
            "invalid_client",
            "malformed HTTP Basic credentials; send base64(client_id:client_secret)",
            status=401,
        )
    # RFC 6749 §2.3.1: both parts are form-encoded before base64.
    return unquote_plus(client_id), unquote_plus(secret)
