"""/v1/uploads/tus: resumable uploads with the tus 1.0.0 protocol (core, creation,
expiration, checksum with sha1 and sha256, termination). Authenticated like the rest of the
API; each request, PATCH included, may be signed like any other (over its own body: a PATCH
is signed over the chunk it carries). The file, once whole, becomes a media item exactly as
an upload to /v1/media does; the final PATCH, any later HEAD and GET name it
(`Crosspost-Media-Id`)."""

from __future__ import annotations

import secrets
import time
from collections.abc import AsyncIterator
from email.utils import format_datetime
from typing import Annotated

import orjson
from fastapi import APIRouter, Depends, Header, Request, Response
from fastapi.concurrency import run_in_threadpool
from starlette.requests import ClientDisconnect

from crosspost.api.deps import MediaWriteDep, PrincipalDep, ServicesDep
from crosspost.api.errors import problem_responses
from crosspost.api.idempotency import Idempotency, IdempotencyKey
from crosspost.api.tus_edge import PREFIX
from crosspost.api.wellformed import content_length
from crosspost.domain.media_items import TusUpload
from crosspost.engine import tus
from crosspost.engine.services import Services
from crosspost.errors import (
    BadRequest,
    Conflict,
    CrosspostError,
    PayloadTooLarge,
    UnsupportedMediaType,
)
from crosspost.media.storage import StagedWrite
from crosspost.store.rows import Row

router = APIRouter(prefix=PREFIX, tags=["uploads"])
MEDIA_ID_HEADER = "Crosspost-Media-Id"
OFFSET_TYPE = "application/offset+octet-stream"
_ERRORS = problem_responses(400, 401, 402, 404, 409, 410, 412, 413, 415, 422, 423)

UploadLength = Annotated[
    str | None, Header(alias="Upload-Length", description="The whole file's size in bytes.")
]
UploadMetadata = Annotated[
    str | None,
    Header(
        alias="Upload-Metadata",
        max_length=8192,
        description="`key base64value` pairs, comma separated: `filename`, `filetype`.",
    ),
]


class VersionUnsupported(CrosspostError):
    """The request speaks another tus version, or does not say (412)."""

    status = 412
    code = "tus_version_unsupported"
    title = "Precondition failed"


async def _require_version(
    tus_resumable: Annotated[
        str | None, Header(alias="Tus-Resumable", description="Must be 1.0.0.")
    ] = None,
) -> None:
    """Refuse (412, with Tus-Version) a request that does not speak tus 1.0.0. Declared
    after the caller's key, so a request without a key is refused as everywhere (401)."""
    if tus_resumable != tus.VERSION:
        said = (
            f"Tus-Resumable is {tus_resumable!r}" if tus_resumable else "Tus-Resumable is missing"
        )
        raise VersionUnsupported(
            f"{said}; this server speaks tus {tus.VERSION}: send Tus-Resumable: {tus.VERSION}",
            headers={"Tus-Version": tus.VERSION},
        )


TusVersion = Annotated[None, Depends(_require_version)]


class ChecksumMismatch(CrosspostError):
    """The chunk's digest is not the one its Upload-Checksum names (tus: 460)."""

    status = 460
    code = "checksum_mismatch"
    title = "Checksum mismatch"


def _http_date(row: Row) -> str:
    return format_datetime(row["expires_at"], usegmt=True)


def _state(row: Row) -> dict[str, str]:
    """What HEAD, GET and PATCH say about an upload."""
    headers = {
        "Upload-Offset": str(row["upload_offset"]),
        "Upload-Length": str(row["upload_length"]),
        "Cache-Control": "no-store",
    }
    if row["status"] != tus.COMPLETE:
        headers["Upload-Expires"] = _http_date(row)
    raw = (row["upload_metadata"] or {}).get("header")
    if raw:
        headers["Upload-Metadata"] = raw
    if row["status"] == tus.COMPLETE and row["media_id"]:
        headers[MEDIA_ID_HEADER] = row["media_id"]
    return headers


def _location(upload_id: str) -> str:
    return f"{PREFIX}/{upload_id}"


@router.options("", status_code=204)
@router.options("/{upload_id}", status_code=204, include_in_schema=False)
async def options(svc: ServicesDep) -> Response:
    """What this tus server supports: version, extensions, largest upload, checksums."""
    return Response(
        status_code=204,
        headers={
            "Tus-Version": tus.VERSION,
            "Tus-Extension": ",".join(tus.EXTENSIONS),
            "Tus-Max-Size": str(svc.settings.max_upload_bytes),
            "Tus-Checksum-Algorithm": ",".join(tus.CHECKSUMS),
        },
    )


@router.post("", status_code=201, responses=_ERRORS)
async def create_upload(
    request: Request,
    svc: ServicesDep,
    principal: MediaWriteDep,
    _version: TusVersion,
    upload_length: UploadLength = None,
    upload_metadata: UploadMetadata = None,
    upload_defer_length: Annotated[str | None, Header(alias="Upload-Defer-Length")] = None,
    idempotency_key: IdempotencyKey = None,
) -> Response:
    """Create an upload of `Upload-Length` bytes (tus creation); the answer's `Location` is
    where to PATCH its bytes, `Upload-Expires` when an unfinished upload is deleted.
    Refused: over the upload limit (413, see `Tus-Max-Size`), over the monthly quota (402),
    an empty file (422). Honors `Idempotency-Key`."""
    if upload_defer_length is not None:
        raise BadRequest(
            "Upload-Defer-Length is not supported (no creation-defer-length): send "
            "Upload-Length, the file's size",
            code="defer_length_unsupported",
        )
    length = content_length(upload_length) if upload_length is not None else None
    if length is None:
        raise BadRequest(
            "send Upload-Length: the whole file's size in bytes (a non-negative integer)",
            code="upload_length_missing" if upload_length is None else "invalid_upload_length",
        )
    metadata = upload_metadata or ""
    fingerprint = f"{length}\n{metadata}".encode()
    idem = Idempotency(
        svc, principal, method="POST", path=request.url.path, key=idempotency_key,
        body=fingerprint,
    )  # fmt: skip

    def work() -> tuple[bytes, bool]:
        with svc.db.write() as conn:
            replay = idem.claim(conn)
            if replay is not None:
                return bytes(replay.body), True
            row = tus.create(svc, conn, tenant_id=principal.tenant_id, key_id=principal.key_id,
                             length=length, metadata_header=metadata)  # fmt: skip
            body = TusUpload.model_validate(tus.view(row)).model_dump_json().encode()
            idem.finish(conn, 201, body)
        return body, False

    body, replayed = await svc.db.run(work)
    shown = orjson.loads(body)
    headers = {
        "Location": _location(shown["id"]),
        "Upload-Offset": str(shown["upload_offset"]),
        "Upload-Expires": format_datetime(TusUpload.model_validate(shown).expires_at, usegmt=True),
    }
    if replayed:
        headers["Idempotent-Replayed"] = "true"
    return Response(body, status_code=201, media_type="application/json", headers=headers)


async def _current(svc: Services, tenant_id: str, upload_id: str) -> tuple[Row, dict[str, str]]:
    """The upload, its completion finished first if a crash left it half done."""

    def read() -> Row:
        with svc.db.read() as conn:
            return tus.find(svc, conn, tenant_id, upload_id)

    row = await svc.db.run(read)
    if row["status"] == tus.COMPLETING:
        done = await run_in_threadpool(tus.complete, svc, row)
        return done.row, done.headers
    return row, {}


@router.head("/{upload_id}", status_code=200, responses=_ERRORS)
async def head_upload(
    upload_id: str, svc: ServicesDep, principal: PrincipalDep, _version: TusVersion
) -> Response:
    """How many bytes the upload holds (`Upload-Offset`), of how many (`Upload-Length`);
    once whole, its media item (`Crosspost-Media-Id`)."""
    row, headers = await _current(svc, principal.tenant_id, upload_id)
    return Response(status_code=200, headers={**_state(row), **headers})


@router.get("/{upload_id}", response_model=TusUpload, responses=_ERRORS)
async def get_upload(
    upload_id: str, svc: ServicesDep, principal: PrincipalDep, _version: TusVersion
) -> Response:
    """The upload: its offset, status, and once complete its `media_id` (or why it failed)."""
    row, headers = await _current(svc, principal.tenant_id, upload_id)
    body = TusUpload.model_validate(tus.view(row)).model_dump_json().encode()
    return Response(body, media_type="application/json", headers={**_state(row), **headers})


@router.delete("/{upload_id}", status_code=204, responses=_ERRORS)
async def delete_upload(
    upload_id: str, svc: ServicesDep, principal: MediaWriteDep, _version: TusVersion
) -> Response:
    """Terminate the upload and delete the bytes it holds (tus termination); a media item it
    already became stays."""
    await run_in_threadpool(tus.terminate, svc, tenant_id=principal.tenant_id, upload_id=upload_id)
    return Response(status_code=204)


@router.patch(
    "/{upload_id}",
    status_code=204,
    responses={**_ERRORS, 460: {"description": "Upload-Checksum does not match the chunk."}},
    openapi_extra={
        "requestBody": {
            "content": {OFFSET_TYPE: {"schema": {"type": "string", "format": "binary"}}},
            "required": True,
        }
    },
)
async def patch_upload(
    request: Request,
    upload_id: str,
    svc: ServicesDep,
    principal: MediaWriteDep,
    _version: TusVersion,
    upload_offset: Annotated[str | None, Header(alias="Upload-Offset")] = None,
    upload_checksum: Annotated[str | None, Header(alias="Upload-Checksum")] = None,
) -> Response:
    """Append the body's bytes at `Upload-Offset` (which must be the upload's offset, else
    409); with `Upload-Checksum` (`sha1`/`sha256` + base64 digest) a chunk that does not
    match is discarded (460). A chunk cut off without a checksum is kept as far as it
    came. The last byte makes the media item: `Crosspost-Media-Id` names it."""
    kind = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if kind != OFFSET_TYPE:
        raise UnsupportedMediaType(
            f"a PATCH carries Content-Type: {OFFSET_TYPE}, not {kind or 'none'}",
            code="offset_stream_required",
        )
    offset = content_length(upload_offset) if upload_offset is not None else None
    if offset is None:
        raise BadRequest(
            "send Upload-Offset: the offset the bytes start at (HEAD the upload for it)",
            code="upload_offset_missing" if upload_offset is None else "invalid_upload_offset",
        )
    checksum = tus.parse_checksum(upload_checksum) if upload_checksum is not None else None
    declared = content_length(request.headers.get("content-length", "0"))
    lease = await svc.db.run(
        lambda: tus.acquire(
            svc, tenant_id=principal.tenant_id, upload_id=upload_id, offset=offset,
            token=secrets.token_hex(16),
        )
    )  # fmt: skip
    if declared is not None and offset + declared > lease.length:
        await svc.db.run(tus.abandon, svc, lease)
        raise _past_length(lease)
    written = await _receive(request, svc, lease, checksum)
    row = await svc.db.run(tus.release, svc, lease, written)
    if row is None:
        raise Conflict(
            "another PATCH took this upload over while this one stalled; HEAD it and resume",
            code="upload_taken_over",
        )
    headers: dict[str, str] = {}
    if row["status"] == tus.COMPLETING:
        done = await run_in_threadpool(tus.complete, svc, row)
        row, headers = done.row, done.headers
        if row["status"] == tus.FAILED:
            raise tus.failure(row)
    state = _state(row)
    state.pop("Upload-Length")
    return Response(status_code=204, headers={**state, **headers})


def _past_length(lease: tus.Lease) -> PayloadTooLarge:
    return PayloadTooLarge(
        f"the chunk would pass the upload's length ({lease.length} bytes, {lease.offset} "
        "received); send only the bytes left",
        code="upload_length_exceeded",
    )


async def _receive(
    request: Request, svc: Services, lease: tus.Lease, checksum: tuple[str, bytes] | None
) -> int:
    """Stream the body onto the staged file; the bytes to confirm. A refused chunk leaves
    the upload as it was (and its lease released) and raises."""
    write: StagedWrite = await run_in_threadpool(svc.storage.stage, lease.upload_id, lease.offset)
    hasher = tus.CHECKSUMS[checksum[0]]() if checksum else None
    renew_every = svc.settings.tus_lock_seconds / 3
    state = {"seen": 0, "renewed": time.monotonic()}
    room = lease.length - lease.offset

    async def chunks() -> AsyncIterator[bytes]:
        async for chunk in request.stream():
            state["seen"] += len(chunk)
            if state["seen"] > room:
                raise _past_length(lease)
            if hasher is not None:
                hasher.update(chunk)
            if time.monotonic() - state["renewed"] > renew_every:
                if not await svc.db.run(tus.renew, svc, lease):
                    raise _Lost
                state["renewed"] = time.monotonic()
            yield chunk

    try:
        try:
            # Each piece goes to disk as it comes: a PATCH cut off keeps all that arrived.
            async for chunk in chunks():
                await run_in_threadpool(write.write, chunk)
        except ClientDisconnect:
            if checksum is not None:  # a checksum speaks for the whole chunk only
                await _refuse(svc, lease, write)
            else:  # keep what arrived, as tus asks
                await run_in_threadpool(write.sync)
                await svc.db.run(tus.release, svc, lease, write.written)
            raise
        except _Lost:
            raise Conflict(
                "another PATCH took this upload over while this one stalled; HEAD it and resume",
                code="upload_taken_over",
            ) from None
        except BaseException:
            await _refuse(svc, lease, write)
            raise
        if checksum is not None and hasher is not None and hasher.digest() != checksum[1]:
            await _refuse(svc, lease, write)
            raise ChecksumMismatch(
                f"the chunk's {checksum[0]} digest does not match Upload-Checksum; it was "
                f"discarded, the upload still holds {lease.offset} bytes: send it again",
                headers={"Upload-Offset": str(lease.offset)},
            )
        await run_in_threadpool(write.sync)
        return write.written
    finally:
        await run_in_threadpool(write.close)


class _Lost(Exception):
    """The PATCH's hold on the upload went to another PATCH."""


async def _refuse(svc: Services, lease: tus.Lease, write: StagedWrite) -> None:
    await run_in_threadpool(write.rollback)
    await svc.db.run(tus.abandon, svc, lease)
