"""Third-party apps a tenant registers, and the grants its people give them.

An app is an OAuth client of kind `app`: confidential (it holds a secret, shown once) or
public (a browser or native app, PKCE alone). Its redirect URIs match exactly, and only
HTTPS ones are accepted, loopback excepted (RFC 8252 §7.3).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Literal
from urllib.parse import urlsplit

from sqlalchemy.engine import Connection

from crosspost.domain.enums import Mode
from crosspost.engine.keys import ALL_SCOPES
from crosspost.engine.oauth_clients import forget_client, forget_grants, generate_secret
from crosspost.engine.services import Services
from crosspost.errors import Forbidden, InvalidInput, NotFound
from crosspost.hosts import is_loopback
from crosspost.identity.audit import Actor, record
from crosspost.ids import new_id
from crosspost.store import oauth_clients as clients_store
from crosspost.store import oauth_grants as store
from crosspost.store.rows import Row
from crosspost.vault.apikeys import hash_key

ClientType = Literal["confidential", "public"]
APP = "app"
_MAX_REDIRECT_URIS = 10
_MAX_URI = 2000


def check_redirect_uri(uri: str) -> str:
    """`uri` if it may receive codes: absolute, HTTPS (or HTTP to a loopback host), with no
    fragment or credentials; else 422 saying which rule it breaks."""
    if len(uri) > _MAX_URI or not uri.isascii() or any(c.isspace() for c in uri):
        raise InvalidInput(
            f"redirect URI {uri[:80]!r} must be at most {_MAX_URI} ASCII characters without spaces",
            code="invalid_redirect_uri",
        )
    try:
        parts = urlsplit(uri)
        host = parts.hostname or ""
        parts.port  # noqa: B018 - raises on a malformed port
    except ValueError:
        raise InvalidInput(
            f"redirect URI {uri!r} is not a valid URL", code="invalid_redirect_uri"
        ) from None
    if not host:
        raise InvalidInput(
            f"redirect URI {uri!r} must be absolute (https://host/path)",
            code="invalid_redirect_uri",
        )
    if parts.fragment or "#" in uri:
        raise InvalidInput(
            f"redirect URI {uri!r} must not have a fragment (RFC 6749 3.1.2)",
            code="invalid_redirect_uri",
        )
    if parts.username is not None or parts.password is not None:
        raise InvalidInput(
            f"redirect URI {uri!r} must not carry credentials", code="invalid_redirect_uri"
        )
    if parts.scheme == "https":
        return uri
    if parts.scheme == "http" and is_loopback(host):
        return uri
    raise InvalidInput(
        f"redirect URI {uri!r} must use https (http is allowed only to localhost, 127.0.0.1 "
        "or [::1], for apps on the user's own machine)",
        code="insecure_redirect_uri",
    )


def _scopes(scopes: Iterable[str], granter: Iterable[str] | None) -> list[str]:
    wanted = list(dict.fromkeys(scopes))
    unknown = [s for s in wanted if s not in ALL_SCOPES]
    if not wanted or unknown:
        raise InvalidInput(
            f"an app needs known scopes; unknown: {', '.join(unknown) or '(none given)'}; "
            f"valid scopes: {', '.join(ALL_SCOPES)}",
            code="unknown_scope",
        )
    if granter is not None:
        held = set(granter)
        missing = [s for s in wanted if s not in held and "admin" not in held]
        if missing:
            raise Forbidden(
                f"you cannot let an app ask for scopes you lack: {', '.join(missing)}",
                code="scope_escalation",
            )
    return wanted


def create_app(
    svc: Services,
    conn: Connection,
    *,
    tenant_id: str,
    name: str,
    client_type: ClientType,
    redirect_uris: Iterable[str],
    scopes: Iterable[str],
    mode: Mode,
    actor: Actor,
    granter_scopes: Iterable[str] | None = None,
) -> tuple[Row, str | None]:
    """Register an app in `conn`'s transaction; returns (its row, the secret to show once,
    None for a public app)."""
    name = name.strip()
    if not name or len(name) > 200:
        raise InvalidInput("name must be 1 to 200 characters", code="invalid_name")
    uris = list(dict.fromkeys(check_redirect_uri(u) for u in redirect_uris))
    if not uris or len(uris) > _MAX_REDIRECT_URIS:
        raise InvalidInput(
            f"an app needs 1 to {_MAX_REDIRECT_URIS} redirect URIs", code="invalid_redirect_uri"
        )
    allowed = _scopes(scopes, granter_scopes)
    secret = generate_secret() if client_type == "confidential" else None
    app_id = new_id("cli")
    now = svc.clock.now()
    clients_store.insert_client(
        conn,
        client_id=app_id,
        tenant_id=tenant_id,
        name=name,
        mode=mode.value,
        secret_hash=hash_key(secret, svc.hash_key) if secret else None,
        scopes=allowed,
        tier=None,
        now=now,
        kind=APP,
        client_type=client_type,
        redirect_uris=uris,
    )
    record(conn, actor, "oauth_app.created", tenant_id=tenant_id, now=now,
           target=("oauth_app", app_id), data={"name": name, "type": client_type})  # fmt: skip
    row = clients_store.get_client(conn, tenant_id, app_id, APP)
    assert row is not None
    return row, secret


def list_apps(svc: Services, tenant_id: str) -> list[Row]:
    """Every app of a tenant, newest first."""
    with svc.db.read() as conn:
        return clients_store.list_clients(conn, tenant_id, APP)


def get_app(svc: Services, tenant_id: str, app_id: str) -> Row:
    """One app of a tenant; 404 when it has none by that id."""
    with svc.db.read() as conn:
        row = clients_store.get_client(conn, tenant_id, app_id, APP)
    if row is None:
        raise NotFound(f"no OAuth app {app_id!r}", code="oauth_app_not_found")
    return row


def delete_app(svc: Services, *, tenant_id: str, app_id: str, actor: Actor) -> None:
    """Revoke an app and every grant given to it (idempotent)."""
    with svc.db.write() as conn:
        now = svc.clock.now()
        if not clients_store.revoke_client(conn, tenant_id, app_id, now, APP):
            raise NotFound(f"no OAuth app {app_id!r}", code="oauth_app_not_found")
        ended = store.revoke_grants(conn, tenant_id, now=now, reason="app_revoked",
                                    client_id=app_id)  # fmt: skip
        record(conn, actor, "oauth_app.revoked", tenant_id=tenant_id, now=now,
               target=("oauth_app", app_id), data={"grants_revoked": len(ended)})  # fmt: skip
    forget_client(svc, app_id)


def list_grants(
    svc: Services, tenant_id: str, *, user_id: str | None = None, client_id: str | None = None
) -> list[Row]:
    """The tenant's active grants (one person's, or one app's, when given)."""
    with svc.db.read() as conn:
        return store.list_grants(conn, tenant_id, user_id=user_id, client_id=client_id)


def revoke_grants(
    svc: Services,
    *,
    tenant_id: str,
    actor: Actor,
    grant_id: str | None = None,
    user_id: str | None = None,
    client_id: str | None = None,
) -> list[str]:
    """End matching grants: their refresh tokens stop at once, their access tokens within
    the auth cache's seconds; 404 when none matched."""
    with svc.db.write() as conn:
        now = svc.clock.now()
        ended = store.revoke_grants(
            conn, tenant_id, now=now, reason="revoked",
            grant_id=grant_id, user_id=user_id, client_id=client_id,
        )  # fmt: skip
        if not ended:
            raise NotFound("no such authorization is active", code="oauth_grant_not_found")
        for one_id in ended:
            record(conn, actor, "oauth_grant.revoked", tenant_id=tenant_id, now=now,
                   target=("oauth_grant", one_id))  # fmt: skip
    forget_grants(svc, ended)
    return ended
