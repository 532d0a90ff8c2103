"""/v1/admin/analytics: the operator's view of API traffic across every tenant."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query

from crosspost.api.deps import OperatorDep, ServicesDep
from crosspost.api.errors import problem_responses
from crosspost.domain.analytics import AdminAnalyticsReport, AdminGroupBy, AnalyticsGroup
from crosspost.store import tenants
from crosspost.usage.analytics_report import analytics_report, resolve_range

router = APIRouter(prefix="/v1/admin/analytics", tags=["admin"])
_ERRORS = problem_responses(401, 403, 422)


@router.get("", response_model=AdminAnalyticsReport, responses=_ERRORS)
async def get_admin_analytics(
    svc: ServicesDep,
    _operator: OperatorDep,
    start: Annotated[
        str | None,
        Query(alias="from", description="ISO 8601 start (inclusive); default: 24 h before `to`."),
    ] = None,
    end: Annotated[
        str | None, Query(alias="to", description="ISO 8601 end (exclusive); default: now.")
    ] = None,
    group_by: AdminGroupBy = "tenant",
    tenant_id: Annotated[
        str | None, Query(max_length=40, description="Only this tenant's requests.")
    ] = None,
) -> AdminAnalyticsReport:
    """Requests, errors, p50/p95/p99 latency and bytes of every tenant's API calls (or one
    tenant's) per tenant, endpoint or status, over at most 31 days. Operator keys only."""
    since, until = resolve_range(start, end, svc.clock.now())

    def read() -> list[dict[str, Any]]:
        with svc.db.read() as conn:
            wanted = [tenant_id] if tenant_id else tenants.tenant_ids(conn)
            return analytics_report(conn, wanted, since, until, group_by)

    data = await svc.db.run(read)
    return AdminAnalyticsReport(
        from_=since, to=until, group_by=group_by,
        data=[AnalyticsGroup.model_validate(d) for d in data],
    )  # fmt: skip
