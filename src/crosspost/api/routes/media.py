"""/v1/media: stream a file in (raw body or multipart), hash it, probe it; or name a URL
for a worker to fetch (JSON body)."""

from __future__ import annotations

import re
from typing import Annotated, Any

from fastapi import APIRouter, Header, Query, Request, Response
from fastapi.concurrency import run_in_threadpool
from fastapi.exceptions import RequestValidationError
from pydantic import ValidationError
from starlette.responses import StreamingResponse

from crosspost.api.auth import Principal
from crosspost.api.deps import MediaWriteDep, PrincipalDep, ServicesDep, client_ip, require_flag
from crosspost.api.errors import problem_responses
from crosspost.api.idempotency import Idempotency, IdempotencyKey
from crosspost.api.object_response import object_response
from crosspost.api.pagination import decode_position, paginate_both
from crosspost.api.upload import receive_multipart, receive_raw
from crosspost.api.wellformed import content_length, json_flaw
from crosspost.domain.bounds import AwareInstant, PageLimit, UnixSeconds
from crosspost.domain.enums import MediaKind
from crosspost.domain.media_items import MediaFromUrl, MediaItem, MediaItemListed
from crosspost.domain.models import TwoWayPage
from crosspost.engine import media_fetch, media_library
from crosspost.engine.media_intake import check_room, meter_media, probe_stored
from crosspost.engine.services import Services
from crosspost.engine.url_fetch import shown_url
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
    response_model=MediaItem,
    responses={
        **_ERRORS,
        202: {"model": MediaItem, "description": "A URL to fetch: the item is `fetching`."},
    },
    openapi_extra={
        "requestBody": {
            "content": {
                "application/json": {"schema": MediaFromUrl.model_json_schema()},
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
    Or send JSON `{"url": "https://…"}`: the answer is 202 with the item `fetching`, and a
    worker fetches, checks and probes the file (GET the item for its progress).

    Honors `Idempotency-Key` for 24 h. The body is streamed, never held, so the request is
    fingerprinted by the file's sha256, size, type and name rather than by its raw bytes
    (a retried multipart body differs in its boundary, yet carries the same file).
    Counts `bytes_uploaded` and `media_minutes` against the monthly quotas.
    """
    limit = svc.settings.max_upload_bytes
    header = request.headers.get("content-length", "")
    declared = content_length(header)
    ctype = request.headers.get("content-type", "").strip()
    base = ctype.split(";")[0].strip().lower()
    if base == "application/json" or (base.startswith("application/") and base.endswith("+json")):
        return await _from_url(request, svc, principal, declared, idempotency_key)
    if declared is not None and declared > limit + 64 * 1024:
        raise PayloadTooLarge(
            f"upload is {header.strip()} bytes; the limit is {limit} bytes",
            code="media_too_large",
        )
    if declared is not None and base != "multipart/form-data":
        # A raw body is the file: refuse before receiving a byte when it cannot fit this
        # month's quota. (A multipart body's length includes its framing: checked later.)
        await svc.db.run(_check_room, svc, principal, declared)
    media_id = new_id("med")
    pending = svc.storage.begin_write(media_id, max_bytes=limit)
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
                "media type (video/mp4, audio/mpeg, image/png, …), or its URL as JSON "
                '{"url": "https://…"}',
                code="unsupported_upload_type",
            )
        if pending.size == 0:
            raise CrosspostError("the uploaded file is empty", code="empty_upload")
        if filename is not None and "\x00" in filename:
            raise InvalidInput(
                "the file name contains a NUL character, which no field accepts; remove it",
                code="nul_character",
            )
        stored = await run_in_threadpool(pending.commit)
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
        check_room(conn, tenant_id=principal.tenant_id, key_id=principal.key_id, size=size,
                   now=svc.clock.now())  # fmt: skip


async def _from_url(
    request: Request,
    svc: Services,
    principal: Principal,
    declared: int | None,
    idempotency_key: str | None,
) -> Response:
    """A media item `fetching` from the body's URL, its job enqueued (202)."""
    limit = svc.settings.max_json_bytes
    if declared is not None and declared > limit:
        raise PayloadTooLarge(
            f"the body is {declared} bytes; a URL request takes at most {limit}",
            code="body_too_large",
        )
    raw = bytearray()
    async for chunk in request.stream():
        raw += chunk
        if len(raw) > limit:
            raise PayloadTooLarge(
                f"the body exceeds {limit} bytes; a URL request takes at most {limit}",
                code="body_too_large",
            )
    body = bytes(raw)
    flaw = json_flaw(body)
    if flaw is not None:
        error = BadRequest if flaw.status == 400 else InvalidInput
        raise error(flaw.detail, code=flaw.code, **flaw.extra)
    try:
        asked = MediaFromUrl.model_validate_json(body)
    except ValidationError as exc:
        errors = [{**e, "loc": ("body", *e["loc"])} for e in exc.errors(include_url=False)]
        raise RequestValidationError(errors) from None
    idem = Idempotency(
        svc, principal, method="POST", path=request.url.path, key=idempotency_key, body=body
    )

    def work() -> tuple[Response | None, bytes]:
        with svc.db.write() as conn:
            replay = idem.claim(conn)
            if replay is not None:
                return replay, b""
            row = media_fetch.start_fetch(
                svc, conn, tenant_id=principal.tenant_id, key_id=principal.key_id,
                url=asked.url, filename=asked.filename,
            )  # fmt: skip
            answer = MediaItem.model_validate(media_item(row)).model_dump_json().encode()
            idem.finish(conn, 202, answer)
        return None, answer

    replay, answer = await svc.db.run(work)
    if replay is not None:
        return replay
    request.app.state.wake_workers()
    return Response(answer, status_code=202, media_type="application/json")


def media_item(row: Row) -> dict[str, Any]:
    """A media row as the API shows it: its URL without the query, progress, error."""
    item = dict(row)
    item.setdefault("status", "ready")
    url = row.get("source_url")
    item["source_url"] = shown_url(url) if url else None
    item["progress"] = (
        {
            "bytes_fetched": row.get("fetched_bytes") or 0,
            "bytes_total": row.get("fetch_total_bytes"),
        }
        if url
        else None
    )
    code = row.get("error_code")
    item["error"] = {"code": code, "message": row.get("error_message") or ""} if code else None
    for name in ("kind", "content_type", "size_bytes", "sha256", "container", "duration_seconds",
                 "width", "height", "video_codec", "audio_codec", "frame_rate"):  # fmt: skip
        item.setdefault(name, None)
    return item


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
    values = await run_in_threadpool(
        lambda: probe_stored(
            svc.storage, stored, media_id=media_id, filename=filename, content_type=content_type
        )
    )
    now = svc.clock.now()
    row = {"id": media_id, "tenant_id": principal.tenant_id, **values, "created_at": now}
    body = MediaItem.model_validate(media_item(row)).model_dump_json().encode()

    def save() -> dict[str, str]:
        with svc.db.write() as conn:
            media.insert_media(conn, **row)
            warnings = meter_media(
                conn, tenant_id=principal.tenant_id, key_id=principal.key_id, values=values,
                now=now,
            )  # fmt: skip
            idem.finish(conn, 201, body)
        return metering.warning_header(warnings)

    headers = await svc.db.run(save)
    return Response(body, status_code=201, media_type="application/json", headers=headers)


@router.get("", response_model=TwoWayPage[MediaItemListed], responses=_ERRORS)
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
) -> TwoWayPage[MediaItemListed]:
    """The media library, newest first, with status, sizes and how many posts use each
    item; follow `next_cursor`."""
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
    return paginate_both(
        rows, limit, position, request, response,
        lambda row: MediaItemListed.model_validate(media_item(row)),
    )  # fmt: skip


@router.delete("/{media_id}", status_code=204, responses=_ERRORS)
async def delete_media(
    request: Request, media_id: str, svc: ServicesDep, principal: MediaWriteDep
) -> Response:
    """Delete a media item and its file. Refused (409 `media_in_use`) while a post still
    to publish uses it; posts already published keep naming it. Deleting an item still
    `fetching` stops its fetch."""
    require_flag(request, "media.library", principal.tenant_id)
    actor = principal.actor(client_ip(request))
    await svc.db.run(
        lambda: media_library.delete_media(
            svc, tenant_id=principal.tenant_id, media_id=media_id, actor=actor
        )
    )
    return Response(status_code=204)


@router.get("/{media_id}", response_model=MediaItem, responses=_ERRORS)
async def get_media(media_id: str, svc: ServicesDep, principal: PrincipalDep) -> MediaItem:
    """A media object's metadata; while `fetching`, how far the fetch got; when `failed`,
    why."""

    def read() -> Row | None:
        with svc.db.read() as conn:
            return media.get_media(conn, principal.tenant_id, media_id)

    row = await svc.db.run(read)
    if row is None:
        raise NotFound(f"no media {media_id!r}")
    return MediaItem.model_validate(media_item(row))


@router.get(
    "/{media_id}/content",
    response_class=StreamingResponse,
    responses={
        200: {"content": {"application/octet-stream": {}}},
        206: {"description": "The byte range asked for (`Range: bytes=…`)."},
        **problem_responses(403, 404, 416),
    },
)
async def content(
    media_id: str,
    svc: ServicesDep,
    expires: Annotated[UnixSeconds, Query(description="Unix time the URL stops working.")],
    signature: Annotated[str, Query(max_length=128)],
    range_header: Annotated[str | None, Header(alias="Range", include_in_schema=False)] = None,
) -> StreamingResponse:
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
    if row is None or row["storage_key"] is None:  # none while fetching, none if it failed
        raise NotFound(f"no media {media_id!r}")
    return await object_response(
        svc.storage, row["storage_key"], media_type=row["content_type"], range_header=range_header
    )
