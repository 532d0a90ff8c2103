"""A stored file becomes a media item: probed, named, typed and counted the same way whether
it came as an upload (raw or multipart), a resumable (tus) upload or a fetched URL."""

from __future__ import annotations

import mimetypes
from datetime import datetime
from pathlib import Path, PurePath
from typing import Any

from sqlalchemy.engine import Connection

from crosspost.domain.media_items import MediaStatus
from crosspost.media.probe import probe
from crosspost.media.storage import MediaStorage, StoredObject
from crosspost.usage import metering
from crosspost.usage.metering import UsageWarning

_MAX_NAME = 255


def media_name(filename: str | None, media_id: str) -> str:
    """The name a media item keeps: the client's, without any directory, else its id."""
    name = PurePath(filename).name if filename else ""
    return (name or media_id)[:_MAX_NAME]


def probed_values(
    path: Path,
    stored: StoredObject,
    *,
    media_id: str,
    filename: str | None,
    content_type: str | None,
) -> dict[str, Any]:
    """The media row's columns for a stored object whose bytes are at `path` (InvalidInput
    `media_unreadable` or `media_truncated` when it is no usable media); `content_type` is
    kept when given, else guessed from the name, else from what the probe found."""
    found = probe(path)
    name = media_name(filename, media_id)
    if not content_type or content_type == "application/octet-stream":
        content_type = (
            mimetypes.guess_type(name)[0]
            or f"{found.kind.value}/{found.container or 'octet-stream'}"
        )
    return {
        "status": MediaStatus.READY.value,
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
    }


def probe_stored(
    storage: MediaStorage,
    stored: StoredObject,
    *,
    media_id: str,
    filename: str | None,
    content_type: str | None,
) -> dict[str, Any]:
    """`probed_values` for an object read from the store (a local copy where it is remote)."""
    with storage.local_file(stored.key) as path:
        return probed_values(
            path, stored, media_id=media_id, filename=filename, content_type=content_type
        )


def meter_media(
    conn: Connection, *, tenant_id: str, key_id: str, values: dict[str, Any], now: datetime
) -> list[UsageWarning]:
    """Count a new media item's bytes and minutes in the caller's transaction (QuotaExceeded
    past a hard limit: the transaction must then roll back)."""
    amounts = metering.upload_amounts(values["size_bytes"], values["duration_seconds"])
    return metering.meter(conn, tenant_id=tenant_id, key_id=key_id, amounts=amounts, now=now)


def check_room(conn: Connection, *, tenant_id: str, key_id: str, size: int, now: datetime) -> None:
    """Refuse (402) before any byte arrives a file of `size` bytes this month's quota cannot
    take."""
    metering.check_room(
        conn,
        tenant_id=tenant_id,
        key_id=key_id,
        metric=metering.BYTES_UPLOADED,
        amount=size,
        now=now,
    )
