"""YouTube's one-request upload (``uploadType=multipart``): a ``multipart/related`` body of the
metadata JSON, then the media, which is hashed as it streams in and never held in memory.

Google accepts the body with bare LF line ends, which is what google-api-python-client sends
(its MIME generator writes ``\\n``), as well as CRLF; a strict RFC 2046 parser would refuse the
official client, so this small streaming reader takes either.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from typing import Any

from python_multipart.multipart import parse_options_header
from starlette.requests import ClientDisconnect, Request

from crosspost.fakes.base import drain

# The metadata part is a video resource, and a part's headers are a few short lines.
METADATA_MAX_BYTES = 64 * 1024
HEADER_LINE_MAX_BYTES = 8 * 1024


@dataclass
class RelatedPart:
    """One part: its headers, and its bytes (kept for the metadata, hashed for the media)."""

    headers: dict[str, str] = field(default_factory=dict)
    kept: bytearray = field(default_factory=bytearray)
    size: int = 0
    hasher: Any = field(default_factory=hashlib.sha256)
    keep: bool = False

    @property
    def content_type(self) -> str:
        """The part's media type, without parameters, lower-cased."""
        return self.headers.get("content-type", "").split(";")[0].strip().lower()

    def take(self, data: bytes) -> None:
        """Bytes of the part's body."""
        self.size += len(data)
        if self.keep:
            if self.size <= METADATA_MAX_BYTES:
                self.kept += data
        else:
            self.hasher.update(data)


@dataclass
class RelatedBody:
    """A ``multipart/related`` body read piece by piece into its parts."""

    boundary: bytes
    parts: list[RelatedPart] = field(default_factory=list)
    state: str = "preamble"  # then "headers", "data", ..., "end"
    _buffer: bytearray = field(default_factory=lambda: bytearray(b"\n"))

    @property
    def _delimiter(self) -> bytes:
        return b"\n--" + self.boundary

    def feed(self, piece: bytes) -> str | None:
        """Take the next bytes of the body; why it is malformed, or None."""
        self._buffer += piece
        while self.state != "end":
            step = self._headers() if self.state == "headers" else self._until_delimiter()
            if step is not None:
                return step or None  # "" means: wait for more bytes
        self._buffer.clear()  # the epilogue means nothing
        return None

    def finish(self) -> str | None:
        """The body ended; why it is incomplete, or None."""
        if self.state != "end":
            return "The multipart/related body ended before its closing boundary."
        return None

    def _until_delimiter(self) -> str | None:
        found = self._buffer.find(self._delimiter)
        if found < 0:
            # Hold back what could be the start of a delimiter (and the CR before it).
            self._emit(len(self._buffer) - len(self._delimiter))
            return ""
        self._emit(found, last=True)  # the buffer now starts with the delimiter
        after = len(self._delimiter)
        line_end = self._buffer.find(b"\n", after)
        closing = self._buffer[after : after + 2] == b"--"
        if not closing and line_end < 0:
            return "" if len(self._buffer) - after < HEADER_LINE_MAX_BYTES else "Bad boundary."
        if closing:
            self.state = "end"
            return None
        self.parts.append(RelatedPart(keep=not self.parts))
        del self._buffer[: line_end + 1]
        self.state = "headers"
        return None

    def _emit(self, upto: int, *, last: bool = False) -> None:
        """Pass ``buffer[:upto]`` to the current part; at a delimiter, drop the CR before it."""
        data = bytes(self._buffer[: max(upto, 0)])
        del self._buffer[: max(upto, 0)]
        if last and data.endswith(b"\r"):
            data = data[:-1]
        if self.state == "data" and data:
            self.parts[-1].take(data)

    def _headers(self) -> str | None:
        line_end = self._buffer.find(b"\n")
        if line_end < 0:
            return "" if len(self._buffer) < HEADER_LINE_MAX_BYTES else "A part header is too long."
        line = bytes(self._buffer[:line_end]).rstrip(b"\r")
        del self._buffer[: line_end + 1]
        if not line:
            self.state = "data"
            return None
        name, colon, value = line.decode("latin-1").partition(":")
        if not colon:
            return f"A part header is malformed: {line[:80]!r}"
        self.parts[-1].headers[name.strip().lower()] = value.strip()
        return None


async def read_related(request: Request) -> RelatedBody | str:
    """Stream the request's whole ``multipart/related`` body into its parts, or say what is
    wrong with it (the body is read to its end either way)."""
    kind, options = parse_options_header(request.headers.get("content-type", ""))
    boundary = options.get(b"boundary")
    if kind != b"multipart/related" or not boundary:
        await drain(request)
        return "An uploadType=multipart request must be multipart/related with a boundary."
    body = RelatedBody(boundary)
    problem: str | None = None
    try:
        async for piece in request.stream():
            # After a problem, read on to the end: an early answer would reset the connection.
            problem = problem or body.feed(piece)
    except ClientDisconnect:
        return "The connection closed before the body arrived."
    if problem:
        return f"The multipart/related body is malformed: {problem}"
    problem = body.finish()
    if problem:
        return problem
    if len(body.parts) != 2:
        return "The multipart/related body must hold the metadata part and one media part."
    if body.parts[0].size > METADATA_MAX_BYTES:
        return f"The metadata part exceeds {METADATA_MAX_BYTES} bytes."
    return body
