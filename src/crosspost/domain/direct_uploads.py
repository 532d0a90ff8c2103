"""Direct uploads: what asks for one (`POST /v1/uploads`) and how one is shown. The client
PUTs the file to `upload_url` with `headers`, then completes it into a media item."""

from __future__ import annotations

import re
from datetime import datetime
from enum import StrEnum
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from crosspost.domain.media_items import MediaError

# RFC 9110 §8.3.1 tokens, and only the kinds a media item can be.
_MEDIA_TYPE = re.compile(r"(video|audio|image)/[!#$%&'*+.^_`|~0-9a-z-]+")
MAX_CONTENT_TYPE = 100
DEFAULT_EXPIRES_IN = 3600
MAX_EXPIRES_IN = 24 * 3600


class DirectUploadStatus(StrEnum):
    """`pending` until completed, then `complete` (see `media_id`) or `failed` (see
    `error`)."""

    PENDING = "pending"
    COMPLETE = "complete"
    FAILED = "failed"


class DirectUploadCreate(BaseModel):
    """The JSON body of `POST /v1/uploads`: the file the client is about to PUT."""

    model_config = ConfigDict(extra="forbid")

    filename: str = Field(
        min_length=1, max_length=255, description="The file's name (kept by the media item).",
        examples=["launch.mp4"],
    )  # fmt: skip
    content_type: str = Field(
        max_length=MAX_CONTENT_TYPE,
        description="The file's media type: video/…, audio/… or image/…; the PUT must send "
        "exactly this Content-Type.",
        examples=["video/mp4"],
    )
    size: int = Field(
        ge=1,
        le=2**63 - 1,
        description="The file's size in bytes; the PUT must send exactly this Content-Length.",
        examples=[48_213_004],
    )
    sha256: str | None = Field(
        default=None,
        pattern=r"^[0-9a-fA-F]{64}$",
        description="Hex SHA-256 of the file: the store then refuses a body that does not "
        "match (the PUT sends it, base64, as x-amz-checksum-sha256).",
    )
    expires_in: int = Field(
        default=DEFAULT_EXPIRES_IN,
        ge=60,
        le=MAX_EXPIRES_IN,
        description="Seconds the upload URL works (a PUT must start within them).",
    )

    @field_validator("content_type")
    @classmethod
    def _media_type(cls, value: str) -> str:
        kind = value.strip().lower()
        if _MEDIA_TYPE.fullmatch(kind) is None:
            raise ValueError("must be a video/…, audio/… or image/… media type, e.g. video/mp4")
        return kind

    @field_validator("sha256")
    @classmethod
    def _lower(cls, value: str | None) -> str | None:
        return value.lower() if value is not None else None


class DirectUpload(BaseModel):
    """A direct upload: where to PUT the file and how, then what it became."""

    id: str = Field(examples=["upl_01JD3Q8Z4M6V2K9T1B7C5N0XWE"])
    status: DirectUploadStatus
    filename: str
    content_type: str
    size: int = Field(description="Bytes the PUT must carry, exactly.")
    sha256: str | None
    upload_url: str | None = Field(
        description="Where to PUT the file (null once the upload is no longer pending). No "
        "API key goes with it: the URL's signature is the permission."
    )
    method: Literal["PUT"] = "PUT"
    headers: dict[str, str] = Field(
        description="Headers the PUT must send exactly as given (they are signed)."
    )
    expires_at: datetime = Field(description="When the upload URL stops working.")
    complete_by: datetime = Field(
        description="The last moment `POST /v1/uploads/{id}/complete` is accepted (a PUT "
        "started before `expires_at` may still be running); after it the upload is deleted."
    )
    max_bytes: int = Field(description="The largest body the URL takes (the declared size).")
    media_id: str | None = Field(description="The media item it became, once complete.")
    error: MediaError | None
    created_at: datetime
