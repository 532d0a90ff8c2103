"""The OAuth 2.0 endpoints a client calls: token (authorization code with PKCE, refresh
token, client credentials), revocation (RFC 7009), introspection (RFC 7662), the JWK Set that
verifies access tokens, and the authorization server metadata (RFC 8414). The protocol is
authlib's, in `engine.oauth_server`; this module checks the HTTP request around it."""

from __future__ import annotations

import base64
import binascii
from typing import Any, Literal
from urllib.parse import parse_qsl, unquote_plus

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field

from crosspost.api.deps import ServicesDep, client_ip, limit_attempts
from crosspost.api.errors import problem_responses
from crosspost.engine import oauth_clients, oauth_server
from crosspost.engine.keys import ALL_SCOPES
from crosspost.engine.oauth_server import CODE_METHODS
from crosspost.engine.oauth_types import APP_METHODS, GRANT_TYPES, OAuthCall, TokenError
from crosspost.engine.services import Services

router = APIRouter(tags=["oauth2"])

_FORM = "application/x-www-form-urlencoded"
_MAX_BODY = 8 * 1024
_MAX_FIELDS = 20
_JWKS_CACHE = "public, max-age=300"
_FIELDS: dict[str, str] = {
    "grant_type": "authorization_code, refresh_token or client_credentials.",
    "code": "authorization_code: the code the redirect brought.",
    "redirect_uri": "authorization_code: the redirect_uri of the authorization request.",
    "code_verifier": "authorization_code: the PKCE verifier of the request's S256 challenge.",
    "refresh_token": "refresh_token: the latest refresh token (each use replaces it).",
    "scope": "Space-separated scopes; default all the grant's (or the client's).",
    "client_id": "A public app's id; or, with client_secret, instead of HTTP Basic.",
    "client_secret": "A confidential client's secret, if not sent with HTTP Basic.",
    "token": "The token to revoke or introspect.",
    "token_type_hint": "access_token or refresh_token.",
}
# Given twice, any of these is refused; unknown parameters are ignored (RFC 6749 §3.1).
_PARAMS = tuple(_FIELDS)


def _token_form(*required: str) -> dict[str, Any]:
    names = [n for n in _FIELDS if n in required or n in ("client_id", "client_secret")]
    if "grant_type" in required:
        names = [n for n in _FIELDS if n not in ("token", "token_type_hint")]
    properties = {n: {"type": "string", "description": _FIELDS[n]} for n in names}
    schema = {"type": "object", "required": list(required[:1]), "properties": properties}
    return {"requestBody": {"required": True, "content": {_FORM: {"schema": schema}}}}


_TOKEN_FORM = _token_form("grant_type")


class TokenResponse(BaseModel):
    """An access token (RFC 6749 §5.1): send it as `Authorization: Bearer <access_token>`."""

    access_token: str = Field(
        description="An ES256 JWT (RFC 9068); verify with the JWKS.", repr=False
    )
    token_type: Literal["Bearer"]
    expires_in: int = Field(description="Seconds until the token expires.")
    scope: str = Field(description="The granted scopes, space-separated.")
    refresh_token: str | None = Field(
        default=None,
        description="For an app a person authorised: trade it for a new access token and a "
        "new refresh token; each is good once (a reused one revokes the grant).",
        repr=False,
    )


class JsonWebKeySet(BaseModel):
    """The public keys that verify access tokens (RFC 7517 §5)."""

    keys: list[dict[str, Any]]


@router.post(
    "/oauth/token",
    response_model=TokenResponse,
    responses=problem_responses(400, 401, 415, 429),
    openapi_extra=_TOKEN_FORM,
)
async def token(request: Request, svc: ServicesDep) -> JSONResponse:
    """Trade an authorization code (with its PKCE verifier), a refresh token or client
    credentials for an access token. A confidential client authenticates with HTTP Basic or
    `client_id` and `client_secret` form fields (one of the two); a public app sends its
    `client_id` alone. Errors carry the RFC 6749 `error` and `error_description` members
    besides the problem+json ones."""
    call = await _call(request, svc, "token")
    if not call.params.get("grant_type"):
        raise TokenError(
            "invalid_request",
            "grant_type is missing; send authorization_code, refresh_token or client_credentials",
        )
    reply = await svc.db.run(oauth_server.token, svc, call)
    refusal = reply.error()
    if refusal is not None:
        raise refusal
    # RFC 6749 §5.1: a token must never be cached.
    return JSONResponse(reply.body, headers={"Cache-Control": "no-store", "Pragma": "no-cache"})


@router.post(
    "/oauth/revoke",
    responses=problem_responses(400, 401, 415, 429),
    openapi_extra=_token_form("token", "token_type_hint"),
)
async def revoke(request: Request, svc: ServicesDep) -> JSONResponse:
    """Revoke a refresh or access token (RFC 7009), and with it the grant it belongs to:
    every token of that authorization stops. An unknown or already revoked token answers
    200 too, as the RFC requires."""
    call = await _call(request, svc, "revoke")
    reply = await svc.db.run(oauth_server.revoke, svc, call)
    refusal = reply.error()
    if refusal is not None:
        raise refusal
    return JSONResponse({}, headers={"Cache-Control": "no-store"})


@router.post(
    "/oauth/introspect",
    responses=problem_responses(400, 401, 415, 429),
    openapi_extra=_token_form("token", "token_type_hint"),
)
async def introspect(request: Request, svc: ServicesDep) -> JSONResponse:
    """Whether a token is active and what it carries (RFC 7662). A client may introspect
    its own tokens; a service client any token of its tenant."""
    call = await _call(request, svc, "introspect")
    reply = await svc.db.run(oauth_server.introspect, svc, call)
    refusal = reply.error()
    if refusal is not None:
        raise refusal
    return JSONResponse(reply.body, headers={"Cache-Control": "no-store"})


@router.get("/.well-known/jwks.json", response_model=JsonWebKeySet)
async def jwks(svc: ServicesDep) -> JSONResponse:
    """The public keys (ES256, by `kid`) that verify our access tokens. During a key
    rotation both keys are listed; fetch again when a token names a `kid` you lack."""
    keys = await svc.db.run(oauth_clients.jwks, svc)
    return JSONResponse(keys, headers={"Cache-Control": _JWKS_CACHE})


@router.get("/.well-known/oauth-authorization-server")
async def metadata(svc: ServicesDep) -> JSONResponse:
    """Authorization server metadata (RFC 8414): the endpoints, and what they support."""
    base = svc.settings.base_url
    document = {
        "issuer": base,
        "authorization_endpoint": f"{base}/oauth/authorize",
        "token_endpoint": f"{base}/oauth/token",
        "revocation_endpoint": f"{base}/oauth/revoke",
        "introspection_endpoint": f"{base}/oauth/introspect",
        "jwks_uri": f"{base}/.well-known/jwks.json",
        "response_types_supported": ["code"],
        "response_modes_supported": ["query"],
        "grant_types_supported": list(GRANT_TYPES),
        "code_challenge_methods_supported": list(CODE_METHODS),
        "token_endpoint_auth_methods_supported": APP_METHODS,
        "revocation_endpoint_auth_methods_supported": APP_METHODS,
        "introspection_endpoint_auth_methods_supported": APP_METHODS,
        "scopes_supported": list(ALL_SCOPES),
        "authorization_response_iss_parameter_supported": False,
    }
    return JSONResponse(document, headers={"Cache-Control": _JWKS_CACHE})


async def _call(request: Request, svc: Services, endpoint: str) -> OAuthCall:
    """The endpoint's request, checked for what authlib leaves to the framework: a form
    body, each parameter once, no secret in the URL, one client authentication method,
    and the attempts of one address and one client limited (guessing secrets is slow)."""
    if "client_secret" in request.query_params:
        raise TokenError(
            "invalid_request", "never put client_secret in the URL; send it in the body"
        )
    form = await _read_form(request)
    client_id = _check_client_auth(request.headers.get("authorization"), form)
    keys = [f"ip:{client_ip(request)}"] + ([f"client:{client_id[:40]}"] if client_id else [])
    await limit_attempts(request, "oauth", svc.settings.token_requests_per_minute, *keys)
    return OAuthCall(
        method="POST",
        uri=f"{svc.settings.base_url}/oauth/{endpoint}",
        headers=request.headers,
        params=form,
    )


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


def _check_client_auth(authorization: str | None, form: dict[str, str]) -> str | None:
    """The client id the request names, after refusing ambiguous client authentication;
    authlib then authenticates it."""
    form_id = form.get("client_id")
    if not authorization:
        return form_id
    basic_id, _ = _parse_basic(authorization)
    if "client_secret" in form:
        raise TokenError(
            "invalid_request",
            "use one client authentication method: HTTP Basic or client_id and "
            "client_secret in the body, not both",
        )
    if form_id is not None and form_id != basic_id:
        raise TokenError(
            "invalid_request", "client_id in the body differs from the one in HTTP Basic"
        )
    return basic_id


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
