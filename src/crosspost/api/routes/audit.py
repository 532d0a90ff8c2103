"""/v1/audit: the tenant's audit log — sign-ins, keys, roles, settings — newest first."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Request, Response

from crosspost.api.deps import AdminDep, ServicesDep, require_flag
from crosspost.api.errors import problem_responses
from crosspost.api.pagination import decode_cursor, paginate
from crosspost.domain.admin import AuditEventPublic
from crosspost.domain.bounds import AwareInstant, PageLimit
from crosspost.domain.models import Page
from crosspost.store import audit
from crosspost.store.rows import Row

router = APIRouter(prefix="/v1/audit", tags=["audit"])
_ERRORS = problem_responses(401, 403, 422)


@router.get("", response_model=Page[AuditEventPublic], responses=_ERRORS)
async def list_audit_events(
    request: Request,
    response: Response,
    svc: ServicesDep,
    principal: AdminDep,
    action: Annotated[
        str | None,
        Query(
            max_length=64,
            description="One action (`key.created`) or a family ending in a dot (`key.`).",
        ),
    ] = None,
    actor_id: Annotated[str | None, Query(max_length=64)] = None,
    target_id: Annotated[str | None, Query(max_length=64)] = None,
    since: Annotated[AwareInstant | None, Query(description="Created at or after.")] = None,
    until: Annotated[AwareInstant | None, Query(description="Created before.")] = None,
    limit: Annotated[PageLimit, Query()] = 50,
    cursor: str | None = None,
) -> Page[AuditEventPublic]:
    """Who did what in this tenant, newest first; follow `next_cursor`."""
    require_flag(request, "audit.log", principal.tenant_id)
    after = decode_cursor(cursor) if cursor else None

    def read() -> list[Row]:
        with svc.db.read() as conn:
            return audit.page(
                conn, principal.tenant_id, limit=limit + 1, after=after, action=action,
                actor_id=actor_id, target_id=target_id, since=since, until=until,
            )  # fmt: skip

    rows = await svc.db.run(read)
    return paginate(rows, limit, request, response, AuditEventPublic.model_validate)
