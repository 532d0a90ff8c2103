"""The OAuth 2.0 authorization server: authlib's grants and endpoints over our tables.

authlib validates the protocol (RFC 6749 grants, RFC 7636 PKCE, RFC 7009 revocation,
RFC 7662 introspection, client authentication); this module gives it our clients, codes,
grants and refresh tokens, and signs access tokens with the server's keys (RFC 9068).

Every call runs inside one database transaction, so an exchange that detects a replayed
code or refresh token commits the revocation of the whole grant even as it answers an
error. Codes and refresh tokens are claimed with a conditional UPDATE: of two racing uses,
the second finds it used, which is a replay.
"""

from __future__ import annotations

import re
import secrets
from datetime import timedelta
from typing import Any

from authlib.oauth2.rfc6749 import AuthorizationServer, OAuth2Request
from authlib.oauth2.rfc6749 import grants as rfc6749
from authlib.oauth2.rfc6749.errors import (
    InvalidClientError,
    InvalidGrantError,
    InvalidRequestError,
    InvalidScopeError,
    OAuth2Error,
    UnsupportedTokenTypeError,
)
from authlib.oauth2.rfc7009 import RevocationEndpoint
from authlib.oauth2.rfc7636 import CodeChallenge
from authlib.oauth2.rfc7662 import IntrospectionEndpoint
from sqlalchemy.engine import Connection

from crosspost.domain.enums import KeyRole
from crosspost.engine.keys import ALL_SCOPES, ROLE_SCOPES
from crosspost.engine.oauth_clients import (
    forget_grants,
    prepare_signing,
    sign_access_token,
    verify_access_token,
)
from crosspost.engine.oauth_types import (
    APP_METHODS,
    SECRET_METHODS,
    Access,
    CallRequest,
    Client,
    Code,
    ConsentRequest,
    OAuthCall,
    Person,
    Refresh,
    Reply,
)
from crosspost.engine.services import Services
from crosspost.errors import Unauthorized
from crosspost.identity.audit import Actor, record
from crosspost.ids import new_id
from crosspost.store import oauth_clients as clients_store
from crosspost.store import oauth_grants as store
from crosspost.store import people, tenants
from crosspost.vault.apikeys import hash_key

CODE_TTL = timedelta(minutes=5)
REFRESH_TTL = timedelta(days=30)
REFRESH_PREFIX = "cprt_"
CODE_METHODS = ("S256",)
_MAX_SCOPE = 1000
# RFC 6749 §3.3: scope-token = 1*( %x21 / %x23-5B / %x5D-7E )
_SCOPE_TOKEN = re.compile(r"[\x21\x23-\x5B\x5D-\x7E]+")
_AGAIN = "send the person through the authorization flow again"


class _Server(AuthorizationServer):  # type: ignore[misc]
    """authlib's server, one per call, bound to the call's transaction."""

    def __init__(self, svc: Services, conn: Connection) -> None:
        super().__init__(scopes_supported=list(ALL_SCOPES))
        self.svc = svc
        self.conn = conn
        self.register_token_generator("default", self._generate)
        self.register_grant(CodeGrant, [_Pkce(required=True)])
        self.register_grant(RefreshGrant)
        self.register_grant(_ServiceGrant)
        self.register_endpoint(_Revocation)
        self.register_endpoint(_Introspection)

    def query_client(self, client_id: str) -> Client | None:
        if not client_id or len(client_id) > 40 or not client_id.isascii():
            return None
        row = clients_store.find_client(self.conn, client_id)
        if row is None:
            return None
        if row["revoked_at"] is not None:
            raise InvalidClientError(
                status_code=401,
                description="this client was revoked; ask the account owner for new "
                "client credentials",
            )
        if tenants.tenant_status(self.conn, row["tenant_id"]) != "active":
            raise InvalidClientError(
                status_code=401,
                description="this client's workspace is suspended or deleted by the "
                "server's operator; its clients get no tokens until it is resumed",
            )
        return Client(row, self.svc.hash_key)

    def validate_requested_scope(self, scope: str | None) -> None:
        if not scope:
            return
        if len(scope) > _MAX_SCOPE:
            raise InvalidScopeError(f"scope is longer than {_MAX_SCOPE} characters")
        tokens = [t for t in scope.split(" ") if t]
        if not all(_SCOPE_TOKEN.fullmatch(t) for t in tokens):
            raise InvalidScopeError("scope must be scope names separated by spaces (RFC 6749 3.3)")
        unknown = [t for t in dict.fromkeys(tokens) if t not in ALL_SCOPES]
        if unknown:
            raise InvalidScopeError(
                f"unknown scope {' '.join(unknown[:10])}; valid scopes: {' '.join(ALL_SCOPES)}"
            )

    def _generate(
        self,
        grant_type: str,
        client: Client,
        user: Person | None = None,
        scope: str | None = None,
        expires_in: int | None = None,
        include_refresh_token: bool = True,
    ) -> dict[str, Any]:
        scopes = (scope or " ".join(client.scopes)).split()
        row = client.row
        issued = sign_access_token(
            self.svc, client_id=row["id"], tenant_id=row["tenant_id"], mode=row["mode"],
            scopes=scopes, user_id=user.user_id if user else None,
            grant_id=user.grant_id if user else None,
        )  # fmt: skip
        token: dict[str, Any] = {
            "token_type": issued.token_type,
            "access_token": issued.access_token,
            "expires_in": issued.expires_in,
            "scope": issued.scope,
        }
        if include_refresh_token and user is not None:
            token["refresh_token"] = REFRESH_PREFIX + secrets.token_urlsafe(32)
        return token

    def save_token(self, token: dict[str, Any], request: OAuth2Request) -> None:
        refresh = token.get("refresh_token")
        person: Person | None = request.user
        if refresh is None or person is None or person.grant_id is None:
            return
        now = self.svc.clock.now()
        store.insert_refresh_token(self.conn, {
            "token_hash": hash_key(refresh, self.svc.hash_key),
            "tenant_id": request.client.row["tenant_id"], "grant_id": person.grant_id,
            "scopes": token["scope"].split(), "created_at": now, "expires_at": now + REFRESH_TTL,
        })  # fmt: skip

    def create_oauth2_request(self, request: OAuthCall | OAuth2Request) -> OAuth2Request:
        return request if isinstance(request, OAuth2Request) else CallRequest(request)

    def handle_response(self, status: int, body: Any, headers: Any) -> Reply:
        return Reply(status, dict(body or {}), list(headers or []))

    def send_signal(self, name: str, *args: Any, **kwargs: Any) -> None:
        return None

    def revoke_grant(self, grant_id: str, reason: str) -> None:
        """End a grant and every token of it, in this call's transaction (audited)."""
        row = store.get_grant(self.conn, grant_id)
        if row is None:
            return
        now = self.svc.clock.now()
        if store.revoke_grants(self.conn, row["tenant_id"], now=now, reason=reason,
                               grant_id=grant_id):  # fmt: skip
            record(self.conn, Actor("app", row["client_id"]), "oauth_grant.revoked",
                   tenant_id=row["tenant_id"], now=now, target=("oauth_grant", grant_id),
                   data={"reason": reason})  # fmt: skip
        forget_grants(self.svc, [grant_id])

    def person(self, tenant_id: str, user_id: str, grant_id: str | None = None) -> Person:
        """The person in the tenant now, or `invalid_grant` once they left it."""
        member = people.membership(self.conn, tenant_id, user_id)
        if member is None:
            raise InvalidGrantError(
                f"the person who authorised this is no longer in its workspace; {_AGAIN}"
            )
        return Person(user_id, KeyRole(member["role"]), grant_id)


class _Pkce(CodeChallenge):  # type: ignore[misc]
    """PKCE, required of every app and with S256 only (RFC 9700 §2.1.1)."""

    SUPPORTED_CODE_CHALLENGE_METHOD = list(CODE_METHODS)

    def validate_code_challenge(self, grant: Any, redirect_uri: str) -> None:
        data = grant.request.payload.data
        if not data.get("code_challenge"):
            raise InvalidRequestError(
                "code_challenge is required: PKCE with code_challenge_method=S256"
            )
        if data.get("code_challenge_method") != "S256":
            raise InvalidRequestError("code_challenge_method must be S256 (plain is refused)")
        super().validate_code_challenge(grant, redirect_uri)


class CodeGrant(rfc6749.AuthorizationCodeGrant):  # type: ignore[misc]
    TOKEN_ENDPOINT_AUTH_METHODS = APP_METHODS
    server: _Server

    def save_authorization_code(self, code: str, request: OAuth2Request) -> None:
        svc, person = self.server.svc, request.user
        now = svc.clock.now()
        client = request.client
        # Never more than the person's role holds, whatever reached this far.
        scopes = [s for s in request.scope.split() if s in ROLE_SCOPES[person.role]]
        store.insert_code(self.server.conn, {
            "code_hash": hash_key(code, svc.hash_key), "tenant_id": client.row["tenant_id"],
            "client_id": client.row["id"], "user_id": person.user_id,
            "redirect_uri": request.payload.redirect_uri or client.get_default_redirect_uri(),
            "scopes": scopes, "code_challenge": request.payload.data["code_challenge"],
            "created_at": now, "expires_at": now + CODE_TTL,
        })  # fmt: skip

    def query_authorization_code(self, code: str, client: Client) -> Code | None:
        server = self.server
        row = store.find_code(server.conn, hash_key(code, server.svc.hash_key), client.row["id"])
        if row is None:
            return None
        if row["used_at"] is not None:
            # RFC 6749 §4.1.2: a code used twice revokes what it gave.
            if row["grant_id"]:
                server.revoke_grant(row["grant_id"], "code_reused")
            raise InvalidGrantError(
                f"this authorization code was already used; every token it gave is revoked; "
                f"{_AGAIN}"
            )
        if row["expires_at"] <= server.svc.clock.now():
            raise InvalidGrantError(f"the authorization code expired; {_AGAIN}")
        return Code(row)

    def delete_authorization_code(self, authorization_code: Code) -> None:
        """Kept, marked used (by `authenticate_user`), so a replay is recognised; the
        maintenance job deletes it once expired."""

    def authenticate_user(self, authorization_code: Code) -> Person:
        server, row = self.server, authorization_code.row
        now = server.svc.clock.now()
        person = server.person(row["tenant_id"], row["user_id"])
        grant_id = new_id("grt")
        if not store.use_code(server.conn, row["code_hash"], grant_id, now):
            raise InvalidGrantError(f"this authorization code was already used; {_AGAIN}")
        store.insert_grant(server.conn, {
            "id": grant_id, "tenant_id": row["tenant_id"], "client_id": row["client_id"],
            "user_id": row["user_id"], "scopes": row["scopes"], "created_at": now,
            "last_used_at": now,
        })  # fmt: skip
        record(server.conn, Actor("user", row["user_id"]), "oauth_grant.created",
               tenant_id=row["tenant_id"], now=now, target=("oauth_grant", grant_id),
               data={"client_id": row["client_id"], "scopes": row["scopes"]})  # fmt: skip
        return Person(person.user_id, person.role, grant_id)


class RefreshGrant(rfc6749.RefreshTokenGrant):  # type: ignore[misc]
    TOKEN_ENDPOINT_AUTH_METHODS = APP_METHODS
    INCLUDE_NEW_REFRESH_TOKEN = True
    server: _Server

    def authenticate_refresh_token(self, refresh_token: str) -> Refresh | None:
        server = self.server
        if not refresh_token.startswith(REFRESH_PREFIX) or len(refresh_token) > 100:
            return None
        row = store.find_refresh_token(server.conn, hash_key(refresh_token, server.svc.hash_key))
        if row is None:
            return None
        if row["rotated_at"] is not None:
            # A rotated token presented again: stolen, or replayed. End the family.
            server.revoke_grant(row["grant_id"], "refresh_reused")
            raise InvalidGrantError(
                f"this refresh token was already used, so every token of its grant is now "
                f"revoked; {_AGAIN}"
            )
        if row["grant_revoked_at"] is not None:
            raise InvalidGrantError(f"this grant was revoked; {_AGAIN}")
        if row["expires_at"] <= server.svc.clock.now():
            raise InvalidGrantError(f"the refresh token expired; {_AGAIN}")
        return Refresh(row)

    def authenticate_user(self, refresh_token: Refresh) -> Person:
        row = refresh_token.row
        return self.server.person(row["tenant_id"], row["user_id"], row["grant_id"])

    def revoke_old_credential(self, refresh_token: Refresh) -> None:
        server, row = self.server, refresh_token.row
        now = server.svc.clock.now()
        if not store.rotate_refresh_token(server.conn, row["token_hash"], now):
            # Another exchange used it meanwhile: a replay as well.
            server.revoke_grant(row["grant_id"], "refresh_reused")
            raise InvalidGrantError(f"this refresh token was used twice at once; {_AGAIN}")
        store.touch_grant(server.conn, row["grant_id"], now)


class _ServiceGrant(rfc6749.ClientCredentialsGrant):  # type: ignore[misc]
    TOKEN_ENDPOINT_AUTH_METHODS = SECRET_METHODS

    def validate_token_request(self) -> None:
        super().validate_token_request()
        requested = self.request.payload.scope
        held = self.request.client.scopes
        missing = [t for t in dict.fromkeys((requested or "").split()) if t not in held]
        if missing:
            raise InvalidScopeError(
                f"this client may not request {' '.join(missing[:10])}; its scopes are: "
                f"{' '.join(held)}"
            )


class _TokenEndpoint:
    """What revocation and introspection share: client authentication and token lookup."""

    CLIENT_AUTH_METHODS = APP_METHODS
    server: _Server

    def authenticate_endpoint_client(self, request: OAuth2Request) -> Client:
        client = self.server.authenticate_client(request, self.CLIENT_AUTH_METHODS, "token")
        request.client = client
        return client  # type: ignore[no-any-return]

    def query_token(self, token: str, hint: str | None) -> Refresh | Access | None:
        server = self.server
        if token.startswith(REFRESH_PREFIX):
            row = store.find_refresh_token(server.conn, hash_key(token, server.svc.hash_key))
            live = row is not None and row["rotated_at"] is None
            if live and row is not None and row["grant_revoked_at"] is None:
                return Refresh(row) if row["expires_at"] > server.svc.clock.now() else None
            return None
        try:
            claims = verify_access_token(server.svc, token)
        except Unauthorized:
            return None  # expired, revoked, not ours: inactive either way
        return Access(claims)


class _Revocation(_TokenEndpoint, RevocationEndpoint):  # type: ignore[misc]
    def revoke_token(self, token: Refresh | Access, request: OAuth2Request) -> None:
        grant_id = token.row["grant_id"] if isinstance(token, Refresh) else token.claims.grant_id
        if grant_id is None:
            raise UnsupportedTokenTypeError(
                "a client-credentials token cannot be revoked; it expires within minutes; "
                "revoke the client to stop it at once"
            )
        self.server.revoke_grant(grant_id, "revoked_by_client")


class _Introspection(_TokenEndpoint, IntrospectionEndpoint):  # type: ignore[misc]
    def check_permission(self, token: Refresh | Access, client: Client, request: Any) -> bool:
        # A client may introspect its own tokens, and a service any token of its tenant
        # (a partner's resource server checking what a person's app presents).
        tenant = token.row["tenant_id"] if isinstance(token, Refresh) else token.claims.tenant_id
        return token.check_client(client) or (
            not client.is_app and tenant == client.row["tenant_id"]
        )

    def introspect_token(self, token: Refresh | Access) -> dict[str, Any]:
        base = self.server.svc.settings.base_url
        if isinstance(token, Refresh):
            row = token.row
            return {
                "active": True, "token_type": "refresh_token", "client_id": row["client_id"],
                "sub": row["user_id"], "scope": " ".join(row["scopes"]),
                "exp": int(row["expires_at"].timestamp()), "iss": base,
                "tenant": row["tenant_id"], "grant": row["grant_id"],
            }  # fmt: skip
        claims = token.claims
        answer: dict[str, Any] = {
            "active": True, "token_type": "Bearer", "client_id": claims.client_id,
            "sub": claims.user_id or claims.client_id, "scope": " ".join(sorted(claims.scopes)),
            "exp": int(claims.expires_at.timestamp()), "iss": base, "aud": "crosspost",
            "tenant": claims.tenant_id, "mode": claims.mode.value,
        }  # fmt: skip
        if claims.grant_id:
            answer["grant"] = claims.grant_id
        return answer


def token(svc: Services, call: OAuthCall) -> Reply:
    """The token endpoint: authorization code, refresh token or client credentials."""
    prepare_signing(svc)
    with svc.db.write() as conn:
        return _Server(svc, conn).create_token_response(call)  # type: ignore[no-any-return]


def revoke(svc: Services, call: OAuthCall) -> Reply:
    """RFC 7009: revoke a refresh or access token (and with it the grant it belongs to)."""
    with svc.db.write() as conn:
        return _Server(svc, conn).create_endpoint_response("revocation", call)  # type: ignore[no-any-return]


def introspect(svc: Services, call: OAuthCall) -> Reply:
    """RFC 7662: whether a token is active, and what it carries."""
    with svc.db.write() as conn:
        return _Server(svc, conn).create_endpoint_response("introspection", call)  # type: ignore[no-any-return]


class ConsentRefused(Exception):
    """An authorization request that cannot go back to the app (unknown client, bad
    redirect URI): the person sees `reason` instead."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def _app(server: _Server, call: OAuthCall) -> Client:
    """The registered app an authorization request names; `ConsentRefused` otherwise."""
    try:
        client = server.query_client(call.params.get("client_id", ""))
    except OAuth2Error:
        client = None
    if client is None or not client.is_app:
        raise ConsentRefused("this app is unknown here, or was revoked by its workspace")
    return client


def precheck(svc: Services, call: OAuthCall) -> None:
    """Refuse, before anyone is asked to sign in, an authorization request that could never
    go back to its app: an unknown app or an unregistered redirect URI (`ConsentRefused`)."""
    with svc.db.read() as conn:
        client = _app(_Server(svc, conn), call)
    uri = call.params.get("redirect_uri")
    if uri is not None and not client.check_redirect_uri(uri):
        raise ConsentRefused(
            "this redirect_uri is not registered for the app; its developer must register "
            "the exact URI"
        )


def _grant(server: _Server, call: OAuthCall, user_id: str) -> tuple[Any, Person]:
    """The validated authorization request and the person in the app's tenant; raises
    `ConsentRefused` or the redirectable `OAuth2Error`."""
    client = _app(server, call)
    member = people.membership(server.conn, client.row["tenant_id"], user_id)
    if member is None:
        raise ConsentRefused(
            "your account is not a member of the workspace that registered this app; sign "
            "in with an account of that workspace"
        )
    person = Person(user_id, KeyRole(member["role"]))
    try:
        grant = server.get_consent_grant(CallRequest(call), end_user=person)
    except OAuth2Error as error:
        if error.redirect_uri:
            raise
        raise ConsentRefused(error.get_error_description() or error.error) from None
    return grant, person


def consent(svc: Services, call: OAuthCall, user_id: str) -> ConsentRequest | Reply:
    """Check an authorization request for the consent page: what the page shows, or the
    error redirect back to the app; raises `ConsentRefused` when it cannot go back."""
    with svc.db.read() as conn:
        server = _Server(svc, conn)
        try:
            grant, person = _grant(server, call, user_id)
        except OAuth2Error as error:
            return server.handle_error_response(grant_request(call), error)  # type: ignore[no-any-return]
        client: Client = grant.request.client
        requested = tuple(grant.request.scope.split())
        role_scopes = ROLE_SCOPES[person.role]
        tenant = tenants.get_tenant(conn, client.row["tenant_id"])
        return ConsentRequest(
            client_id=client.get_client_id(), app_name=client.row["name"],
            workspace=tenant["name"] if tenant else "", redirect_uri=grant.redirect_uri,
            requested=requested, grantable=tuple(s for s in requested if s in role_scopes),
            params=dict(call.params),
        )  # fmt: skip


def grant_request(call: OAuthCall) -> OAuth2Request:
    """authlib's request for `call`."""
    return CallRequest(call)


def decide(
    svc: Services, call: OAuthCall, user_id: str, *, allow: bool, granted: list[str]
) -> Reply:
    """The person's answer on the consent page: a redirect to the app with a code for the
    scopes they granted (within what was asked and their role allows), or `access_denied`."""
    with svc.db.write() as conn:
        server = _Server(svc, conn)
        try:
            grant, person = _grant(server, call, user_id)
        except OAuth2Error as error:
            return server.handle_error_response(grant_request(call), error)  # type: ignore[no-any-return]
        requested = grant.request.scope.split()
        chosen = [s for s in requested if s in granted and s in ROLE_SCOPES[person.role]]
        narrowed = OAuthCall(call.method, call.uri, call.headers,
                             {**call.params, "scope": " ".join(chosen)})  # fmt: skip
        request = CallRequest(narrowed)
        request.user = person
        grant.request = request
        user = person if allow and chosen else None
        return server.create_authorization_response(request, grant_user=user, grant=grant)  # type: ignore[no-any-return]
