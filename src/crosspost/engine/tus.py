"""tus 1.0 resumable uploads (creation, expiration, checksum, termination), as the engine
keeps them: an upload row per file, its bytes in media storage's staging area.

The row's `upload_offset` is the truth. One PATCH at a time holds an upload (a lease in the
row, renewed while bytes flow, so a process that died frees it); it writes from the
confirmed offset, cutting off whatever a dead PATCH left past it, and confirms what it
wrote in one conditional update. The last byte turns the upload `completing` (with the id
its media item will have) before anything else: the staged file is then moved under that
id, probed and counted exactly like any upload, and the upload `complete`. Any later
request on a `completing` upload finishes that work, so a crash part-way only delays it.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy.engine import Connection

from crosspost.engine.media_intake import check_room, media_name, meter_media, probe_stored
from crosspost.engine.services import Services
from crosspost.errors import (
    BadRequest,
    Conflict,
    CrosspostError,
    Gone,
    InvalidInput,
    NotFound,
    PayloadTooLarge,
)
from crosspost.ids import new_id
from crosspost.media.storage import StoredObject
from crosspost.store import media, tus_uploads
from crosspost.store.rows import Row
from crosspost.usage.metering import warning_header

VERSION = "1.0.0"
EXTENSIONS = ("creation", "expiration", "checksum", "termination")
CHECKSUMS: dict[str, Callable[[], Any]] = {"sha1": hashlib.sha1, "sha256": hashlib.sha256}
RECEIVING, COMPLETING, COMPLETE, FAILED = "receiving", "completing", "complete", "failed"
_MAX_METADATA_PAIRS = 32
_MEDIA_TYPE = re.compile(r"[!#$%&'*+.^_`|~0-9A-Za-z-]+/[!#$%&'*+.^_`|~0-9A-Za-z-]+")
_MAX_TYPE = 100
_PURGE_BATCH = 500


class UploadBusy(CrosspostError):
    """Another PATCH is writing this upload (423)."""

    status = 423
    code = "upload_busy"
    title = "Locked"


def parse_metadata(header: str) -> dict[str, str]:
    """The pairs of an Upload-Metadata header (`key base64value`, comma separated); 400
    `invalid_upload_metadata` saying which pair is wrong."""
    pairs: dict[str, str] = {}
    items = [item.strip() for item in header.split(",")] if header.strip() else []
    if len(items) > _MAX_METADATA_PAIRS:
        raise _bad_metadata(f"it has {len(items)} pairs; at most {_MAX_METADATA_PAIRS}")
    for item in items:
        key, _, value = item.partition(" ")
        if not key or " " in value.strip() or key in pairs:
            raise _bad_metadata(f"{item[:60]!r} is not one `key base64value` pair of a unique key")
        try:
            decoded = base64.b64decode(value.strip(), validate=True)
        except (binascii.Error, ValueError):
            raise _bad_metadata(f"the value of {key[:40]!r} is not base64") from None
        pairs[key] = decoded.decode("utf-8", "replace")
    return pairs


def _bad_metadata(why: str) -> BadRequest:
    return BadRequest(
        f"Upload-Metadata is malformed: {why}; send comma-separated `key base64value` pairs, "
        "e.g. filename Y2xpcC5tcDQ=,filetype dmlkZW8vbXA0",
        code="invalid_upload_metadata",
    )


def parse_checksum(header: str) -> tuple[str, bytes]:
    """An Upload-Checksum header's algorithm and digest; 400 when it names an algorithm we
    do not offer or is malformed."""
    algorithm, _, value = header.strip().partition(" ")
    if algorithm not in CHECKSUMS:
        raise BadRequest(
            f"checksum algorithm {algorithm[:20]!r} is not supported; use one of "
            f"{', '.join(CHECKSUMS)} (Tus-Checksum-Algorithm)",
            code="checksum_algorithm_unsupported",
        )
    try:
        digest = base64.b64decode(value.strip(), validate=True)
    except (binascii.Error, ValueError):
        digest = b""
    if len(digest) != CHECKSUMS[algorithm]().digest_size:
        raise BadRequest(
            f"Upload-Checksum must be `{algorithm} <base64 of the chunk's digest>`",
            code="invalid_upload_checksum",
        )
    return algorithm, digest


def create(
    svc: Services,
    conn: Connection,
    *,
    tenant_id: str,
    key_id: str,
    length: int,
    metadata_header: str,
) -> Row:
    """Record a new upload of `length` bytes in the caller's transaction: 413 past the
    upload limit, 402 past this month's quota, 422 for an empty file."""
    limit = svc.settings.max_upload_bytes
    if length > limit:
        raise PayloadTooLarge(
            f"Upload-Length is {length} bytes; the limit is {limit} bytes (Tus-Max-Size)",
            code="upload_too_large",
            headers={"Tus-Max-Size": str(limit)},
        )
    if length == 0:
        raise InvalidInput("Upload-Length is 0: an empty file is no media", code="empty_upload")
    pairs = parse_metadata(metadata_header)
    filename = pairs.get("filename") or pairs.get("name")
    if filename is not None and "\x00" in filename:
        raise InvalidInput(
            "the file name contains a NUL character, which no field accepts; remove it",
            code="nul_character",
        )
    filetype = (pairs.get("filetype") or pairs.get("type") or "").strip().lower()
    now = svc.clock.now()
    check_room(conn, tenant_id=tenant_id, key_id=key_id, size=length, now=now)
    upload_id = new_id("tus")
    row: Row = {
        "id": upload_id,
        "tenant_id": tenant_id,
        "key_id": key_id,
        "upload_length": length,
        "upload_offset": 0,
        "upload_metadata": {"header": metadata_header, "pairs": pairs},
        "filename": media_name(filename, upload_id) if filename else None,
        "filetype": filetype if _is_media_type(filetype) else None,
        "status": RECEIVING,
        "media_id": None,
        "error_code": None,
        "error_message": None,
        "created_at": now,
        "updated_at": now,
        "expires_at": now + _expiry(svc),
    }
    tus_uploads.insert_upload(conn, **row)
    return row


def _is_media_type(value: str) -> bool:
    return len(value) <= _MAX_TYPE and _MEDIA_TYPE.fullmatch(value) is not None


def _expiry(svc: Services) -> timedelta:
    return timedelta(hours=svc.settings.tus_expiry_hours)


def find(svc: Services, conn: Connection, tenant_id: str, upload_id: str) -> Row:
    """A tenant's upload that has not expired; 404, or 410 once expired unfinished."""
    row = tus_uploads.get_upload(conn, tenant_id, upload_id)
    if row is None:
        raise NotFound(f"no upload {upload_id!r}", code="upload_not_found")
    if row["status"] != COMPLETE and row["expires_at"] <= svc.clock.now():
        raise Gone(
            f"upload {upload_id} expired at {row['expires_at'].isoformat()} unfinished; start "
            "a new upload",
            code="upload_expired",
        )
    return row


@dataclass(frozen=True)
class Lease:
    """The hold a PATCH has on an upload."""

    upload_id: str
    token: str
    offset: int
    length: int


def acquire(svc: Services, *, tenant_id: str, upload_id: str, offset: int, token: str) -> Lease:
    """Hold the upload for one PATCH from `offset`: 409 when the offset is not the upload's
    (or it is finished), 423 while another PATCH writes it, 404/410 when it is gone."""
    with svc.db.write() as conn:
        find(svc, conn, tenant_id, upload_id)
        row = tus_uploads.lock_upload(conn, tenant_id, upload_id)
        assert row is not None  # found above, in this transaction
        now = svc.clock.now()
        if row["status"] != RECEIVING:
            raise Conflict(
                f"upload {upload_id} is {row['status']}: it takes no more bytes; HEAD it (or "
                "GET it for its media id or its error)",
                code=f"upload_{row['status']}",
                headers=_offset_header(row),
            )
        if offset != row["upload_offset"]:
            raise Conflict(
                f"Upload-Offset is {offset}, but the upload holds {row['upload_offset']} bytes; "
                "HEAD it and send from there",
                code="offset_mismatch",
                headers=_offset_header(row),
            )
        if row["locked_until"] is not None and row["locked_until"] > now:
            wait = max(1, int((row["locked_until"] - now).total_seconds()) + 1)
            raise UploadBusy(
                "another PATCH is still writing this upload; wait for it to end (or for its "
                f"connection to drop), then HEAD the upload and resume; retry in {wait} s",
                headers={"Retry-After": str(wait)},
            )
        if svc.storage.staged_size(upload_id) < offset:
            # Its bytes are gone (storage lost, or purged at the instant it expired).
            tus_uploads.update_upload(conn, upload_id, status=FAILED, error_code="upload_lost",
                                      error_message="the bytes received were lost",
                                      updated_at=now)  # fmt: skip
            raise Gone(
                f"upload {upload_id}'s bytes were lost; start a new upload", code="upload_lost"
            )
        tus_uploads.update_upload(
            conn, upload_id, lock_token=token, locked_until=now + _lock(svc),
            expires_at=now + _expiry(svc), updated_at=now,
        )  # fmt: skip
    return Lease(upload_id, token, offset, int(row["upload_length"]))


def _lock(svc: Services) -> timedelta:
    return timedelta(seconds=svc.settings.tus_lock_seconds)


def _offset_header(row: Row) -> dict[str, str]:
    return {"Upload-Offset": str(row["upload_offset"])}


def renew(svc: Services, lease: Lease) -> bool:
    """Extend the PATCH's hold; False when it lost it (it must stop writing)."""
    with svc.db.write() as conn:
        return tus_uploads.renew_lock(
            conn, lease.upload_id, lease.token, svc.clock.now() + _lock(svc)
        )


def release(svc: Services, lease: Lease, written: int) -> Row | None:
    """Confirm `written` bytes past the lease's offset and give the upload back; the last
    byte makes it `completing`. None when the lease was lost (nothing confirmed)."""
    new_offset = lease.offset + written
    now = svc.clock.now()
    values: dict[str, Any] = {"upload_offset": new_offset, "updated_at": now,
                              "expires_at": now + _expiry(svc)}  # fmt: skip
    if new_offset == lease.length:
        values.update(status=COMPLETING, media_id=new_id("med"))
    with svc.db.write() as conn:
        if not tus_uploads.release_lock(conn, lease.upload_id, lease.token, **values):
            return None
        return tus_uploads.get_by_id(conn, lease.upload_id)


def abandon(svc: Services, lease: Lease) -> None:
    """Give the upload back with nothing confirmed (the chunk was refused or lost)."""
    with svc.db.write() as conn:
        tus_uploads.release_lock(conn, lease.upload_id, lease.token)


@dataclass(frozen=True)
class Completed:
    """An upload after its completion ran: its row, and any quota warning headers."""

    row: Row
    headers: dict[str, str]


def complete(svc: Services, row: Row) -> Completed:
    """Turn a `completing` upload into its media item (idempotent: a concurrent or repeated
    run finds the work done); failed with the reason when the file is no usable media or
    the quota refuses it."""
    upload_id, media_id = row["id"], row["media_id"]
    if row["status"] != COMPLETING:
        return Completed(row, {})
    try:
        if svc.storage.staged_size(upload_id) == row["upload_length"]:
            stored = svc.storage.promote(upload_id, media_id)
        else:
            stored = svc.storage.stored(media_id)  # moved by an earlier run that then died
    except FileNotFoundError:
        return Completed(_fail(svc, row, "upload_lost", "the bytes received were lost"), {})
    try:
        values = probe_stored(
            svc.storage,
            stored,
            media_id=media_id,
            filename=row["filename"],
            content_type=row["filetype"],
        )
    except InvalidInput as exc:
        return Completed(_fail(svc, row, exc.code, exc.detail), {})
    try:
        return _save(svc, row, stored, values)
    except CrosspostError as exc:  # the quota: nothing was written
        return Completed(_fail(svc, row, exc.code, exc.detail), {})


def _save(svc: Services, row: Row, stored: StoredObject, values: dict[str, Any]) -> Completed:
    now = svc.clock.now()
    with svc.db.write() as conn:
        current = tus_uploads.lock_upload(conn, row["tenant_id"], row["id"])
        if current is None or current["status"] != COMPLETING:
            if current is None:  # terminated meanwhile: its file goes with it
                svc.storage.delete(stored.key)
            return Completed(current or row, {})
        media.insert_media(conn, id=row["media_id"], tenant_id=row["tenant_id"], **values,
                           created_at=now)  # fmt: skip
        warnings = meter_media(
            conn, tenant_id=row["tenant_id"], key_id=row["key_id"], values=values, now=now
        )
        tus_uploads.update_upload(conn, row["id"], status=COMPLETE, updated_at=now)
        done = tus_uploads.get_upload(conn, row["tenant_id"], row["id"])
    assert done is not None
    return Completed(done, warning_header(warnings))


def _fail(svc: Services, row: Row, code: str, message: str) -> Row:
    now = svc.clock.now()
    with svc.db.write() as conn:
        current = tus_uploads.lock_upload(conn, row["tenant_id"], row["id"])
        if current is not None and current["status"] == COMPLETING:
            tus_uploads.update_upload(conn, row["id"], status=FAILED, error_code=code[:40],
                                      error_message=message, updated_at=now)  # fmt: skip
        failed = tus_uploads.get_upload(conn, row["tenant_id"], row["id"])
    svc.storage.delete(row["media_id"])
    svc.storage.discard_staged(row["id"])
    return failed or row


def failure(row: Row) -> CrosspostError:
    """The problem a failed upload's last PATCH answers with."""
    code = row["error_code"] or "upload_failed"
    error = CrosspostError(
        f"the upload arrived whole but cannot become a media item: {row['error_message']}",
        code=code,
        headers={"Upload-Offset": str(row["upload_offset"])},
    )
    error.status = 402 if code == "quota_exceeded" else 422
    error.title = "Quota exceeded" if code == "quota_exceeded" else "Invalid input"
    return error


def terminate(svc: Services, *, tenant_id: str, upload_id: str) -> None:
    """Delete an upload and the bytes it holds (its media item, once made, stays)."""
    with svc.db.read() as conn:
        row = tus_uploads.get_upload(conn, tenant_id, upload_id)
    if row is None:
        raise NotFound(f"no upload {upload_id!r}", code="upload_not_found")
    if row["status"] == COMPLETING:
        row = complete(svc, row).row
    # The bytes first: a crash after leaves a row that refuses to resume (410) until purged.
    svc.storage.discard_staged(upload_id)
    with svc.db.write() as conn:
        tus_uploads.delete_upload(conn, upload_id)


def purge_expired(svc: Services, now: datetime) -> int:
    """Delete uploads past their expiry with their staged bytes; at most a batch a run.
    How many went."""
    with svc.db.read() as conn:
        rows = tus_uploads.expired_before(conn, now, limit=_PURGE_BATCH)
    for row in rows:
        svc.storage.discard_staged(row["id"])
        if row["status"] == COMPLETING:  # its media row was never written
            svc.storage.delete(row["media_id"])
    with svc.db.write() as conn:
        tus_uploads.delete_expired(conn, [r["id"] for r in rows], now)
    return len(rows)


def view(row: Row) -> dict[str, Any]:
    """An upload as `GET /v1/uploads/tus/{id}` shows it."""
    code = row.get("error_code")
    return {
        **row,
        "error": {"code": code, "message": row.get("error_message") or ""} if code else None,
    }
