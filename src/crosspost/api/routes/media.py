"""/v1/media: stream a file in (raw body or multipart), hash it, probe it."""

from __future__ import annotations

import mimetypes
import re
from pathlib import PurePath
from typing import Annotated

from fastapi import APIRouter, Header, Query, Request, Response
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import FileResponse

from crosspost.api.auth import Principal
from crosspost.api.deps import MediaWriteDep, PrincipalDep, ServicesDep, client_ip, require_flag
from crosspost.api.errors import problem_responses
from crosspost.api.idempotency import Idempotency, IdempotencyKey
from crosspost.api.pagination import decode_position, paginate_both
from crosspost.api.upload import receive_multipart, receive_raw
from crosspost.api.wellformed import content_length
from crosspost.domain.bounds import AwareInstant, PageLimit, UnixSeconds
from crosspost.domain.enums import MediaKind
from crosspost.domain.models import MediaListed, MediaPublic, TwoWayPage
from crosspost.engine import media_library
from crosspost.engine.services import Services
from crosspost.errors import (
    BadRequest,
    CrosspostError,
    Forbidden,
    InvalidInput,
    NotFound,
    PayloadTooLarge,
    UnsupportedMediaType,
)
from crosspost.ids import new_id
from crosspost.media import signed_urls
from crosspost.media.probe import probe
from crosspost.media.storage import StoredObject
from crosspost.store import media
from crosspost.store.rows import Row
from crosspost.store.tables import max_length
from crosspost.store.tables import media as media_table
from crosspost.usage import metering

router = APIRouter(prefix="/v1/media", tags=["media"])
_ERRORS = problem_responses(401, 402, 404, 409, 411, 413, 415, 422)
_RAW_TYPES = ("video/", "audio/", "image/", "application/octet-stream")
# RFC 9110 §8.3.1: type "/" subtype, each a token.
_MEDIA_TYPE = re.compile(r"[!#$%&'*+.^_`|~0-9A-Za-z-]+/[!#$%&'*+.^_`|~0-9A-Za-z-]+")
_MAX_MEDIA_TYPE = max_length(media_table.c.content_type)


@router.post(
    "",
    status_code=201,
    response_model=MediaPublic,
    responses=_ERRORS,
    openapi_extra={
        "requestBody": {
            "content": {
                "multipart/form-data": {
                    "schema": {
                        "type": "object",
                        "properties": {"file": {"type": "string", "format": "binary"}},
                        "required": ["file"],
                    }
                },
                "application/octet-stream": {"schema": {"type": "string", "format": "binary"}},
            },
            "required": True,
        }
    },
)
async def upload(
    request: Request,
    svc: ServicesDep,
    principal: MediaWriteDep,
    x_filename: Annotated[str | None, Header(alias="X-Filename")] = None,
    idempotency_key: IdempotencyKey = None,
) -> Response:
    """Upload media as a raw body (`Content-Type: video/mp4`, name in `X-Filename`) or as
    multipart form field `file`. The sha256 is computed while streaming; the file is probed.

    Honors `Idempotency-Key` for 24 h. The body is streamed, never held, so the request is
    fingerprinted by the file's sha256, size, type and name rather than by its raw bytes
    (a retried multipart body differs in its boundary, yet carries the same file).
    Counts `bytes_uploaded` and `media_minutes` against the monthly quotas.
    """
    limit = svc.settings.max_upload_bytes
    header = request.headers.get("content-length", "")
    declared = content_length(header)
    if declared is not None and declared > limit + 64 * 1024:
        raise PayloadTooLarge(
            f"upload is {header.strip()} bytes; the limit is {limit} bytes",
            code="media_too_large",
        )
    ctype = request.headers.get("content-type", "").strip()
    base = ctype.split(";")[0].strip().lower()
    if declared is not None and base != "multipart/form-data":
        # A raw body is the file: refuse before receiving a byte when it cannot fit this
        # month's quota. (A multipart body's length includes its framing: checked later.)
        await svc.db.run(_check_room, svc, principal, declared)
    pending = svc.storage.begin_write(max_bytes=limit)
    try:
        if base == "multipart/form-data":
            got = await receive_multipart(request.stream(), ctype, pending)
            filename = got.filename or x_filename
            content_type = _media_type(got.content_type, "the `file` part's Content-Type")
        elif base.startswith(_RAW_TYPES):
            content_type = _media_type(base, "Content-Type")
            await receive_raw(request.stream(), pending)
            filename = x_filename
        else:
            raise UnsupportedMediaType(
                "send the file as multipart/form-data (field `file`) or as a raw body with its "
                "media type (video/mp4, audio/mpeg, image/png, …)",
                code="unsupported_upload_type",
            )
        if pending.size == 0:
            raise CrosspostError("the uploaded file is empty", code="empty_upload")
        if filename is not None and "\x00" in filename:
            raise InvalidInput(
                "the file name contains a NUL character, which no field accepts; remove it",
                code="nul_character",
            )
        media_id = new_id("med")
        stored = await run_in_threadpool(pending.commit, media_id)
    except BaseException:
        pending.abort()
        raise
    fingerprint = "\n".join(
        [stored.sha256, str(stored.size), content_type or "", filename or ""]
    ).encode()
    try:
        idem = Idempotency(
            svc,
            principal,
            method="POST",
            path=request.url.path,
            key=idempotency_key,
            body=fingerprint,
        )
        replay = await svc.db.run(idem.begin)
    except BaseException:
        await run_in_threadpool(svc.storage.delete, stored.key)
        raise
    if replay is not None:
        await run_in_threadpool(svc.storage.delete, stored.key)
        return replay
    try:
        return await _save(svc, principal, idem, stored, media_id, filename, content_type)
    except BaseException as exc:
        await run_in_threadpool(svc.storage.delete, stored.key)
        if isinstance(exc, CrosspostError):
            # Refused (bad media, quota): a corrected retry may reuse the key.
            await svc.db.run(idem.abort)
        raise


def _media_type(value: str | None, where: str) -> str | None:
    """A declared media type without its parameters, refused (400) unless it is one."""
    if value is None:
        return None
    kind = value.split(";")[0].strip()
    if _MEDIA_TYPE.fullmatch(kind) is None or len(kind) > _MAX_MEDIA_TYPE:
        raise BadRequest(
            f"{where} {kind[:120]!r} is not a media type: send type/subtype (at most "
            f"{_MAX_MEDIA_TYPE} characters), e.g. video/mp4",
            code="invalid_content_type",
        )
    return kind.lower()


def _check_room(svc: Services, principal: Principal, size: int) -> None:
    with svc.db.read() as conn:
        metering.check_room(
            conn,
            tenant_id=principal.tenant_id,
            key_id=principal.key_id,
            metric=metering.BYTES_UPLOADED,
            amount=size,
            now=svc.clock.now(),
        )


async def _save(
    svc: Services,
    principal: Principal,
    idem: Idempotency,
    stored: StoredObject,
    media_id: str,
    filename: str | None,
    content_type: str | None,
) -> Response:
    """Probe the stored file, then write its row, its usage and its idempotent answer in one
    transaction (a quota refusal leaves no row)."""
    found = await run_in_threadpool(probe, stored.path)
    name = PurePath(filename or f"{media_id}").name[:255]
    if not content_type or content_type == "application/octet-stream":
        content_type = (
            mimetypes.guess_type(name)[0]
            or f"{found.kind.value}/{found.container or 'octet-stream'}"
        )
    now = svc.clock.now()
    row = {
        "id": media_id,
        "tenant_id": principal.tenant_id,
        "kind": found.kind.value,
        "filename": name,
        "content_type": content_type,
        "size_bytes": stored.size,
        "sha256": stored.sha256,
        "storage_key": stored.key,
        "container": found.container,
        "duration_seconds": found.duration_seconds,
        "width": found.width,
        "height": found.height,
        "video_codec": found.video_codec,
        "audio_codec": found.audio_codec,
        "frame_rate": found.frame_rate,
        "created_at": now,
    }
    body = MediaPublic.model_validate(row).model_dump_json().encode()
    amounts = metering.upload_amounts(stored.size, found.duration_seconds)

    def save() -> dict[str, str]:
        with svc.db.write() as conn:
            media.insert_media(conn, **row)
            warnings = metering.meter(
                conn,
                tenant_id=principal.tenant_id,
                key_id=principal.key_id,
                amounts=amounts,
                now=now,
            )
            idem.finish(conn, 201, body)
        return metering.warning_header(warnings)

    headers = await svc.db.run(save)
    return Response(body, status_code=201, media_type="application/json", headers=headers)


@router.get("", response_model=TwoWayPage[MediaListed], responses=_ERRORS)
async def list_media(
    request: Request,
    response: Response,
    svc: ServicesDep,
    principal: PrincipalDep,
    kind: Annotated[MediaKind | None, Query(description="Only this kind.")] = None,
    since: Annotated[AwareInstant | None, Query(description="Uploaded at or after.")] = None,
    until: Annotated[AwareInstant | None, Query(description="Uploaded before.")] = None,
    limit: Annotated[PageLimit, Query()] = 50,
    cursor: str | None = None,
) -> TwoWayPage[MediaListed]:
    """The media library, newest first, with sizes and how many posts use each item;
    follow `next_cursor`."""
    require_flag(request, "media.library", principal.tenant_id)
    position = decode_position(cursor)

    def read() -> list[Row]:
        with svc.db.read() as conn:
            return media.page_media(
                conn, principal.tenant_id, limit=limit + 1, after=position.after_id,
                backwards=position.backwards, kind=kind.value if kind else None,
                since=since, until=until,
            )  # fmt: skip

    rows = await svc.db.run(read)
    return paginate_both(rows, limit, position, request, response, MediaListed.model_validate)


@router.delete("/{media_id}", status_code=204, responses=_ERRORS)
async def delete_media(
    request: Request, media_id: str, svc: ServicesDep, principal: MediaWriteDep
) -> Response:
    """Delete a media item and its file. Refused (409 `media_in_use`) while a post still
    to publish uses it; posts already published keep naming it."""
    require_flag(request, "media.library", principal.tenant_id)
    actor = principal.actor(client_ip(request))
    await svc.db.run(
        lambda: media_library.delete_media(
            svc, tenant_id=principal.tenant_id, media_id=media_id, actor=actor
        )
    )
    return Response(status_code=204)


@router.get("/{media_id}", response_model=MediaPublic, responses=_ERRORS)
async def get_media(media_id: str, svc: ServicesDep, principal: PrincipalDep) -> MediaPublic:
    """A media object's metadata."""

    def read() -> Row | None:
        with svc.db.read() as conn:
            return media.get_media(conn, principal.tenant_id, media_id)

    row = await svc.db.run(read)
    if row is None:
        raise NotFound(f"no media {media_id!r}")
    return MediaPublic.model_validate(dict(row))


@router.get(
    "/{media_id}/content",
    response_class=FileResponse,
    responses=problem_responses(403, 404),
)
async def content(
    media_id: str,
    svc: ServicesDep,
    expires: Annotated[UnixSeconds, Query(description="Unix time the URL stops working.")],
    signature: Annotated[str, Query(max_length=128)],
) -> FileResponse:
    """A media object's bytes through a signed, expiring URL (no API key: the signature is
    the permission). Platforms that fetch media themselves are given such URLs."""
    if not signed_urls.verify(svc.hash_key, media_id, expires, signature):
        raise Forbidden("this media URL's signature is not valid", code="signature_invalid")
    if expires < svc.clock.now().timestamp():
        raise Forbidden("this media URL has expired", code="url_expired")

    def read() -> Row | None:
        with svc.db.read() as conn:
            return media.get_media_by_id(conn, media_id)

    row = await svc.db.run(read)
    if row is None:
        raise NotFound(f"no media {media_id!r}")
    return FileResponse(svc.storage.path_for(row["storage_key"]), media_type=row["content_type"])
