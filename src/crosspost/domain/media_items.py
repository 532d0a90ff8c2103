"""Media items as the library shows them, whatever their state (fetching from a URL, ready,
failed), what asks for one to be fetched from a URL, and a resumable (tus) upload."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from pydantic import BaseModel, ConfigDict, Field

from crosspost.domain.enums import MediaKind

MAX_URL_LENGTH = 2048


class MediaStatus(StrEnum):
    """Where a media item is: `fetching` (from a URL, by a worker), `ready` for posts, or
    `failed` (its `error` says why)."""

    FETCHING = "fetching"
    READY = "ready"
    FAILED = "failed"


class MediaFromUrl(BaseModel):
    """The JSON body of `POST /v1/media`: a file for crosspost to fetch."""

    model_config = ConfigDict(extra="forbid")

    url: str = Field(
        min_length=1,
        max_length=MAX_URL_LENGTH,
        description="An http(s) URL of the file, reachable from the public internet.",
        examples=["https://cdn.example.com/clips/launch.mp4"],
    )
    filename: str | None = Field(
        default=None,
        min_length=1,
        max_length=255,
        description="The name to keep; default: the URL path's last segment.",
    )


class MediaProgress(BaseModel):
    """How far a fetch got."""

    bytes_fetched: int = Field(ge=0)
    bytes_total: int | None = Field(
        description="The size the source announced (Content-Length); null when it did not."
    )


class MediaError(BaseModel):
    """Why a media item failed: a stable code and what to change."""

    code: str = Field(
        examples=["url_not_allowed"],
        description="url_not_allowed, invalid_url, fetch_too_large, fetch_timeout, "
        "fetch_http_error, fetch_failed, unsupported_media, media_unreadable, "
        "media_truncated, empty_upload, quota_exceeded.",
    )
    message: str


class MediaItem(BaseModel):
    """A media item. What probing finds (kind, size, codecs, …) is null until it is `ready`."""

    id: str
    status: MediaStatus
    kind: MediaKind | None
    filename: str
    content_type: str | None
    size_bytes: int | None
    sha256: str | None
    container: str | None
    duration_seconds: float | None
    width: int | None
    height: int | None
    video_codec: str | None
    audio_codec: str | None
    frame_rate: float | None
    source_url: str | None = Field(
        description="The URL it was fetched from (query string hidden: it often carries a "
        "token); null for uploads."
    )
    progress: MediaProgress | None = Field(description="Fetched media only.")
    error: MediaError | None = Field(description="Why it failed, when `failed`.")
    created_at: datetime


class MediaItemListed(MediaItem):
    """A media item in the library, with how many posts use it."""

    used_by: int = Field(description="How many posts name this media item.")


class TusUpload(BaseModel):
    """A resumable (tus) upload, as `GET /v1/uploads/tus/{id}` shows it."""

    id: str
    status: str = Field(description="receiving, complete (see `media_id`) or failed.")
    upload_length: int
    upload_offset: int
    filename: str | None
    filetype: str | None
    media_id: str | None = Field(description="The media item it became, once complete.")
    error: MediaError | None
    created_at: datetime
    expires_at: datetime
