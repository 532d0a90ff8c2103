"""/v1/keys: the tenant's API keys — create, list, change limits, roll, revoke (admin)."""

from __future__ import annotations

from datetime import timedelta

from fastapi import APIRouter, Request, Response
from sqlalchemy.engine import Connection

from crosspost.api.auth import KeyCache, Principal
from crosspost.api.deps import AdminDep, ServicesDep, client_ip
from crosspost.api.errors import problem_responses
from crosspost.api.idempotency import IdempotencyKey, create_idempotently
from crosspost.domain.enums import KeyRole
from crosspost.domain.models import KeyCreate, KeyCreated, KeyPublic, KeyRoll, KeyUpdate, Page
from crosspost.engine import keys
from crosspost.errors import NotFound
from crosspost.store import tenants
from crosspost.store.rows import Row

router = APIRouter(prefix="/v1/keys", tags=["keys"])
_ERRORS = problem_responses(401, 403, 404, 409, 422)


def _public(row: Row) -> KeyPublic:
    return KeyPublic.model_validate(row)


def _created(row: Row, raw: str | None) -> KeyCreated:
    return KeyCreated.model_validate({**row, "key": raw})


def _issuer(principal: Principal, request: Request) -> keys.Issuer:
    return keys.Issuer(principal.scopes, principal.role, principal.actor(client_ip(request)))


def _answer(row: Row, raw: str) -> tuple[bytes, bytes]:
    # A replay answers the same key without its secret: no secret rests in the database.
    return (
        _created(row, raw).model_dump_json().encode(),
        _created(row, None).model_dump_json().encode(),
    )


@router.post("", status_code=201, response_model=KeyCreated, responses=_ERRORS)
async def create_key(
    request: Request,
    body: KeyCreate,
    svc: ServicesDep,
    principal: AdminDep,
    idempotency_key: IdempotencyKey = None,
) -> Response:
    """Create a key with a role (default developer) or explicit scopes; its secret is in
    this answer only."""
    issuer = _issuer(principal, request)
    scopes = tuple(body.scopes) if body.scopes is not None else None
    role = body.role or (None if scopes is not None else KeyRole.DEVELOPER)

    def create(conn: Connection) -> tuple[bytes, bytes]:
        row, raw = keys.create_key(
            svc,
            conn,
            tenant_id=principal.tenant_id,
            name=body.name,
            mode=body.mode or principal.mode,
            role=role,
            scopes=scopes,
            tier=body.tier,
            rate_limits=body.rate_limits.model_dump() if body.rate_limits else None,
            expires_at=body.expires_at,
            issuer=issuer,
        )
        return _answer(row, raw)

    return await create_idempotently(svc, principal, request, idempotency_key, create)


@router.get("", response_model=Page[KeyPublic], responses=_ERRORS)
async def list_keys(svc: ServicesDep, principal: AdminDep) -> Page[KeyPublic]:
    """Every key of the tenant, newest first (never their secrets)."""

    def read() -> list[Row]:
        with svc.db.read() as conn:
            return tenants.list_api_keys(conn, principal.tenant_id)

    rows = await svc.db.run(read)
    return Page[KeyPublic](data=[_public(r) for r in rows], has_more=False, next_cursor=None)


@router.get("/{key_id}", response_model=KeyPublic, responses=_ERRORS)
async def get_key(key_id: str, svc: ServicesDep, principal: AdminDep) -> KeyPublic:
    """One key."""

    def read() -> Row | None:
        with svc.db.read() as conn:
            return tenants.get_api_key(conn, principal.tenant_id, key_id)

    row = await svc.db.run(read)
    if row is None:
        raise NotFound(f"no API key {key_id!r}")
    return _public(row)


@router.patch("/{key_id}", response_model=KeyPublic, responses=_ERRORS)
async def update_key(
    key_id: str, body: KeyUpdate, request: Request, svc: ServicesDep, principal: AdminDep
) -> KeyPublic:
    """Rename a key or change its tier / rate-limit override (`null` clears them)."""
    changes = body.model_dump(exclude_unset=True)
    if changes.get("name", "") is None:
        changes.pop("name")
    row = await svc.db.run(
        lambda: keys.update_limits(
            svc,
            tenant_id=principal.tenant_id,
            key_id=key_id,
            changes=changes,
            issuer=_issuer(principal, request),
        )
    )
    _forget(request, key_id)
    return _public(row)


@router.post("/{key_id}/roll", status_code=201, response_model=KeyCreated, responses=_ERRORS)
async def roll_key(
    key_id: str,
    request: Request,
    svc: ServicesDep,
    principal: AdminDep,
    body: KeyRoll | None = None,
    idempotency_key: IdempotencyKey = None,
) -> Response:
    """Replace a key with a new secret of the same powers; the old one keeps working for
    `overlap_seconds` (default 24 h), then stops."""
    issuer = _issuer(principal, request)
    seconds = body.overlap_seconds if body else None
    overlap = timedelta(seconds=seconds) if seconds is not None else None

    def create(conn: Connection) -> tuple[bytes, bytes]:
        row, raw = keys.roll_key(
            svc, conn, tenant_id=principal.tenant_id, key_id=key_id, overlap=overlap, issuer=issuer
        )
        return _answer(row, raw)

    response = await create_idempotently(svc, principal, request, idempotency_key, create)
    _forget(request, key_id)
    return response


@router.delete("/{key_id}", status_code=204, responses=_ERRORS)
async def revoke_key(
    key_id: str, request: Request, svc: ServicesDep, principal: AdminDep
) -> Response:
    """Revoke a key at once; this process stops accepting it now, others within seconds."""
    issuer = _issuer(principal, request)
    await svc.db.run(
        lambda: keys.revoke_key(svc, tenant_id=principal.tenant_id, key_id=key_id, issuer=issuer)
    )
    _forget(request, key_id)
    return Response(status_code=204)


def _forget(request: Request, key_id: str) -> None:
    cache: KeyCache = request.app.state.key_cache
    cache.forget(key_id)
