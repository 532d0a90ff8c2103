"""/v1/analytics: the tenant's API requests over a time range, with latency percentiles."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Query
from pydantic import BaseModel, ConfigDict, Field

from crosspost.api.deps import ServicesDep, UsageReadDep
from crosspost.api.errors import problem_responses
from crosspost.usage.analytics_report import GroupBy, analytics_report, resolve_range

router = APIRouter(prefix="/v1/analytics", tags=["usage"])
_ERRORS = problem_responses(401, 403, 422)


class AnalyticsGroup(BaseModel):
    """Requests of one endpoint, status or key in the range."""

    group: str = Field(
        description="`METHOD /route/{template}`, the status code, or the API key id."
    )
    requests: int
    errors: int = Field(description="Requests answered with a status of 400 or more.")
    p50_ms: float
    p95_ms: float
    p99_ms: float
    request_bytes: int
    response_bytes: int


class AnalyticsReport(BaseModel):
    """API analytics of the tenant over [from, to)."""

    model_config = ConfigDict(populate_by_name=True)

    from_: datetime = Field(alias="from")
    to: datetime
    group_by: GroupBy
    data: list[AnalyticsGroup]


@router.get("", response_model=AnalyticsReport, responses=_ERRORS)
async def get_analytics(
    svc: ServicesDep,
    principal: UsageReadDep,
    start: Annotated[
        str | None,
        Query(
            alias="from",
            description="ISO 8601 start (inclusive; without an offset, UTC); default: 24 h "
            "before `to`.",
        ),
    ] = None,
    end: Annotated[
        str | None,
        Query(
            alias="to",
            description="ISO 8601 end (exclusive; without an offset, UTC); default: now.",
        ),
    ] = None,
    group_by: GroupBy = "endpoint",
) -> AnalyticsReport:
    """Requests, errors, p50/p95/p99 latency (exact, nearest rank) and bytes per endpoint,
    status or key, over at most 31 days. Rows are written about a second after each request."""
    since, until = resolve_range(start, end, svc.clock.now())

    def read() -> list[dict[str, Any]]:
        with svc.db.read() as conn:
            return analytics_report(conn, principal.tenant_id, since, until, group_by)

    data = await svc.db.run(read)
    return AnalyticsReport(
        from_=since,
        to=until,
        group_by=group_by,
        data=[AnalyticsGroup.model_validate(d) for d in data],
    )
