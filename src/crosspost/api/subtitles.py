"""Subtitle files (WebVTT, SRT) sent as a request's raw body, for the routes that attach a
transcript: the accepted types, the OpenAPI body that documents them, the bounded read and
the parse (off the event loop: a large file takes a while)."""

from __future__ import annotations

from typing import Any

from fastapi import Request
from fastapi.concurrency import run_in_threadpool

from crosspost.domain.transcripts import Transcript
from crosspost.errors import InvalidInput, PayloadTooLarge, UnsupportedMediaType
from crosspost.media.transcripts import MAX_TRANSCRIPT_BYTES, TranscriptError, parse_transcript

# Content type → the parser's format (None: told apart by what the file holds).
SUBTITLE_TYPES = {"text/vtt": "vtt", "application/x-subrip": "srt", "text/plain": None}
OPENAPI_BODY: dict[str, Any] = {
    "requestBody": {
        "required": True,
        "content": {
            "text/vtt": {"schema": {"type": "string"}},
            "application/x-subrip": {"schema": {"type": "string"}},
        },
    }
}


async def read_transcript(request: Request) -> Transcript:
    """The body's transcript; 415 for another content type, 413 past the size bound (read
    no further than it), 422 with the line and what to change when it does not parse."""
    data, fmt = await _read_body(request)
    return await run_in_threadpool(_parse, data, fmt)


def _parse(data: bytes, fmt: str | None) -> Transcript:
    try:
        return parse_transcript(data, format=fmt)  # type: ignore[arg-type]
    except TranscriptError as exc:
        raise InvalidInput(exc.message, code=exc.code) from None


async def _read_body(request: Request) -> tuple[bytes, str | None]:
    ctype = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if ctype not in SUBTITLE_TYPES:
        raise UnsupportedMediaType(
            "send the transcript as text/vtt (WebVTT) or application/x-subrip (SRT)",
            code="unsupported_transcript_type",
        )
    data = bytearray()
    async for chunk in request.stream():
        data += chunk
        if len(data) > MAX_TRANSCRIPT_BYTES:
            raise PayloadTooLarge(
                f"a transcript is at most {MAX_TRANSCRIPT_BYTES} bytes",
                code="transcript_too_large",
            )
    return bytes(data), SUBTITLE_TYPES[ctype]
