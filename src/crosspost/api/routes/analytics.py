"""/v1/analytics: the tenant's API requests over a time range, with latency percentiles."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query

from crosspost.api.deps import ServicesDep, UsageReadDep
from crosspost.api.errors import problem_responses
from crosspost.domain.analytics import AnalyticsGroup, AnalyticsReport, GroupBy
from crosspost.usage.analytics_report import analytics_report, resolve_range

router = APIRouter(prefix="/v1/analytics", tags=["usage"])
_ERRORS = problem_responses(401, 403, 422)


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
            return analytics_report(conn, [principal.tenant_id], since, until, group_by)

    data = await svc.db.run(read)
    return AnalyticsReport(
        from_=since,
        to=until,
        group_by=group_by,
        data=[AnalyticsGroup.model_validate(d) for d in data],
    )
