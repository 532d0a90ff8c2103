"""/v1/targets: every target across the tenant's posts, e.g. all that failed this week."""

from __future__ import annotations

from dataclasses import replace
from typing import Annotated

from fastapi import APIRouter, Query, Request, Response

from crosspost.api.deps import PostsReadDep, ServicesDep
from crosspost.api.errors import problem_responses
from crosspost.api.listing import ListingDep
from crosspost.api.pagination import decode_position, paginate_both
from crosspost.domain.bounds import PageLimit
from crosspost.domain.enums import TargetStatus
from crosspost.domain.models import TargetPublic, TwoWayPage
from crosspost.engine.views import target_public
from crosspost.store import posts
from crosspost.store.rows import Row

router = APIRouter(prefix="/v1/targets", tags=["posts"])
_ERRORS = problem_responses(401, 403, 422)


@router.get("", response_model=TwoWayPage[TargetPublic], responses=_ERRORS)
async def list_targets(
    request: Request,
    response: Response,
    svc: ServicesDep,
    principal: PostsReadDep,
    listing: ListingDep,
    status: TargetStatus | None = None,
    post_id: Annotated[str | None, Query(max_length=40, description="Of this post.")] = None,
    limit: Annotated[PageLimit, Query()] = 50,
    cursor: str | None = None,
) -> TwoWayPage[TargetPublic]:
    """Targets across posts, newest first (`order=oldest` for the other way), narrowed by
    status, platform, account, post and created or published time; follow `next_cursor`."""
    position = decode_position(cursor)
    oldest_first = listing.oldest_first != position.backwards
    where = replace(listing.where, status=status.value if status else None, post_id=post_id)

    def read() -> list[Row]:
        with svc.db.read() as conn:
            return posts.list_targets(
                conn, principal.tenant_id, where=where, after_id=position.after_id,
                limit=limit + 1, oldest_first=oldest_first,
            )  # fmt: skip

    rows = await svc.db.run(read)
    return paginate_both(rows, limit, position, request, response, target_public)
