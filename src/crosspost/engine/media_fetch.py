"""Media by URL: `POST /v1/media {"url": …}` records a media item `fetching` and enqueues a
`media.fetch.v1` job in one transaction; a worker downloads the file (`url_fetch`),
probes it like an upload and makes the item `ready`, or `failed` with the reason.

A worker may die at any instruction: the row exists before the job, so a re-run never adds
a second item; each attempt writes to the media id's key and first discards the writes an
earlier attempt left pending; the finished file lands under the media id itself, so a re-run
overwrites it, and any failure deletes it.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from pathlib import Path
from typing import Any

from sqlalchemy.engine import Connection

from crosspost.domain.media_items import MediaStatus
from crosspost.engine.media_intake import check_room, media_name, meter_media, probed_values
from crosspost.engine.services import Services
from crosspost.engine.url_fetch import (
    FetchCancelled,
    Fetched,
    FetchError,
    check_url,
    download,
    file_name,
    media_policy,
    shown_url,
)
from crosspost.errors import CrosspostError, InvalidInput
from crosspost.ids import new_id
from crosspost.jobs import JobContext, Outcome
from crosspost.jobs.store import LeaseLost
from crosspost.media.layout import magic_type
from crosspost.media.probe import sniff_content_type
from crosspost.media.storage import StoredObject
from crosspost.store import media
from crosspost.store.rows import Row

KIND = "media.fetch.v1"
log = logging.getLogger("crosspost.media_fetch")


def start_fetch(
    svc: Services,
    conn: Connection,
    *,
    tenant_id: str,
    key_id: str,
    url: str,
    filename: str | None,
) -> Row:
    """Record a media item `fetching` from `url` and enqueue its job, in the caller's
    transaction; 422 (`invalid_url`, `url_not_allowed`) for a URL that cannot be fetched."""
    try:
        parsed = check_url(url, media_policy(svc.settings.media_fetch_allow_cidrs))
    except FetchError as exc:
        raise InvalidInput(exc.message, code=exc.code) from None
    if filename is not None and "\x00" in filename:
        raise InvalidInput(
            "the file name contains a NUL character, which no field accepts; remove it",
            code="nul_character",
        )
    now = svc.clock.now()
    media_id = new_id("med")
    row: Row = {
        "id": media_id,
        "tenant_id": tenant_id,
        "status": MediaStatus.FETCHING.value,
        "filename": media_name(filename or file_name(parsed), media_id),
        "source_url": url,
        "fetched_bytes": 0,
        "created_at": now,
    }
    media.insert_media(conn, **row)
    payload = {"media_id": media_id, "tenant_id": tenant_id, "key_id": key_id}
    svc.jobs.enqueue(conn, KIND, payload, run_at=now)
    return row


def make_handler(svc: Services) -> Callable[[JobContext], Outcome]:
    """Fetch one media item's URL; after the last allowed error, mark it failed."""

    def handle(ctx: JobContext) -> Outcome:
        media_id = ctx.job.payload["media_id"]
        with svc.db.read() as conn:
            row = media.get_any(conn, media_id)
        if row is None or row["status"] != MediaStatus.FETCHING.value:
            svc.storage.discard_pending(media_id)
            return ctx.done()  # finished by an earlier run
        if row["deleted_at"] is not None:
            svc.storage.discard_pending(media_id)
            _fail(svc, ctx, media_id, "fetch_cancelled", "deleted while it was being fetched")
            return ctx.done()
        try:
            _fetch(svc, ctx, row)
        except LeaseLost:
            raise
        except Exception as exc:
            if ctx.job.errors + 1 < svc.settings.job_max_errors:
                raise  # retried with backoff
            log.exception("fetching media %s kept failing", media_id)
            _fail(svc, ctx, media_id, "fetch_failed",
                  f"the fetch kept failing on our side ({type(exc).__name__}); add the media "
                  "again, and tell the operator if it persists")  # fmt: skip
        return ctx.done()

    return handle


def _fetch(svc: Services, ctx: JobContext, row: Row) -> None:
    media_id, settings = row["id"], svc.settings
    # An earlier attempt's worker died mid-fetch (its lease ran out): its pending write is
    # ours to discard, and the file it may have stored is overwritten below.
    svc.storage.discard_pending(media_id)
    policy = media_policy(settings.media_fetch_allow_cidrs)
    limit = settings.max_upload_bytes
    payload = ctx.job.payload

    def on_headers(total: int | None) -> None:
        if total is not None:
            with svc.db.read() as conn:
                check_room(conn, tenant_id=row["tenant_id"], key_id=payload["key_id"],
                           size=total, now=svc.clock.now())  # fmt: skip
        _progress(0, total)

    def _progress(got: int, total: int | None) -> bool:
        with svc.db.write() as conn:
            ctx.fence(conn)
            current = media.set_progress(conn, media_id, got, total)
        return current is not None and current["deleted_at"] is None and not ctx.lost

    pending = svc.storage.begin_write(media_id, max_bytes=limit)
    with pending:
        try:
            url = check_url(row["source_url"], policy)
            fetched = asyncio.run(
                download(
                    url,
                    pending,
                    policy=policy,
                    max_bytes=limit,
                    timeout=settings.media_fetch_timeout_seconds,
                    max_redirects=settings.media_fetch_max_redirects,
                    on_headers=on_headers,
                    report=_progress,
                )
            )
            if fetched.size == 0:
                raise FetchError("empty_upload", f"{shown_url(url)} sent an empty file")
            stored = pending.commit()
        except FetchCancelled:
            _fail(svc, ctx, media_id, "fetch_cancelled", "deleted while it was being fetched")
            return
        except FetchError as exc:
            _fail(svc, ctx, media_id, exc.code, exc.message)
            return
        except CrosspostError as exc:  # the quota, checked once the size is announced
            _fail(svc, ctx, media_id, exc.code, exc.detail)
            return
    try:
        with svc.storage.local_file(stored.key) as path:
            values = _probe(path, stored, row, fetched, shown_url(url))
    except (FetchError, CrosspostError) as exc:
        code, message = (
            (exc.code, exc.message) if isinstance(exc, FetchError) else (exc.code, exc.detail)
        )
        _fail(svc, ctx, media_id, code, message)
        return
    _finish(svc, ctx, row, values, fetched)


def _probe(
    path: Path, stored: StoredObject, row: Row, fetched: Fetched, shown: str
) -> dict[str, Any]:
    """The row's columns for the fetched file; a file no probe reads is refused, and when
    its bytes are no media format at all (a web page), whatever the source called it."""
    declared = (fetched.content_type or "").split(";")[0].strip().lower() or None
    with path.open("rb") as fh:
        head = fh.read(64)
    try:
        values = probed_values(
            path,
            stored,
            media_id=row["id"],
            filename=row["filename"],
            content_type=sniff_content_type(path, declared),
        )
    except InvalidInput as exc:
        if magic_type(head) is not None:
            raise  # media, but cut short or undecodable: the probe's own code says which
        said = f"said {declared}" if declared else "gave no Content-Type"
        raise FetchError(
            "unsupported_media",
            f"{shown} {said}, but its bytes are {_looks_like(head)}, not a video, audio or "
            "image file; give the URL of the file itself",
        ) from exc
    return values


def _looks_like(head: bytes) -> str:
    text = head.lstrip().lower()
    if text.startswith((b"<!doctype html", b"<html", b"<head", b"<body")):
        return "an HTML page"
    if text.startswith(b"<"):
        return "HTML or XML text"
    if text.startswith((b"{", b"[")):
        return "JSON text"
    if head and all(32 <= b < 127 or b in b"\t\r\n" for b in head):
        return "plain text"
    return "of no media format we know"


def _finish(
    svc: Services, ctx: JobContext, row: Row, values: dict[str, Any], fetched: Fetched
) -> None:
    """Make the item ready and count it, in one fenced transaction; a quota refusal fails it
    instead, and a deletion meanwhile leaves no file."""
    media_id = row["id"]
    now = svc.clock.now()
    gone = False
    try:
        with svc.db.write() as conn:
            ctx.fence(conn)
            current = media.lock_media(conn, media_id)
            if (
                current is None
                or current["deleted_at"] is not None
                or (current["status"] != MediaStatus.FETCHING.value)
            ):
                gone = True
            else:
                meter_media(conn, tenant_id=row["tenant_id"], key_id=ctx.job.payload["key_id"],
                            values=values, now=now)  # fmt: skip
                media.update_media(
                    conn, media_id, **values, fetched_bytes=fetched.size,
                    fetch_total_bytes=fetched.total if fetched.total is not None else fetched.size,
                )  # fmt: skip
    except CrosspostError as exc:  # the quota: nothing was written
        _fail(svc, ctx, media_id, exc.code, exc.detail)
        return
    if gone:
        svc.storage.delete(media_id)


def _fail(svc: Services, ctx: JobContext, media_id: str, code: str, message: str) -> None:
    """Mark the item failed with why (fenced) and delete any file an attempt stored."""
    with svc.db.write() as conn:
        ctx.fence(conn)
        current = media.lock_media(conn, media_id)
        if current is not None and current["status"] == MediaStatus.FETCHING.value:
            media.update_media(
                conn, media_id, status=MediaStatus.FAILED.value, error_code=code[:40],
                error_message=message, storage_key=None,
            )  # fmt: skip
    svc.storage.delete(media_id)
