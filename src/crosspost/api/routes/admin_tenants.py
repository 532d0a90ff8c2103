"""/v1/admin/tenants: the operator creates, changes, suspends, resumes and deletes tenants.

Only an operator key (`cp_op_…`) reaches these routes; a tenant's key is refused with 403.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Query, Request, Response
from sqlalchemy.engine import Connection

from crosspost.api.auth import KeyCache, Operator
from crosspost.api.deps import OperatorDep, ServicesDep, client_ip, require_flag
from crosspost.api.errors import problem_responses
from crosspost.api.idempotency import IdempotencyKey, create_idempotently
from crosspost.api.pagination import decode_cursor, paginate
from crosspost.api.routes.usage import QuotaList, QuotaPublic, QuotaUpdate
from crosspost.domain.admin import TenantAdmin, TenantCreate, TenantStatus, TenantUpdate
from crosspost.domain.bounds import PageLimit
from crosspost.domain.models import Page
from crosspost.engine import tenants
from crosspost.engine.services import Services
from crosspost.identity import audit
from crosspost.identity.audit import Actor
from crosspost.store import tenants as store
from crosspost.store.rows import Row
from crosspost.usage import metering


async def _enabled(request: Request) -> None:
    require_flag(request, "admin.tenants", None)


router = APIRouter(prefix="/v1/admin/tenants", tags=["admin"], dependencies=[Depends(_enabled)])
_ERRORS = problem_responses(401, 403, 404, 409, 422)


def _public(row: Row) -> TenantAdmin:
    return TenantAdmin.model_validate(row)


def _actor(operator: Operator, request: Request) -> Actor:
    return operator.actor(client_ip(request))


@router.post("", status_code=201, response_model=TenantAdmin, responses=_ERRORS)
async def create_tenant(
    request: Request,
    body: TenantCreate,
    svc: ServicesDep,
    operator: OperatorDep,
    idempotency_key: IdempotencyKey = None,
) -> Response:
    """Create a tenant (workspace); its first keys come from `crosspost keys create
    --tenant` or, once people sign in, from its owner."""
    actor = _actor(operator, request)
    settings = body.model_dump(exclude_unset=True, exclude={"name"})

    def create(conn: Connection) -> tuple[bytes, bytes]:
        row = tenants.create(svc, conn, name=body.name, actor=actor, **settings)
        answer = _public(row).model_dump_json().encode()
        return answer, answer

    return await create_idempotently(svc, operator, request, idempotency_key, create)


@router.get("", response_model=Page[TenantAdmin], responses=_ERRORS)
async def list_tenants(
    request: Request,
    response: Response,
    svc: ServicesDep,
    _operator: OperatorDep,
    status: TenantStatus | None = None,
    limit: Annotated[PageLimit, Query()] = 20,
    cursor: str | None = None,
) -> Page[TenantAdmin]:
    """Tenants, newest first, optionally of one status; follow `next_cursor`."""
    after = decode_cursor(cursor) if cursor else None

    def read() -> list[Row]:
        with svc.db.read() as conn:
            return store.page_tenants(conn, limit=limit + 1, after=after, status=status)

    rows = await svc.db.run(read)
    return paginate(rows, limit, request, response, _public)


@router.get("/{tenant_id}", response_model=TenantAdmin, responses=_ERRORS)
async def get_tenant(tenant_id: str, svc: ServicesDep, _operator: OperatorDep) -> TenantAdmin:
    """One tenant, whatever its status."""

    def read() -> Row:
        with svc.db.read() as conn:
            return tenants.get(conn, tenant_id)

    return _public(await svc.db.run(read))


@router.patch("/{tenant_id}", response_model=TenantAdmin, responses=_ERRORS)
async def update_tenant(
    tenant_id: str, body: TenantUpdate, request: Request, svc: ServicesDep, operator: OperatorDep
) -> TenantAdmin:
    """Rename a tenant or change its settings (`null` returns one to the server's)."""
    changes = body.model_dump(exclude_unset=True)
    if changes.get("name", "") is None:
        changes.pop("name")
    if changes.get("require_signing", False) is None:
        changes["require_signing"] = False
    actor = _actor(operator, request)

    def write() -> Row:
        with svc.db.write() as conn:
            return tenants.update(svc, conn, tenant_id, changes, actor)

    row = await svc.db.run(write)
    _forget(request, tenant_id)
    return _public(row)


Lifecycle = Literal["suspend", "resume"]


async def _lifecycle(
    svc: Services, request: Request, operator: Operator, tenant_id: str, act: Lifecycle
) -> TenantAdmin:
    actor = _actor(operator, request)
    change = tenants.suspend if act == "suspend" else tenants.resume

    def write() -> Row:
        with svc.db.write() as conn:
            return change(svc, conn, tenant_id, actor)

    row = await svc.db.run(write)
    _forget(request, tenant_id)
    request.app.state.wake_workers()
    return _public(row)


@router.post("/{tenant_id}/suspend", response_model=TenantAdmin, responses=_ERRORS)
async def suspend_tenant(
    tenant_id: str, request: Request, svc: ServicesDep, operator: OperatorDep
) -> TenantAdmin:
    """Refuse the tenant's keys (403 `tenant_suspended`) and hold its targets where they
    stand; nothing is lost. Idempotent."""
    return await _lifecycle(svc, request, operator, tenant_id, "suspend")


@router.post("/{tenant_id}/resume", response_model=TenantAdmin, responses=_ERRORS)
async def resume_tenant(
    tenant_id: str, request: Request, svc: ServicesDep, operator: OperatorDep
) -> TenantAdmin:
    """Make a suspended tenant, or a deleted one before its purge, active again; its
    waiting targets run at once. Idempotent."""
    return await _lifecycle(svc, request, operator, tenant_id, "resume")


@router.delete("/{tenant_id}", status_code=202, response_model=TenantAdmin, responses=_ERRORS)
async def delete_tenant(
    tenant_id: str,
    request: Request,
    svc: ServicesDep,
    operator: OperatorDep,
    retention_days: Annotated[
        int | None,
        Query(ge=0, le=3650, description="Days before the purge (default: the server's)."),
    ] = None,
) -> TenantAdmin:
    """Soft-delete a tenant: keys refused, everything kept until `purge_after` (resume
    restores it), then its rows, media and secrets are purged. Idempotent."""
    actor = _actor(operator, request)
    days = svc.settings.tenant_retention_days if retention_days is None else retention_days

    def write() -> Row:
        with svc.db.write() as conn:
            return tenants.delete(svc, conn, tenant_id, actor, retention=timedelta(days=days))

    row = await svc.db.run(write)
    _forget(request, tenant_id)
    request.app.state.wake_workers()
    return _public(row)


def _forget(request: Request, tenant_id: str) -> None:
    cache: KeyCache = request.app.state.key_cache
    cache.forget(tenant_id=tenant_id)


@router.put("/{tenant_id}/quotas", response_model=QuotaList, responses=_ERRORS)
async def put_tenant_quota(
    tenant_id: str, body: QuotaUpdate, request: Request, svc: ServicesDep, operator: OperatorDep
) -> QuotaList:
    """Set (replace) a tenant's or one of its keys' quota on a metric, as the operator: the
    tenant's own keys can then read it but not change it."""
    actor = _actor(operator, request)
    month = metering.period_of(svc.clock.now())

    def write() -> list[dict[str, Any]]:
        with svc.db.write() as conn:
            tenants.get(conn, tenant_id)
            metering.set_quota(
                conn, tenant_id=tenant_id, metric=body.metric, soft_limit=body.soft_limit,
                hard_limit=body.hard_limit, key_id=body.key_id, by_operator=True,
            )  # fmt: skip
            audit.record(
                conn, actor, "quota.set", tenant_id=tenant_id, now=svc.clock.now(),
                target=("quota", f"{body.key_id or 'tenant'}:{body.metric}"),
                data=body.model_dump(),
            )  # fmt: skip
            return metering.quota_report(conn, tenant_id, month)

    quotas = await svc.db.run(write)
    request.app.state.analytics.forget(tenant_id)
    return QuotaList(period=month, data=[QuotaPublic.model_validate(q) for q in quotas])
