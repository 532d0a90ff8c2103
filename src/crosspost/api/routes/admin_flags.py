"""/v1/admin/flags: the operator's feature flags — list, read, create or replace, kill,
delete, and ask one for a tenant.

Only an operator key (`cp_op_…`) reaches these routes. Every change is in the audit log,
and every process's flags follow it within a second.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Query, Request, Response
from pydantic import BaseModel, ConfigDict, Field

from crosspost.api.auth import Operator
from crosspost.api.deps import OperatorDep, ServicesDep, client_ip
from crosspost.api.errors import problem_responses
from crosspost.domain.bounds import Range
from crosspost.domain.models import Page
from crosspost.flags import manage
from crosspost.flags.rules import BUCKETS, Flag, Reason, bucket, explain
from crosspost.identity.audit import Actor
from crosspost.store.rows import Row

router = APIRouter(prefix="/v1/admin/flags", tags=["admin"])
_ERRORS = problem_responses(401, 403, 404, 422)

TenantIds = Annotated[list[str], Field(max_length=manage.MAX_TENANTS)]


class FlagPut(BaseModel):
    """A flag as it should be: created, or replaced whole (but see `description` and
    `killed`)."""

    model_config = ConfigDict(extra="forbid")

    description: str | None = Field(
        default=None,
        max_length=manage.MAX_DESCRIPTION,
        description="Omitted: kept (for a new flag the code registers, the code's).",
    )
    enabled: bool = Field(default=True, description="Off: off for every tenant not allowed.")
    rollout_percent: Annotated[int, Range(0, 100)] = Field(
        default=100,
        description="Share of tenants it is on for; raising it keeps the tenants already in.",
    )
    allow_tenants: TenantIds = Field(
        default_factory=list, description="Always on for these (unless killed)."
    )
    deny_tenants: TenantIds = Field(default_factory=list, description="Always off for these.")
    killed: bool | None = Field(
        default=None,
        description="Omitted: a kill stays in place (a routine change cannot undo it by "
        "accident); false revives a killed flag; true kills it.",
    )


class FlagPublic(BaseModel):
    """A feature flag as stored, or a flag the code registers with its default (on)."""

    key: str
    description: str
    enabled: bool
    killed: bool = Field(description="Off for every tenant, allow-list included.")
    rollout_percent: int
    allow_tenants: list[str]
    deny_tenants: list[str]
    version: int = Field(description="Grows on every change of any flag; 0: not stored.")
    stored: bool = Field(description="False: not stored, the code's default answers.")
    registered: bool = Field(description="The code knows this flag (and it defaults on).")
    created_at: datetime | None
    updated_at: datetime | None


class FlagEvaluation(BaseModel):
    """A flag's answer for one tenant, as every process gives it after its next refresh."""

    key: str
    tenant_id: str
    on: bool
    reason: Reason = Field(description="killed, denied, allowed, disabled, everyone, ….")
    detail: str = Field(description="Why, in words.")
    bucket_percent: float = Field(
        description="The tenant's place in this flag's rollout, 0 to 99.99: on while it is "
        "under rollout_percent."
    )
    version: int


def _public(row: Row) -> FlagPublic:
    return FlagPublic.model_validate(row)


def _actor(operator: Operator, request: Request) -> Actor:
    return operator.actor(client_ip(request))


@router.get("", response_model=Page[FlagPublic], responses=_ERRORS)
async def list_flags(svc: ServicesDep, _operator: OperatorDep) -> Page[FlagPublic]:
    """Every stored flag and every flag the code registers, by key (one page: flags are
    few)."""
    rows = await svc.db.run(manage.list_flags, svc.db)
    return Page[FlagPublic](data=[_public(r) for r in rows], has_more=False, next_cursor=None)


@router.get("/{key}", response_model=FlagPublic, responses=_ERRORS)
async def get_flag(key: str, svc: ServicesDep, _operator: OperatorDep) -> FlagPublic:
    """One flag (a registered one not stored answers its default)."""
    return _public(await svc.db.run(manage.get_flag, svc.db, key))


@router.put("/{key}", response_model=FlagPublic, responses=_ERRORS)
async def put_flag(
    key: str, body: FlagPut, request: Request, svc: ServicesDep, operator: OperatorDep
) -> FlagPublic:
    """Create a flag or replace it; a killed flag stays killed unless `killed` says
    otherwise."""
    changes = body.model_dump(exclude_none=True)
    actor = _actor(operator, request)
    row = await svc.db.run(
        lambda: manage.set_flag(svc.db, key, changes, actor=actor, now=svc.clock.now())
    )
    return _public(row)


@router.post("/{key}/kill", response_model=FlagPublic, responses=_ERRORS)
async def kill_flag(
    key: str, request: Request, svc: ServicesDep, operator: OperatorDep
) -> FlagPublic:
    """Switch a flag off for every tenant, allow-list included, in every process within a
    second; a PUT with `killed: false` undoes it."""
    actor = _actor(operator, request)
    row = await svc.db.run(lambda: manage.kill_flag(svc.db, key, actor=actor, now=svc.clock.now()))
    return _public(row)


@router.delete("/{key}", status_code=204, responses=_ERRORS)
async def delete_flag(
    key: str, request: Request, svc: ServicesDep, operator: OperatorDep
) -> Response:
    """Delete a stored flag: a registered one goes back to its default (on). To keep a
    flag off, kill it instead."""
    actor = _actor(operator, request)
    await svc.db.run(lambda: manage.delete_flag(svc.db, key, actor=actor, now=svc.clock.now()))
    return Response(status_code=204)


@router.get("/{key}/evaluate", response_model=FlagEvaluation, responses=_ERRORS)
async def evaluate_flag(
    key: str,
    tenant_id: Annotated[str, Query(min_length=1, max_length=40)],
    svc: ServicesDep,
    _operator: OperatorDep,
) -> FlagEvaluation:
    """Whether a flag is on for a tenant, and why."""
    row, decision = await svc.db.run(manage.check, svc.db, key, tenant_id)
    flag = Flag.from_row(row) if row["stored"] else None
    return FlagEvaluation(
        key=key,
        tenant_id=tenant_id,
        on=decision.on,
        reason=decision.reason,
        detail=explain(flag, tenant_id, decision),
        bucket_percent=bucket(key, tenant_id) / (BUCKETS // 100),
        version=row["version"],
    )
