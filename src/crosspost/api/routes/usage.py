"""/v1/usage: the tenant's metered usage per month, and its monthly quotas."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from pydantic import BaseModel, ConfigDict, Field

from crosspost.api.deps import AdminDep, ServicesDep, UsageReadDep, client_ip, require_flag
from crosspost.api.errors import problem_responses
from crosspost.domain.bounds import Count64
from crosspost.engine.services import Services
from crosspost.identity import audit
from crosspost.usage import metering

router = APIRouter(prefix="/v1/usage", tags=["usage"])
_ERRORS = problem_responses(401, 403, 404, 422)
_METRICS_DOC = ", ".join(metering.METRICS)
_LIMIT_DOC = (
    "A count (bytes for bytes_uploaded); whole minutes for media_minutes, at most "
    f"{metering.MAX_MINUTES_LIMIT}."
)


class QuotaPublic(BaseModel):
    """A monthly quota on one metric, with what the metric used this period."""

    metric: str
    key_id: str | None = Field(
        default=None, description="The API key it limits; null for the tenant as a whole."
    )
    set_by: str = Field(
        default="tenant", description="`operator` when the server's operator set it (fixed)."
    )
    soft_limit: int | None = Field(description="At or past it, responses carry X-Usage-Warning.")
    hard_limit: int | None = Field(description="Requests that would pass it are refused (402).")
    used: int | float


class QuotaList(BaseModel):
    """The tenant's quotas and the period their `used` counts."""

    period: str
    data: list[QuotaPublic]


class QuotaUpdate(BaseModel):
    """A quota to set; omitting a limit removes it, omitting both removes the quota."""

    model_config = ConfigDict(extra="forbid")

    # Checked by the metering (422 `unknown_metric` listing them); the enum documents them.
    metric: str = Field(
        description=f"One of: {_METRICS_DOC}.",
        examples=["posts"],
        json_schema_extra={"enum": list(metering.METRICS)},
    )
    key_id: str | None = Field(
        default=None,
        max_length=40,
        description="Limit one API key instead of the tenant (the stricter of the two wins; "
        "not for api_calls, which a key's rate limits bound).",
    )
    soft_limit: Count64 | None = Field(default=None, examples=[800], description=_LIMIT_DOC)
    hard_limit: Count64 | None = Field(default=None, examples=[1000], description=_LIMIT_DOC)


class KeyUsage(BaseModel):
    """One API key's usage in the period."""

    key_id: str
    metrics: dict[str, int | float]


class UsageReport(BaseModel):
    """A month of usage: tenant totals, per key, and the quotas."""

    period: str = Field(examples=["2026-11"])
    tenant: dict[str, int | float] = Field(
        description="Totals per metric; media_minutes in minutes (2 decimals)."
    )
    keys: list[KeyUsage]
    quotas: list[QuotaPublic]


@router.get("", response_model=UsageReport, responses=_ERRORS)
async def get_usage(
    svc: ServicesDep,
    principal: UsageReadDep,
    period: Annotated[
        str | None, Query(description="Calendar month in UTC, YYYY-MM; default: this month.")
    ] = None,
) -> UsageReport:
    """Usage of the tenant in one calendar month (UTC), in total and per API key."""
    month = metering.parse_period(period) if period is not None else _this_month(svc)

    def read() -> dict[str, Any]:
        with svc.db.read() as conn:
            return metering.usage_report(conn, principal.tenant_id, month)

    return UsageReport.model_validate(await svc.db.run(read))


@router.get("/quotas", response_model=QuotaList, responses=_ERRORS)
async def get_quotas(svc: ServicesDep, principal: UsageReadDep) -> QuotaList:
    """The tenant's monthly quotas, each with what it used this month."""
    month = _this_month(svc)

    def read() -> list[dict[str, Any]]:
        with svc.db.read() as conn:
            return metering.quota_report(conn, principal.tenant_id, month)

    return QuotaList(
        period=month, data=[QuotaPublic.model_validate(q) for q in await svc.db.run(read)]
    )


@router.put("/quotas", response_model=QuotaList, responses=_ERRORS)
async def put_quota(
    body: QuotaUpdate, request: Request, svc: ServicesDep, principal: AdminDep
) -> QuotaList:
    """Set (replace) the quota on one metric; needs the `admin` scope. Hard limits apply to
    posts, media_minutes (whole minutes), bytes_uploaded, api_calls and exports; the published
    metrics take a soft limit only."""
    month = _this_month(svc)
    if body.key_id:
        require_flag(request, "quotas.per_key", principal.tenant_id)

    def write() -> list[dict[str, Any]]:
        with svc.db.write() as conn:
            metering.set_quota(
                conn,
                tenant_id=principal.tenant_id,
                metric=body.metric,
                soft_limit=body.soft_limit,
                hard_limit=body.hard_limit,
                key_id=body.key_id,
            )
            audit.record(
                conn, principal.actor(client_ip(request)), "quota.set",
                tenant_id=principal.tenant_id, now=svc.clock.now(),
                target=("quota", f"{body.key_id or 'tenant'}:{body.metric}"),
                data=body.model_dump(),
            )  # fmt: skip
            return metering.quota_report(conn, principal.tenant_id, month)

    quotas = await svc.db.run(write)
    recorder = getattr(request.app.state, "analytics", None)
    if recorder is not None:
        # A raised api_calls limit lets this process's refused tenant back in at once.
        recorder.forget(principal.tenant_id)
    return QuotaList(period=month, data=[QuotaPublic.model_validate(q) for q in quotas])


def _this_month(svc: Services) -> str:
    return metering.period_of(svc.clock.now())
