"""TikTok's rules for the fake: response envelopes, ``post_info`` and FILE_UPLOAD chunking."""

from __future__ import annotations

import asyncio
import hashlib
import re
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from starlette.responses import JSONResponse

from crosspost.fakes.base import Account, unique_id

if TYPE_CHECKING:
    from crosspost.fakes.base import FakeConfig

MB = 1024 * 1024
MIN_CHUNK = 5 * MB
MAX_CHUNK = 64 * MB
MAX_VIDEO_BYTES = 4 * 1024 * MB
TITLE_MAX_UTF16 = 2200
VIDEO_TYPES = frozenset({"video/mp4", "video/quicktime", "video/webm"})
_RANGE = re.compile(r"bytes (\d+)-(\d+)/(\d+)")
_FLAGS = (
    "disable_duet",
    "disable_comment",
    "disable_stitch",
    "brand_content_toggle",
    "brand_organic_toggle",
    "is_aigc",
)


def _log_id() -> str:
    return time.strftime("%Y%m%d%H%M%S", time.gmtime()) + unique_id(20, "0123456789ABCDEF")


def ok(data: dict[str, Any]) -> JSONResponse:
    """TikTok's success envelope."""
    return JSONResponse({"data": data, "error": {"code": "ok", "message": "", "log_id": _log_id()}})


def tiktok_error(status: int, code: str, message: str) -> JSONResponse:
    """TikTok's error envelope: ``{"data": {}, "error": {"code", "message", "log_id"}}``."""
    body = {"data": {}, "error": {"code": code, "message": message, "log_id": _log_id()}}
    return JSONResponse(body, status_code=status)


def oauth_error(status: int, error: str, description: str) -> JSONResponse:
    """TikTok's OAuth error shape: ``{"error", "error_description", "log_id"}``."""
    body = {"error": error, "error_description": description, "log_id": _log_id()}
    return JSONResponse(body, status_code=status)


def utf16_length(text: str) -> int:
    """Length in UTF-16 code units, the unit TikTok counts a title in."""
    return len(text.encode("utf-16-le")) // 2


def _is_int(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def check_post_info(post_info: object, config: FakeConfig) -> dict[str, Any] | tuple[int, str, str]:
    """The accepted ``post_info``, or (HTTP status, error code, message) for TikTok's error."""
    if not isinstance(post_info, dict):
        return 400, "invalid_params", "post_info is required."
    privacy = post_info.get("privacy_level")
    if not isinstance(privacy, str) or not privacy:
        return 400, "invalid_params", "post_info.privacy_level is required."
    title = post_info.get("title", "")
    if not isinstance(title, str):
        return 400, "invalid_params", "post_info.title must be a string."
    if utf16_length(title) > TITLE_MAX_UTF16:
        return 400, "invalid_params", f"post_info.title exceeds {TITLE_MAX_UTF16} UTF-16 runes."
    for flag in _FLAGS:
        if flag in post_info and not isinstance(post_info[flag], bool):
            return 400, "invalid_params", f"post_info.{flag} must be a boolean."
    cover = post_info.get("video_cover_timestamp_ms", 0)
    if not _is_int(cover) or cover < 0:
        return 400, "invalid_params", "post_info.video_cover_timestamp_ms must be an int >= 0."
    if privacy not in config.tiktok_privacy_level_options:
        return (
            403,
            "privacy_level_option_mismatch",
            f"privacy_level {privacy} is not among the creator's privacy_level_options.",
        )
    return dict(post_info)


def check_file_upload(source_info: dict[str, Any]) -> str | None:
    """Why a FILE_UPLOAD ``source_info`` breaks the chunk rules, or None if it keeps them."""
    size = source_info.get("video_size")
    chunk = source_info.get("chunk_size")
    count = source_info.get("total_chunk_count")
    numbers = (size, chunk, count)
    if not (isinstance(size, int) and isinstance(chunk, int) and isinstance(count, int)) or any(
        isinstance(n, bool) for n in numbers
    ):
        return "video_size, chunk_size and total_chunk_count must be integers."
    if size <= 0 or chunk <= 0:
        return "video_size and chunk_size must be positive."
    if size > MAX_VIDEO_BYTES:
        return "video_size exceeds 4 GB."
    if size < MIN_CHUNK:
        if chunk != size or count != 1:
            return "A video under 5 MB is uploaded whole: chunk_size = video_size, one chunk."
        return None
    if not MIN_CHUNK <= chunk <= MAX_CHUNK:
        return "chunk_size must be between 5 MB and 64 MB (a video over 64 MB must be chunked)."
    if chunk > size:
        return "chunk_size must not exceed video_size."
    if count != size // chunk:
        return f"total_chunk_count must be floor(video_size / chunk_size) = {size // chunk}."
    # The other documented limits follow from these: with 5 MB <= chunk_size <= 64 MB and
    # video_size <= 4 GB there are 1..819 chunks, and the last one is under 128 MB.
    return None


@dataclass
class Publish:
    """One publish: created by init, filled by uploads or a pull, then processed."""

    publish_id: str
    account: Account
    inbox: bool
    source: str
    post_info: dict[str, Any]
    created_at: float
    video_size: int = 0
    chunk_size: int = 0
    chunk_count: int = 0
    upload_id: str = ""
    upload_token: str = ""
    video_url: str = ""
    received: int = 0
    hasher: Any = field(default_factory=hashlib.sha256)
    completed_at: float | None = None
    processing_seconds: float = 0.0
    fails: bool = False
    pull_failed: bool = False
    post_id: int = 0
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)
    photo_urls: list[str] = field(default_factory=list)  # a photo post's photos, in order
    photo_sha256: list[str] = field(default_factory=list)  # each as fetched


def check_chunk(
    publish: Publish, content_type: str, length: int | None, content_range: str
) -> int | str:
    """The first byte of a valid upload PUT, or why it breaks the upload rules.

    Chunk i covers bytes ``i*chunk_size`` onwards; the last chunk runs to the end of the file.
    A chunk that starts before what has arrived is a re-send and is accepted (the caller
    answers without storing it); one that starts after is out of order.
    """
    match = _RANGE.fullmatch(content_range.strip())
    if content_type.split(";", maxsplit=1)[0].strip().lower() not in VIDEO_TYPES:
        return "Content-Type must be video/mp4, video/quicktime or video/webm."
    if length is None:
        return "Content-Length is required."
    if match is None:
        return "Content-Range: bytes FIRST-LAST/TOTAL is required."
    first, last, total = int(match[1]), int(match[2]), int(match[3])
    if total != publish.video_size:
        return f"Content-Range total must be the video_size {publish.video_size}."
    index = min(first // publish.chunk_size, publish.chunk_count - 1)
    start = index * publish.chunk_size
    size = publish.chunk_size if index < publish.chunk_count - 1 else total - start
    if first != start or last - first + 1 != size or length != size:
        return f"Chunk {index} must be bytes {start}-{start + size - 1} ({size} bytes)."
    if first > publish.received:
        return f"Chunks must be sent in order; the next starts at byte {publish.received}."
    return first
