"""/v1/exports: export the tenant's posts (with their targets) or its ledger to a JSON Lines
or CSV file, built in the background; follow its progress, then download it.

Reading the tenant's history needs `posts:read`, so does exporting it. Each accepted export
counts one `exports` in the month's usage (402 past its hard limit).
"""

from __future__ import annotations

import base64
from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request, Response
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy.engine import Connection
from starlette.responses import StreamingResponse

from crosspost.api.auth import check_scopes
from crosspost.api.deps import PostsReadDep, ServicesDep, require_flag
from crosspost.api.errors import problem_responses
from crosspost.api.idempotency import IdempotencyKey, accept_idempotently
from crosspost.api.object_response import object_response
from crosspost.api.pagination import decode_cursor, paginate
from crosspost.domain.bounds import AwareInstant, PageLimit
from crosspost.domain.enums import Mode
from crosspost.domain.models import Page
from crosspost.engine import exports
from crosspost.engine.services import Services
from crosspost.store import exports as export_rows
from crosspost.store.rows import Row
from crosspost.usage.metering import UsageWarning, warning_header

router = APIRouter(prefix="/v1/exports", tags=["exports"])
_ERRORS = problem_responses(401, 403, 404, 409, 422)


class ExportCreate(BaseModel):
    """What to export."""

    model_config = ConfigDict(extra="forbid")

    kind: str = Field(
        default="posts",
        description="`posts`: each post with its targets (status, platform ids and URLs, "
        "errors). `ledger`: every recorded step of every post, in order. `audit`: the audit "
        "log (who did what; needs the `admin` scope).",
        examples=["posts"],
    )
    format: str = Field(
        default="jsonl",
        description="`jsonl` (one JSON object per line; a post as GET /v1/posts/{id} shows "
        "it) or `csv` (a header row, then one row per target or ledger event).",
        examples=["csv"],
    )
    since: AwareInstant | None = Field(
        default=None, description="Only rows created at or after this time (default: all)."
    )
    until: AwareInstant | None = Field(
        default=None, description="Only rows created before this time (default and at most: now)."
    )


class ExportProgress(BaseModel):
    """How far the export's job is."""

    done: int = Field(description="Rows written so far.")
    total: int | None = Field(description="Rows to write (null until the job starts).")


class ExportPublic(BaseModel):
    """An export and its progress."""

    id: str
    mode: Mode
    kind: str
    format: str
    status: str = Field(description="queued, running, ready, failed or expired.")
    since: datetime | None
    until: datetime = Field(description="End of the range (exclusive), fixed at creation.")
    progress: ExportProgress
    bytes: int | None = Field(description="The file's size, once ready.")
    sha256: str | None = Field(description="Hex SHA-256 of the file, once ready.")
    download_url: str | None = Field(description="Where to GET the file while it is ready.")
    error: str | None = Field(description="Why it failed (null unless status is failed).")
    created_at: datetime
    completed_at: datetime | None
    expires_at: datetime | None = Field(description="When the file is deleted.")


def _public(row: Row) -> ExportPublic:
    return ExportPublic.model_validate(_fields(row))


def _fields(row: Row) -> dict[str, Any]:
    return {
        **row,
        "progress": {"done": row["rows_done"], "total": row["rows_total"]},
        "download_url": exports.download_url(row["id"]) if row["status"] == "ready" else None,
    }


@router.post("", status_code=202, response_model=ExportPublic, responses=_ERRORS)
async def create_export(
    request: Request,
    body: ExportCreate,
    svc: ServicesDep,
    principal: PostsReadDep,
    idempotency_key: IdempotencyKey = None,
) -> Response:
    """Start an export (202); `data_export.ready` is sent when its file can be downloaded."""
    if body.kind == "audit":
        require_flag(request, "audit.log", principal.tenant_id)
        check_scopes(principal, ["admin"])
    now = svc.clock.now()
    spec = exports.export_spec(
        kind=body.kind, format=body.format, since=body.since, until=body.until, now=now
    )

    warnings: list[UsageWarning] = []

    def create(conn: Connection) -> tuple[bytes, bytes]:
        row, warned = exports.create_export(
            svc,
            conn,
            tenant_id=principal.tenant_id,
            key_id=principal.key_id,
            mode=principal.mode,
            spec=spec,
            now=now,
        )
        warnings.extend(warned)
        answer = _public(row).model_dump_json().encode()
        return answer, answer

    response = await accept_idempotently(svc, principal, request, idempotency_key, create)
    response.headers.update(warning_header(warnings))
    return response


@router.get("", response_model=Page[ExportPublic], responses=_ERRORS)
async def list_exports(
    request: Request,
    response: Response,
    svc: ServicesDep,
    principal: PostsReadDep,
    limit: Annotated[PageLimit, Query()] = 20,
    cursor: str | None = None,
) -> Page[ExportPublic]:
    """A page of the tenant's exports, newest first."""
    before = decode_cursor(cursor) if cursor else None

    def read() -> list[Row]:
        with svc.db.read() as conn:
            return export_rows.list_exports(
                conn, principal.tenant_id, before_id=before, limit=limit + 1
            )

    return paginate(await svc.db.run(read), limit, request, response, _public)


@router.get("/{export_id}", response_model=ExportPublic, responses=_ERRORS)
async def get_export(export_id: str, svc: ServicesDep, principal: PostsReadDep) -> ExportPublic:
    """An export with its progress."""
    return _public(await svc.db.run(_load, svc, principal.tenant_id, export_id))


@router.get(
    "/{export_id}/download",
    response_class=StreamingResponse,
    responses={
        200: {"content": {t: {} for t in exports.MEDIA_TYPES.values()}},
        **problem_responses(401, 403, 404, 409, 410),
    },
)
async def download_export(
    export_id: str, svc: ServicesDep, principal: PostsReadDep
) -> StreamingResponse:
    """The export's file (409 while it is being built, 410 once it expired); an audit
    export only to the `admin` scope."""
    row = await svc.db.run(_load, svc, principal.tenant_id, export_id)
    if row["kind"] == "audit":
        check_scopes(principal, ["admin"])
    key = exports.downloadable(row, now=svc.clock.now())
    return await object_response(
        svc.storage,
        key,
        media_type=exports.MEDIA_TYPES[row["format"]],
        filename=exports.filename(row),
        # RFC 9530: lets a client check the bytes it saved without hashing the hex itself.
        headers={"Repr-Digest": f"sha-256=:{_b64(row['sha256'])}:"},
    )


def _b64(hex_digest: str) -> str:
    return base64.b64encode(bytes.fromhex(hex_digest)).decode()


def _load(svc: Services, tenant_id: str, export_id: str) -> Row:
    with svc.db.read() as conn:
        return exports.get_export(conn, tenant_id=tenant_id, export_id=export_id)
