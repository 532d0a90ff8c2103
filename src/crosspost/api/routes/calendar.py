"""/v1/calendar: the tenant's posts by the local day they publish on, as a calendar shows
them."""

from __future__ import annotations

from datetime import date
from typing import Annotated

from fastapi import APIRouter, Query

from crosspost.api.deps import PostsReadDep, ServicesDep
from crosspost.api.errors import problem_responses
from crosspost.domain.bounds import Range
from crosspost.domain.calendar import Calendar
from crosspost.engine.calendar import MAX_DAYS, calendar
from crosspost.localtime import zone_named

router = APIRouter(prefix="/v1/calendar", tags=["posts"])
_ERRORS = problem_responses(401, 403, 422)


@router.get("", response_model=Calendar, responses=_ERRORS)
async def get_calendar(
    svc: ServicesDep,
    principal: PostsReadDep,
    start: Annotated[date, Query(alias="from", description="The first day, YYYY-MM-DD.")],
    end: Annotated[
        date, Query(alias="to", description=f"The last day (inclusive); at most {MAX_DAYS} days.")
    ],
    timezone: Annotated[
        str, Query(max_length=64, description="The IANA zone the days are in.")
    ] = "UTC",
    per_day: Annotated[
        int, Range(1, 100), Query(description="Posts shown per day, earliest first.")
    ] = 10,
) -> Calendar:
    """Each day of [from, to] in `timezone`: how many posts publish on it (whatever their
    status) and the first `per_day` of them, with their time, status, text excerpt and
    targets. The posts beyond are in `GET /v1/posts?scheduled_since=…&scheduled_until=…`."""
    zone = zone_named(timezone)

    def read() -> Calendar:
        with svc.db.read() as conn:
            return calendar(conn, principal.tenant_id, start, end, zone, per_day)

    return await svc.db.run(read)
