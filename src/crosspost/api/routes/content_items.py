"""/v1/content-items: seed 002's content items, one per clip a pipeline took in, filtered
and sorted as seed 002's generation request does, reviewed, and their stored parts read.

Reading needs `posts:read`; a review needs `posts:write`.
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query, Request, Response

from crosspost.api import subtitles
from crosspost.api.deps import PostsReadDep, PostsWriteDep, ServicesDep
from crosspost.api.errors import problem_responses
from crosspost.api.object_response import object_response
from crosspost.api.pagination import decode_cursor, paginate
from crosspost.domain.bounds import PageLimit
from crosspost.domain.models import Page
from crosspost.domain.pipeline import (
    ContentCategory,
    ContentItemPublic,
    ContentPlatform,
    ProcessingStatus,
    Review,
    ReviewBody,
)
from crosspost.errors import InvalidInput
from crosspost.pipeline import content_items
from crosspost.store import content_items as rows
from crosspost.store.rows import Row

router = APIRouter(prefix="/v1/content-items", tags=["content items"])
_ERRORS = problem_responses(401, 403, 404, 422)
SortBy = Literal["created_at", "view_count", "content_score", "duration"]
Part = Literal["audio", "transcript", "github-context"]
_SORT_COLUMNS = {"created_at": "clip_created_at", "view_count": "clip_view_count",
                 "content_score": "content_score", "duration": "clip_duration"}  # fmt: skip
_NonNegative = Annotated[float, Query(ge=0, le=1e9, allow_inf_nan=False)]


@router.get("", response_model=Page[ContentItemPublic], responses=_ERRORS)
async def list_content_items(
    request: Request,
    response: Response,
    svc: ServicesDep,
    principal: PostsReadDep,
    pipeline_id: str | None = None,
    since: Annotated[datetime | None, Query(description="Clips made at or after.")] = None,
    until: Annotated[datetime | None, Query(description="Clips made before.")] = None,
    min_views: Annotated[int | None, Query(ge=0, le=2**31 - 1)] = None,
    min_duration: _NonNegative | None = None,
    max_duration: _NonNegative | None = None,
    category: Annotated[list[ContentCategory] | None, Query()] = None,
    min_confidence: Annotated[float | None, Query(ge=0, le=1, allow_inf_nan=False)] = None,
    platform: ContentPlatform | None = None,
    status: Annotated[list[ProcessingStatus] | None, Query()] = None,
    review: Annotated[list[Review] | None, Query()] = None,
    sort_by: SortBy = "created_at",
    sort_order: Literal["asc", "desc"] = "desc",
    limit: Annotated[PageLimit, Query()] = 20,
    cursor: str | None = None,
) -> Page[ContentItemPublic]:
    """A page of content items matching every filter given (repeat `category`, `status`
    and `review` to allow several), sorted by `sort_by` (unscored items last)."""
    for name, value in (("since", since), ("until", until)):
        if value is not None and value.tzinfo is None:
            raise InvalidInput(f"give {name} with a time zone, e.g. 2026-01-02T00:00:00Z")
    if min_duration is not None and max_duration is not None and min_duration > max_duration:
        raise InvalidInput("min_duration is above max_duration; swap them")
    where = rows.ItemFilter(
        pipeline_id=pipeline_id, since=since, until=until, min_views=min_views,
        min_duration=min_duration, max_duration=max_duration, categories=category or (),
        min_confidence=min_confidence, platform=platform, statuses=status or (),
        reviews=review or (),
    )  # fmt: skip
    after = _position(cursor, sort_by) if cursor else None

    def read() -> list[Row]:
        with svc.db.read() as conn:
            return rows.list_items(
                conn, principal.tenant_id, where, sort=sort_by,
                descending=sort_order == "desc", after=after, limit=limit + 1,
            )  # fmt: skip

    found = await svc.db.run(read)
    column = _SORT_COLUMNS[sort_by]
    return paginate(
        found,
        limit,
        request,
        response,
        lambda row: content_items.public(svc, row),
        position=lambda row: _encode(sort_by, row[column], row["id"]),
    )


@router.get("/{item_id}", response_model=ContentItemPublic, responses=_ERRORS)
async def get_content_item(
    item_id: str, svc: ServicesDep, principal: PostsReadDep
) -> ContentItemPublic:
    """One content item."""

    def read() -> Row:
        with svc.db.read() as conn:
            return content_items.get(conn, principal.tenant_id, item_id)

    return content_items.public(svc, await svc.db.run(read))


@router.post(
    "/{item_id}/review",
    response_model=ContentItemPublic,
    responses=problem_responses(401, 403, 404, 409, 422),
)
async def review_content_item(
    item_id: str, body: ReviewBody, svc: ServicesDep, principal: PostsWriteDep
) -> ContentItemPublic:
    """Approve or reject an item ready for content; a rejected item is left out of every
    generated recap."""

    def work() -> Row:
        with svc.db.write() as conn:
            return content_items.review(svc, conn, principal.tenant_id, item_id, body.review)

    return content_items.public(svc, await svc.db.run(work))


@router.put(
    "/{item_id}/transcript",
    response_model=ContentItemPublic,
    responses=problem_responses(401, 403, 404, 413, 415, 422),
    openapi_extra=subtitles.OPENAPI_BODY,
)
async def import_transcript(
    item_id: str, request: Request, svc: ServicesDep, principal: PostsWriteDep
) -> ContentItemPublic:
    """Import a WebVTT (`text/vtt`) or SRT (`application/x-subrip`) file as the item's
    transcript: the transcription API is never asked for this clip, and an item already
    matched and judged is matched and judged again by the next run."""

    def exists() -> None:  # an unknown item is a 404 before the body is read
        with svc.db.read() as conn:
            content_items.get(conn, principal.tenant_id, item_id)

    await svc.db.run(exists)
    transcript = await subtitles.read_transcript(request)

    def write() -> Row:
        with svc.db.write() as conn:
            return content_items.import_transcript(
                svc, conn, principal.tenant_id, item_id, transcript
            )

    return content_items.public(svc, await svc.db.run(write))


@router.get("/{item_id}/{part}", responses=_ERRORS)
async def read_content_item_part(
    item_id: str, part: Part, request: Request, svc: ServicesDep, principal: PostsReadDep
) -> Response:
    """An item's extracted audio, full transcript or GitHub context (one byte range
    honoured)."""

    def read() -> str:
        with svc.db.read() as conn:
            row = content_items.get(conn, principal.tenant_id, item_id)
        return content_items.part_key(row, part)

    key = await svc.db.run(read)
    return await object_response(
        svc.storage,
        key,
        media_type=content_items.PART_TYPES[part],
        range_header=request.headers.get("range"),
    )


def _encode(sort_by: str, value: Any, item_id: str) -> str:
    """The position after one row: its sort value (as JSON) and id."""
    shown = value.isoformat() if isinstance(value, datetime) else value
    return json.dumps([sort_by, shown, item_id], separators=(",", ":"))


def _position(cursor: str, sort_by: str) -> tuple[Any, str]:
    """The (sort value, id) a cursor points after; 422 when it is not this list's."""
    try:
        sort, value, item_id = json.loads(decode_cursor(cursor))
        if sort != sort_by or not isinstance(item_id, str):
            raise ValueError(sort)
        if sort == "created_at" and value is not None:
            value = datetime.fromisoformat(value)
        elif value is not None and not isinstance(value, int | float):
            raise ValueError(value)
    except (ValueError, TypeError):
        raise InvalidInput(
            "the cursor is not one this list gave with this sort_by; start again without it",
            code="invalid_cursor",
        ) from None
    return value, item_id
