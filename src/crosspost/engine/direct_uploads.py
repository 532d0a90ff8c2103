"""Direct uploads: the client sends the file straight to media storage, then asks for it to
become a media item.

`create` records the upload with the id of the media item it will become; its object's key
is that id from the start, so completing moves nothing. On S3 the client PUTs to a URL the
store presigned; on local disk crosspost serves the same contract itself
(`/v1/uploads/{id}/content`, signed like media URLs): the declared Content-Type, exactly the
declared Content-Length and, when a sha256 was declared, its base64 as
x-amz-checksum-sha256. `complete` checks the object's size, hashes and probes it in one
read, then writes the media row and its usage in one transaction. Uploads never completed
are deleted, row and object, by the hourly maintenance once `complete_by` has passed.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from sqlalchemy.engine import Connection

from crosspost.domain.direct_uploads import DirectUploadCreate, DirectUploadStatus
from crosspost.engine.media_intake import check_room, media_name, meter_media, probed_values
from crosspost.engine.services import Services
from crosspost.errors import (
    BadRequest,
    Conflict,
    CrosspostError,
    Forbidden,
    Gone,
    InvalidInput,
    NotFound,
    PayloadTooLarge,
    QuotaExceeded,
)
from crosspost.ids import new_id
from crosspost.media import signed_urls
from crosspost.media.storage import PresignedPut, StoredObject
from crosspost.store import direct_uploads, media
from crosspost.store.rows import Row
from crosspost.usage.metering import warning_header

PENDING, COMPLETE, FAILED = (s.value for s in DirectUploadStatus)
# A PUT that started before the URL expired may still be running: completing stays open
# this long after, then the upload is deleted.
FINISH_GRACE = timedelta(hours=6)
CHECKSUM_HEADER = "x-amz-checksum-sha256"
_PURGE_BATCH = 500
_HASH_PIECE = 1024 * 1024
# Upload URLs are signed with a key of their own, derived from the hash key, so a media
# URL's signature can never open an upload, nor the reverse.
_URL_KEY_LABEL = b"crosspost direct upload url v1"


def create(
    svc: Services, conn: Connection, *, tenant_id: str, key_id: str, asked: DirectUploadCreate
) -> Row:
    """Record a new upload in the caller's transaction: 413 past the upload limit, 402 when
    this month's quota cannot take the file."""
    limit = svc.settings.max_upload_bytes
    if asked.size > limit:
        raise PayloadTooLarge(
            f"size is {asked.size} bytes; the limit is {limit} bytes: send a smaller file",
            code="upload_too_large",
            limit_bytes=limit,
        )
    now = svc.clock.now().replace(microsecond=0)  # the URL's expiry is in whole seconds
    check_room(conn, tenant_id=tenant_id, key_id=key_id, size=asked.size, now=now)
    upload_id, media_id = new_id("upl"), new_id("med")
    row: Row = {
        "id": upload_id,
        "tenant_id": tenant_id,
        "key_id": key_id,
        "filename": media_name(asked.filename, media_id),
        "content_type": asked.content_type,
        "size_bytes": asked.size,
        "sha256": asked.sha256,
        "media_id": media_id,
        "status": PENDING,
        "error_code": None,
        "error_message": None,
        "created_at": now,
        "updated_at": now,
        "expires_at": now + timedelta(seconds=asked.expires_in),
    }
    direct_uploads.insert_upload(conn, **row)
    return row


def find(conn: Connection, tenant_id: str, upload_id: str) -> Row:
    """A tenant's upload; 404 when it has none of that id."""
    row = direct_uploads.get_upload(conn, tenant_id, upload_id)
    if row is None:
        raise NotFound(f"no upload {upload_id!r}", code="upload_not_found")
    return row


def checksum_value(sha256_hex: str) -> str:
    """The x-amz-checksum-sha256 value of a hex SHA-256: base64 of the digest."""
    return base64.b64encode(bytes.fromhex(sha256_hex)).decode()


def put_headers(row: Row) -> dict[str, str]:
    """The headers the PUT must send exactly (the same on S3 and on local disk)."""
    headers = {"Content-Type": row["content_type"], "Content-Length": str(row["size_bytes"])}
    if row["sha256"]:
        headers[CHECKSUM_HEADER] = checksum_value(row["sha256"])
    return headers


def content_path(upload_id: str) -> str:
    """Where crosspost itself takes an upload's PUT when the store signs none."""
    return f"/v1/uploads/{upload_id}/content"


def _url_key(svc: Services) -> bytes:
    return hmac.new(svc.hash_key, _URL_KEY_LABEL, hashlib.sha256).digest()


def _signed_content_url(svc: Services, upload_id: str, expires: int) -> str:
    # The media signer builds a media URL around its query; only the query is reused.
    signed = signed_urls.sign(svc.settings.base_url, upload_id, _url_key(svc), expires)
    return f"{svc.settings.base_url}{content_path(upload_id)}?{urlsplit(signed).query}"


def upload_target(svc: Services, row: Row) -> PresignedPut | None:
    """Where and how to PUT the file now; None once the URL has expired."""
    now = svc.clock.now()
    left = int((row["expires_at"] - now).total_seconds())
    if left <= 0:
        return None
    presigned = svc.storage.presign_put(
        row["media_id"],
        content_type=row["content_type"],
        size=row["size_bytes"],
        sha256=row["sha256"],
        expires_in=left,
    )
    if presigned is not None:
        return presigned
    url = _signed_content_url(svc, row["id"], int(row["expires_at"].timestamp()))
    return PresignedPut(url=url, headers=put_headers(row))


def view(svc: Services, row: Row, *, with_url: bool = True) -> dict[str, Any]:
    """An upload as the API shows it; the URL only while pending (and when asked for)."""
    target = upload_target(svc, row) if with_url and row["status"] == PENDING else None
    code = row.get("error_code")
    return {
        **row,
        "size": row["size_bytes"],
        "upload_url": target.url if target else None,
        "method": "PUT",
        "headers": target.headers if target else put_headers(row),
        "complete_by": row["expires_at"] + FINISH_GRACE,
        "max_bytes": row["size_bytes"],
        "media_id": row["media_id"] if row["status"] == COMPLETE else None,
        "error": {"code": code, "message": row.get("error_message") or ""} if code else None,
    }


# --- the PUT crosspost serves on local disk ---------------------------------------------


class LengthRequired(CrosspostError):
    """A PUT without Content-Length (411): the upload takes exactly the declared size."""

    status = 411
    code = "length_required"
    title = "Length required"


def open_for_put(svc: Services, upload_id: str, expires: int, signature: str) -> Row:
    """The upload a signed PUT may write: 403 for a bad or expired signature, 404 when the
    upload is gone, 409 once it is no longer pending."""
    if not signed_urls.verify(_url_key(svc), upload_id, expires, signature):
        raise Forbidden("this upload URL's signature is not valid", code="signature_invalid")
    if expires < svc.clock.now().timestamp():
        raise Forbidden(
            "this upload URL has expired: create a new upload (POST /v1/uploads)",
            code="url_expired",
        )
    with svc.db.read() as conn:
        row = direct_uploads.get_by_id(conn, upload_id)
    if row is None:
        raise NotFound(f"no upload {upload_id!r}", code="upload_not_found")
    if row["status"] != PENDING:
        raise Conflict(
            f"upload {upload_id} is {row['status']}: it takes no more bytes",
            code=f"upload_{row['status']}",
        )
    return row


def ensure_pending(svc: Services, upload_id: str) -> None:
    """Refuse (409) to store the file of an upload that is no longer pending."""
    with svc.db.read() as conn:
        current = direct_uploads.get_by_id(conn, upload_id)
    status = current["status"] if current else "gone"
    if status != PENDING:
        raise Conflict(
            f"upload {upload_id} became {status} while this PUT ran; nothing was kept",
            code=f"upload_{status}",
        )


def check_put(
    row: Row, *, content_type: str | None, length: int | None, checksum: str | None
) -> bytes | None:
    """Refuse a PUT whose headers are not the ones the upload declared (before any byte is
    read; `length` is the Content-Length, None when absent); the SHA-256 digest the body
    must have, when one was declared or sent."""
    declared = row["content_type"]
    if content_type is None or content_type.strip().lower() != declared:
        raise BadRequest(
            f"Content-Type must be {declared}, as declared when the upload was created "
            f"(got {(content_type or 'none')[:100]!r})",
            code="content_type_mismatch",
        )
    size = row["size_bytes"]
    if length is None:
        raise LengthRequired(f"send Content-Length: {size} (the declared size; no chunked bodies)")
    if length < size:
        raise BadRequest(
            f"Content-Length must be {size}, the declared size (got {length})",
            code="content_length_mismatch",
        )
    if length > size:
        raise PayloadTooLarge(
            f"the body is {length} bytes; this upload takes exactly {size}",
            code="upload_too_large",
            limit_bytes=size,
        )
    expected = checksum_value(row["sha256"]) if row["sha256"] else None
    if expected is not None and checksum is None:
        raise BadRequest(
            f"send {CHECKSUM_HEADER}: {expected} (the declared sha256, base64)",
            code="checksum_missing",
        )
    if checksum is None:
        return None
    try:
        digest = base64.b64decode(checksum.strip(), validate=True)
    except ValueError:
        digest = b""
    if len(digest) != hashlib.sha256().digest_size or (
        expected is not None and checksum.strip() != expected
    ):
        raise _checksum_mismatch(f"{CHECKSUM_HEADER} is not the declared sha256 in base64")
    return digest


def _checksum_mismatch(why: str) -> BadRequest:
    return BadRequest(f"{why}; nothing was kept: send the file again", code="checksum_mismatch")


def short_body(got: int, size: int) -> BadRequest:
    """The 400 for a body that ended before the declared size."""
    return BadRequest(
        f"the body ended after {got} of the declared {size} bytes; nothing was kept: send "
        "the whole file",
        code="content_length_mismatch",
    )


def body_mismatch() -> BadRequest:
    """The 400 for a body whose SHA-256 is not the one declared."""
    return _checksum_mismatch("the body's SHA-256 is not the declared one")


# --- completing -------------------------------------------------------------------------


@dataclass(frozen=True)
class Completed:
    """An upload after `complete`: its row, and any quota warning headers."""

    row: Row
    headers: dict[str, str]


def complete(svc: Services, *, tenant_id: str, upload_id: str) -> Completed:
    """Turn an uploaded file into its media item (idempotent): 409 while the object is not
    there whole, 410 past `complete_by`, 422 (the upload then `failed`, its object deleted)
    when the file is no usable media, 402 when the quota refuses it."""
    with svc.db.read() as conn:
        row = find(conn, tenant_id, upload_id)
    if row["status"] == COMPLETE:
        return Completed(row, {})
    if row["status"] == FAILED:
        raise failure(row)
    if svc.clock.now() >= row["expires_at"] + FINISH_GRACE:
        raise Gone(
            f"upload {upload_id} expired at {row['expires_at'].isoformat()} and was never "
            "completed; start a new upload",
            code="upload_expired",
        )
    key, size = row["media_id"], row["size_bytes"]
    try:
        found = svc.storage.size(key)
    except FileNotFoundError:
        raise Conflict(
            f"nothing was uploaded yet: PUT the file ({size} bytes) to the upload URL first",
            code="upload_incomplete",
        ) from None
    if found != size:
        svc.storage.delete(key)
        raise Conflict(
            f"the stored file has {found} bytes, not the declared {size}; it was deleted: "
            "PUT the file again",
            code="upload_size_mismatch",
        )
    try:
        values = _probe(svc, row)
    except _WrongDigest:
        svc.storage.delete(key)
        raise Conflict(
            "the stored file's SHA-256 is not the declared one; it was deleted: PUT the file again",
            code="checksum_mismatch",
        ) from None
    except FileNotFoundError:  # deleted meanwhile (a concurrent failure, or a purge)
        raise Conflict(
            f"nothing was uploaded yet: PUT the file ({size} bytes) to the upload URL first",
            code="upload_incomplete",
        ) from None
    except InvalidInput as exc:
        raise failure(_fail(svc, row, exc.code, exc.detail)) from None
    try:
        return _save(svc, row, values)
    except QuotaExceeded as exc:  # nothing was written
        raise failure(_fail(svc, row, exc.code, exc.detail)) from None


class _WrongDigest(Exception):
    """The stored file is not the one whose SHA-256 was declared."""


def _probe(svc: Services, row: Row) -> dict[str, Any]:
    """Hash and probe the stored file from one local copy (one read of a remote object)."""
    key = row["media_id"]
    with svc.storage.local_file(key) as path:
        digest = _sha256(path)
        if row["sha256"] and digest != row["sha256"]:
            raise _WrongDigest
        stored = StoredObject(key=key, size=row["size_bytes"], sha256=digest)
        return probed_values(
            path, stored, media_id=key, filename=row["filename"], content_type=row["content_type"]
        )


def _sha256(path: Path) -> str:
    hasher = hashlib.sha256()
    with path.open("rb") as fh:
        while block := fh.read(_HASH_PIECE):
            hasher.update(block)
    return hasher.hexdigest()


def _save(svc: Services, row: Row, values: dict[str, Any]) -> Completed:
    now = svc.clock.now()
    with svc.db.write() as conn:
        current = direct_uploads.lock_upload(conn, row["tenant_id"], row["id"])
        # Past `complete_by` the maintenance may be deleting the object: too late.
        if current is None or now >= current["expires_at"] + FINISH_GRACE:
            raise Gone(f"upload {row['id']} expired meanwhile", code="upload_expired")
        if current["status"] != PENDING:  # a concurrent completion got there first
            if current["status"] == FAILED:
                raise failure(current)
            return Completed(current, {})
        media.insert_media(conn, id=row["media_id"], tenant_id=row["tenant_id"], **values,
                           created_at=now)  # fmt: skip
        warnings = meter_media(
            conn, tenant_id=row["tenant_id"], key_id=row["key_id"], values=values, now=now
        )
        direct_uploads.update_upload(conn, row["id"], status=COMPLETE, updated_at=now)
        done = direct_uploads.get_by_id(conn, row["id"])
    assert done is not None
    return Completed(done, warning_header(warnings))


def _fail(svc: Services, row: Row, code: str, message: str) -> Row:
    """Mark the upload failed and delete its object, unless a concurrent call settled it."""
    now = svc.clock.now()
    with svc.db.write() as conn:
        current = direct_uploads.lock_upload(conn, row["tenant_id"], row["id"])
        settled = current is None or current["status"] != PENDING
        if not settled:
            direct_uploads.update_upload(conn, row["id"], status=FAILED, error_code=code[:40],
                                         error_message=message, updated_at=now)  # fmt: skip
        failed = direct_uploads.get_by_id(conn, row["id"])
    if not settled:
        svc.storage.delete(row["media_id"])
    return failed or {**row, "status": FAILED, "error_code": code, "error_message": message}


def failure(row: Row) -> CrosspostError:
    """The problem a failed upload answers `complete` with (422, or 402 for the quota)."""
    code = row["error_code"] or "upload_failed"
    error = CrosspostError(
        f"the uploaded file cannot become a media item: {row['error_message']}", code=code
    )
    quota = code == "quota_exceeded"
    error.status = 402 if quota else 422
    error.title = "Quota exceeded" if quota else "Invalid input"
    return error


def purge_expired(svc: Services, now: datetime) -> int:
    """Delete uploads past `complete_by` (at most a batch a run) with the objects of those
    never completed; how many went."""
    with svc.db.read() as conn:
        rows = direct_uploads.expired_before(conn, now - FINISH_GRACE, limit=_PURGE_BATCH)
    # Objects first: a crash after leaves rows the next run removes, never an orphan file.
    for row in rows:
        if row["status"] != COMPLETE:
            svc.storage.delete(row["media_id"])
            svc.storage.discard_pending(row["media_id"])
    with svc.db.write() as conn:
        direct_uploads.delete_uploads(conn, [r["id"] for r in rows])
    return len(rows)
