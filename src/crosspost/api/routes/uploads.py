"""/v1/uploads: direct uploads. Ask for an upload URL, PUT the file straight to media
storage (S3 presigns the URL; on local disk crosspost serves it with the same contract),
then complete it into a media item. Resumable uploads live beside these, at
/v1/uploads/tus."""

from __future__ import annotations

import hashlib
from collections.abc import AsyncIterator
from typing import Annotated

from fastapi import APIRouter, Header, Query, Request, Response
from fastapi.concurrency import run_in_threadpool

from crosspost.api import wellformed
from crosspost.api.deps import MediaWriteDep, PrincipalDep, ServicesDep
from crosspost.api.errors import problem_responses
from crosspost.api.idempotency import Idempotency, IdempotencyKey
from crosspost.api.upload import receive_raw
from crosspost.domain.bounds import UnixSeconds
from crosspost.domain.direct_uploads import DirectUpload, DirectUploadCreate
from crosspost.engine import direct_uploads
from crosspost.engine.services import Services
from crosspost.errors import BadRequest
from crosspost.store.rows import Row

router = APIRouter(prefix="/v1/uploads", tags=["uploads"])
_ERRORS = problem_responses(400, 401, 402, 404, 409, 410, 413, 422)


def _answer(svc: Services, row: Row, *, with_url: bool = True) -> bytes:
    shown = direct_uploads.view(svc, row, with_url=with_url)
    return DirectUpload.model_validate(shown).model_dump_json().encode()


@router.post("", status_code=201, response_model=DirectUpload, responses=_ERRORS)
async def create_upload(
    request: Request,
    body: DirectUploadCreate,
    svc: ServicesDep,
    principal: MediaWriteDep,
    idempotency_key: IdempotencyKey = None,
) -> Response:
    """Start a direct upload of one file: the answer says where to PUT it (`upload_url`,
    no API key: its signature is the permission), with which `headers` exactly, until
    `expires_at`. Then call `POST /v1/uploads/{id}/complete`. Refused up front: over the
    upload limit (413) or this month's quota (402). Honors `Idempotency-Key` (a replay
    answers the same upload with a fresh URL)."""
    idem = Idempotency(
        svc, principal, method="POST", path=request.url.path, key=idempotency_key,
        body=await request.body(),
    )  # fmt: skip

    def work() -> tuple[Row, bool]:
        with svc.db.write() as conn:
            replay = idem.claim(conn)
            if replay is not None:
                # What was kept names the upload; its URL is signed afresh, never stored.
                first = DirectUpload.model_validate_json(bytes(replay.body))
                return direct_uploads.find(conn, principal.tenant_id, first.id), True
            row = direct_uploads.create(
                svc, conn, tenant_id=principal.tenant_id, key_id=principal.key_id, asked=body
            )
            idem.finish(conn, 201, _answer(svc, row, with_url=False))
        return row, False

    row, replayed = await svc.db.run(work)
    headers = {"Location": f"/v1/uploads/{row['id']}"}
    if replayed:
        headers["Idempotent-Replayed"] = "true"
    body_out = await run_in_threadpool(_answer, svc, row)
    return Response(body_out, status_code=201, media_type="application/json", headers=headers)


@router.get("/{direct_upload_id}", response_model=DirectUpload, responses=_ERRORS)
async def get_upload(direct_upload_id: str, svc: ServicesDep, principal: PrincipalDep) -> Response:
    """The upload: pending (with its URL until it expires), complete (`media_id`) or
    failed (`error`)."""

    def read() -> Row:
        with svc.db.read() as conn:
            return direct_uploads.find(conn, principal.tenant_id, direct_upload_id)

    row = await svc.db.run(read)
    body = await run_in_threadpool(_answer, svc, row)
    return Response(body, media_type="application/json")


@router.post("/{direct_upload_id}/complete", response_model=DirectUpload, responses=_ERRORS)
async def complete_upload(
    direct_upload_id: str, svc: ServicesDep, principal: MediaWriteDep
) -> Response:
    """Make the uploaded file a media item: its size is checked, it is hashed and probed,
    then counted against the month's quotas. Idempotent: once complete, the same answer.
    409 `upload_incomplete` before the PUT landed; 422 (the upload `failed`, its file
    deleted) when it is no usable media; 410 past `complete_by`."""
    done = await run_in_threadpool(
        direct_uploads.complete, svc, tenant_id=principal.tenant_id, upload_id=direct_upload_id
    )
    body = await run_in_threadpool(_answer, svc, done.row)
    return Response(body, media_type="application/json", headers=done.headers)


@router.put(
    "/{direct_upload_id}/content",
    status_code=200,
    responses={
        200: {"description": "The file is stored; now complete the upload."},
        **problem_responses(400, 403, 404, 409, 411, 413),
    },
    openapi_extra={
        "requestBody": {
            "content": {"application/octet-stream": {"schema": {"type": "string",
                                                                 "format": "binary"}}},
            "required": True,
        }
    },
)  # fmt: skip
async def put_content(
    request: Request,
    direct_upload_id: str,
    svc: ServicesDep,
    expires: Annotated[UnixSeconds, Query(description="Unix time the URL stops working.")],
    signature: Annotated[str, Query(max_length=128)],
    content_type: Annotated[str | None, Header(alias="Content-Type")] = None,
    checksum: Annotated[
        str | None, Header(alias=direct_uploads.CHECKSUM_HEADER, max_length=100)
    ] = None,
) -> Response:
    """Where the file goes when the media store signs no URL of its own (local disk): the
    upload URL `POST /v1/uploads` answered (no API key: the signature is the permission).
    Send the declared Content-Type, exactly the declared Content-Length and, when a sha256
    was declared, x-amz-checksum-sha256; a body that does not match is refused and nothing
    is kept. A second PUT replaces the first until the upload is completed."""
    row = await svc.db.run(direct_uploads.open_for_put, svc, direct_upload_id, expires, signature)
    # Framing, not an API parameter: the HTTP server itself refuses a malformed one, so the
    # schema must not invite clients (or fuzzers) to send it as a value of their choosing.
    content_length = request.headers.get("content-length")
    length = wellformed.content_length(content_length) if content_length is not None else None
    if content_length is not None and length is None:
        raise BadRequest(
            "Content-Length must be a whole number of bytes: the declared size",
            code="content_length_mismatch",
        )
    digest = direct_uploads.check_put(
        row, content_type=content_type, length=length, checksum=checksum
    )
    hasher = hashlib.sha256() if digest is not None else None

    async def hashed() -> AsyncIterator[bytes]:
        async for chunk in request.stream():
            if hasher is not None:
                hasher.update(chunk)
            yield chunk

    size = row["size_bytes"]
    pending = svc.storage.begin_write(row["media_id"], max_bytes=size)
    try:
        await receive_raw(hashed(), pending)
        if pending.size != size:
            raise direct_uploads.short_body(pending.size, size)
        if hasher is not None and hasher.digest() != digest:
            raise direct_uploads.body_mismatch()
        # Completed while this PUT ran: its file must not change under its media item.
        await svc.db.run(direct_uploads.ensure_pending, svc, row["id"])
        await run_in_threadpool(pending.commit)
    except BaseException:
        pending.abort()
        raise
    return Response(status_code=200, headers={"Cache-Control": "no-store"})
