"""Renders (seed 000's "exports"): render a clip to a platform-ready video in the
background, follow it, and get its video (a media item) and poster.

Asking for a render needs `media:write` (it makes a media item) and counts one `renders`
and, once done, its minutes of `processing_minutes` in the month's usage (402 past a hard
limit). `export.ready` or `export.failed` says when it ended.
"""

from __future__ import annotations

from typing import Annotated

import orjson
from fastapi import APIRouter, Query, Request, Response
from sqlalchemy.engine import Connection
from starlette.responses import StreamingResponse

from crosspost.api.deps import MediaWriteDep, PrincipalDep, ServicesDep
from crosspost.api.errors import problem_responses
from crosspost.api.idempotency import IdempotencyKey, accept_idempotently
from crosspost.api.object_response import object_response
from crosspost.api.pagination import decode_cursor, paginate
from crosspost.domain.bounds import PageLimit
from crosspost.domain.models import Page
from crosspost.domain.renders import RenderCreate, RenderPublic
from crosspost.engine.services import Services
from crosspost.errors import Conflict
from crosspost.store import renders as render_rows
from crosspost.store.rows import Row
from crosspost.studio import renders
from crosspost.usage.metering import UsageWarning, warning_header

router = APIRouter(tags=["studio"])
_ERRORS = problem_responses(401, 403, 404, 422)


@router.post(
    "/v1/clips/{clip_id}/renders",
    status_code=202,
    response_model=RenderPublic,
    responses=problem_responses(401, 402, 403, 404, 422),
)
async def create_render(
    clip_id: str,
    request: Request,
    svc: ServicesDep,
    principal: MediaWriteDep,
    body: RenderCreate | None = None,
    idempotency_key: IdempotencyKey = None,
) -> Response:
    """Render a clip (202, `Location` names the render); its job renders in the background,
    `GET /v1/renders/{id}` shows its progress, `export.ready` says when its video is ready."""
    asked = body or RenderCreate()
    warnings: list[UsageWarning] = []

    def create(conn: Connection) -> tuple[bytes, bytes]:
        clip = renders.get_clip(conn, tenant_id=principal.tenant_id, clip_id=clip_id)
        row, warned = renders.start_render(
            svc,
            conn,
            tenant_id=principal.tenant_id,
            key_id=principal.key_id,
            mode=principal.mode,
            clip=clip,
            request=asked,
        )
        warnings.extend(warned)
        answer = renders.load_public(conn, row).model_dump_json().encode()
        return answer, answer

    response = await accept_idempotently(svc, principal, request, idempotency_key, create)
    response.headers.update(warning_header(warnings))
    if response.status_code == 202:
        made = orjson.loads(bytes(response.body))
        response.headers["Location"] = f"/v1/renders/{made['id']}"
    return response


@router.get("/v1/renders", response_model=Page[RenderPublic], responses=_ERRORS)
async def list_renders(
    request: Request,
    response: Response,
    svc: ServicesDep,
    principal: PrincipalDep,
    clip_id: Annotated[str | None, Query(max_length=40, description="Only this clip's.")] = None,
    limit: Annotated[PageLimit, Query()] = 20,
    cursor: str | None = None,
) -> Page[RenderPublic]:
    """A page of the tenant's renders (or one clip's), newest first."""
    before = decode_cursor(cursor) if cursor else None

    def read() -> tuple[list[Row], dict[str, RenderPublic]]:
        with svc.db.read() as conn:
            rows = render_rows.list_renders(
                conn, principal.tenant_id, clip_id=clip_id, before_id=before, limit=limit + 1
            )
            return rows, renders.load_public_many(conn, rows[:limit])

    rows, shown = await svc.db.run(read)
    return paginate(rows, limit, request, response, lambda row: shown[row["id"]])


@router.get("/v1/renders/{render_id}", response_model=RenderPublic, responses=_ERRORS)
async def get_render(render_id: str, svc: ServicesDep, principal: PrincipalDep) -> RenderPublic:
    """A render: its settings, progress, and once ready its video; once failed, why."""

    def read() -> RenderPublic:
        with svc.db.read() as conn:
            row = renders.get_render(conn, tenant_id=principal.tenant_id, render_id=render_id)
            return renders.load_public(conn, row)

    return await svc.db.run(read)


@router.get(
    "/v1/renders/{render_id}/poster",
    response_class=StreamingResponse,
    responses={200: {"content": {"image/jpeg": {}}}, **problem_responses(401, 403, 404, 409)},
)
async def get_poster(render_id: str, svc: ServicesDep, principal: PrincipalDep) -> Response:
    """A ready render's poster frame (JPEG); 409 `render_not_ready` before."""
    row = await svc.db.run(_load, svc, principal.tenant_id, render_id)
    if row["status"] != "ready" or row["poster_key"] is None:
        raise Conflict(
            f"render {render_id!r} is {row['status']} and has no poster"
            + (
                ": it failed, ask for a new render"
                if row["status"] == "failed"
                else "; GET it once it is ready (export.ready says when)"
            ),
            code="render_not_ready",
        )
    return await object_response(svc.storage, row["poster_key"], media_type="image/jpeg")


def _load(svc: Services, tenant_id: str, render_id: str) -> Row:
    with svc.db.read() as conn:
        return renders.get_render(conn, tenant_id=tenant_id, render_id=render_id)
