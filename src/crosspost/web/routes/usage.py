"""Usage and analytics: this month's usage against the quotas, API calls per day, and per
endpoint and key the requests, error rate and p50/p95/p99 latency."""

from __future__ import annotations

from datetime import timedelta
from typing import Annotated

from fastapi import APIRouter, Query, Request
from starlette.responses import Response

from crosspost.engine.services import Services
from crosspost.web.charts import HEIGHT, WIDTH, bars
from crosspost.web.pages import render
from crosspost.web.people import signed_in
from crosspost.web.traffic import RANGES, chosen, range_window

router = APIRouter()
_DAYS = 14


@router.get("/app/usage")
async def usage(request: Request, over: Annotated[str, Query(alias="range")] = "24h") -> Response:
    """The usage page."""
    person, api = await signed_in(request)
    svc: Services = request.app.state.services
    now = svc.clock.now()
    window = range_window(over, now)
    report = await api.get("/v1/usage")
    endpoints = await api.get("/v1/analytics", group_by="endpoint", **window)
    keys = await api.get("/v1/analytics", group_by="key", **window)
    # Calls per day: one look at each day of the last two weeks.
    today = now.replace(hour=0, minute=0, second=0, microsecond=0)
    days = []
    for back in range(_DAYS - 1, -1, -1):
        start = today - timedelta(days=back)
        end = min(start + timedelta(days=1), now)
        day = await api.get(
            "/v1/analytics", group_by="status", **{"from": start.isoformat(), "to": end.isoformat()}
        )
        total = sum(g["requests"] for g in day["data"])
        failed = sum(g["errors"] for g in day["data"])
        days.append((start.strftime("%b %d"), total, failed))
    return render(request, "usage.html", person=person, report=report,
                  endpoints=endpoints["data"], keys=keys["data"], range=chosen(over),
                  ranges=list(RANGES), chart=bars(days), chart_width=WIDTH,
                  chart_height=HEIGHT, days=_DAYS)  # fmt: skip
