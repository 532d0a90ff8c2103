"""How posts performed: `GET /v1/posts/{id}/metrics` and `GET /v1/analytics/posts`."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Request

from crosspost.api.deps import PostsReadDep, ServicesDep, require_flag
from crosspost.api.errors import problem_responses
from crosspost.domain.enums import Platform
from crosspost.domain.metrics import MetricsGroupBy, PostAnalytics, PostMetrics
from crosspost.engine.metrics_views import load_post_metrics, post_analytics, resolve_window

router = APIRouter(tags=["posts"])
_ERRORS = problem_responses(401, 404, 409, 422)
_FLAG = "posts.metrics"


@router.get("/v1/posts/{post_id}/metrics", response_model=PostMetrics, responses=_ERRORS)
async def get_post_metrics(
    request: Request, post_id: str, svc: ServicesDep, principal: PostsReadDep
) -> PostMetrics:
    """How a post performed on each platform it was published to: each target's latest
    counts, every fetch (1 h, 6 h, 24 h, 72 h, 7 d after publishing, then weekly for 90
    days by default) and where its schedule stands. 409 `not_published` before any target
    of the post is published."""
    require_flag(request, _FLAG, principal.tenant_id)

    def read() -> PostMetrics:
        with svc.db.read() as conn:
            return load_post_metrics(conn, principal.tenant_id, post_id)

    return await svc.db.run(read)


@router.get("/v1/analytics/posts", response_model=PostAnalytics, responses=_ERRORS)
async def get_post_analytics(
    request: Request,
    svc: ServicesDep,
    principal: PostsReadDep,
    group_by: Annotated[
        MetricsGroupBy, Query(description="platform, account, or day (UTC) of publishing.")
    ] = "platform",
    start: Annotated[
        str | None,
        Query(
            alias="from",
            description="ISO 8601 start of the publishing window (inclusive; without an "
            "offset, UTC); default: 90 days before `to`.",
        ),
    ] = None,
    end: Annotated[
        str | None,
        Query(
            alias="to",
            description="ISO 8601 end of the window (exclusive); default: now. At most 366 "
            "days after `from`.",
        ),
    ] = None,
    platform: Annotated[Platform | None, Query(description="Only this platform.")] = None,
) -> PostAnalytics:
    """How the posts published in the window performed: the latest counts of their
    targets (views, likes, comments, shares), summed per platform, account or day."""
    require_flag(request, _FLAG, principal.tenant_id)
    since, until = resolve_window(start, end, svc.clock.now())

    def read() -> PostAnalytics:
        with svc.db.read() as conn:
            return post_analytics(
                conn, principal.tenant_id, group_by=group_by, since=since, until=until,
                platform=platform.value if platform else None,
            )  # fmt: skip

    return await svc.db.run(read)
