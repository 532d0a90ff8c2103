"""Streaming request bodies into media storage: raw bodies or multipart, never buffered whole."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass

from fastapi.concurrency import run_in_threadpool
from python_multipart.exceptions import MultipartParseError
from python_multipart.multipart import (
    DEFAULT_MAX_HEADER_COUNT,
    DEFAULT_MAX_HEADER_SIZE,
    MultipartParser,
    parse_options_header,
)

from crosspost.errors import BadRequest, InvalidInput
from crosspost.media.storage import PendingWrite

_FLUSH = 1024 * 1024
# An upload is one `file` part and perhaps a few form fields besides.
MAX_PARTS = 32
_MAX_BOUNDARY = 70  # RFC 2046 §5.1.1


@dataclass
class Received:
    """What the body said about the file."""

    filename: str | None = None
    content_type: str | None = None


class _Buffered:
    """Batches small socket reads into ~1 MiB writes handed to a worker thread."""

    def __init__(self, sink: PendingWrite) -> None:
        self.sink = sink
        self.buf = bytearray()

    async def add(self, data: bytes) -> None:
        self.buf += data
        if len(self.buf) >= _FLUSH:
            await self.flush()

    async def flush(self) -> None:
        if self.buf:
            chunk, self.buf = bytes(self.buf), bytearray()
            await run_in_threadpool(self.sink.write, chunk)


async def receive_raw(stream: AsyncIterator[bytes], sink: PendingWrite) -> None:
    """Copy a raw request body into storage."""
    out = _Buffered(sink)
    async for chunk in stream:
        await out.add(chunk)
    await out.flush()


class _Malformed(Exception):
    """The multipart body breaks the format; the message says where and how."""


class _FilePart:
    """Multipart callbacks that collect the bytes of the one part named `file`, and check
    what the parser leaves to its caller (RFC 7578: every part names itself)."""

    def __init__(self, boundary: bytes) -> None:
        self.opening = "--" + boundary.decode("latin-1")
        self.received = Received()
        self.headers: dict[bytes, bytes] = {}
        self.field = b""
        self.value = b""
        self.parts = 0
        self.in_headers = False
        self.in_file = False
        self.done = False
        self.ended = False
        self.pending: list[bytes] = []

    def on_part_begin(self) -> None:
        self.parts += 1
        if self.parts > MAX_PARTS:
            raise _Malformed(f"the body has more than {MAX_PARTS} parts; send only `file`")
        self.in_headers = True

    def on_header_field(self, data: bytes, start: int, end: int) -> None:
        self.field += data[start:end]

    def on_header_value(self, data: bytes, start: int, end: int) -> None:
        self.value += data[start:end]

    def on_header_end(self) -> None:
        self.headers[self.field.lower()] = self.value
        self.field, self.value = b"", b""

    def on_headers_finished(self) -> None:
        self.in_headers = False
        disposition = self.headers.get(b"content-disposition")
        if disposition is None:
            raise _Malformed(
                f"part {self.parts} has no Content-Disposition header; each part needs "
                'Content-Disposition: form-data; name="…" (the file: name="file")'
            )
        kind, disp = parse_options_header(disposition)
        if kind != b"form-data" or b"name" not in disp:
            raise _Malformed(
                f"part {self.parts} has Content-Disposition {_shown(disposition)}; each part "
                'needs Content-Disposition: form-data; name="…" (the file: name="file")'
            )
        self.in_file = disp[b"name"] == b"file"
        if not self.in_file:
            return
        if self.done:
            raise _Malformed(
                f"part {self.parts} is a second part named `file`; upload one file per request"
            )
        filename = disp.get(b"filename")
        self.received.filename = filename.decode("utf-8", "replace") if filename else None
        ctype = self.headers.get(b"content-type")
        self.received.content_type = ctype.decode("latin-1").strip() if ctype else None

    def on_part_data(self, data: bytes, start: int, end: int) -> None:
        if self.in_file:
            self.pending.append(data[start:end])

    def on_part_end(self) -> None:
        self.done = self.done or self.in_file
        self.in_file = False
        self.headers = {}

    def on_end(self) -> None:
        self.ended = True

    def where(self) -> str:
        """The part of the body the parser was in, for an error's detail."""
        if self.parts == 0:
            return f"before the first part (the body must open with the line {self.opening})"
        if self.in_headers:
            return (
                f"in the headers of part {self.parts} (each `Name: value` and CRLF, then an "
                "empty line)"
            )
        return f"after part {self.parts} (its boundary must be followed by CRLF, or by -- last)"


def _parse_error(exc: MultipartParseError, chunk: bytes, seen: int, part: _FilePart) -> str:
    """The parser's complaint in terms of the body: which byte, in which part, and why."""
    offset = max(exc.offset, 0)
    text = str(exc)
    if "header size" in text:
        return f"the headers of part {part.parts} exceed {DEFAULT_MAX_HEADER_SIZE} bytes"
    if "header count" in text:
        return f"part {part.parts} has more than {DEFAULT_MAX_HEADER_COUNT} headers"
    byte = chunk[offset : offset + 1]
    return f"byte {seen + offset} ({_shown(byte)}) is unexpected {part.where()}"


def _shown(raw: bytes) -> str:
    return repr(raw.decode("latin-1")[:80])


async def receive_multipart(
    stream: AsyncIterator[bytes], content_type: str, sink: PendingWrite
) -> Received:
    """Copy the `file` part of a multipart/form-data body into storage; BadRequest
    (`invalid_multipart`) says what is wrong with a body that breaks the format."""
    _, params = parse_options_header(content_type)
    boundary = params.get(b"boundary")
    if not boundary:
        raise _invalid(
            "the Content-Type has no boundary parameter; send "
            "Content-Type: multipart/form-data; boundary=… (the line that separates the parts)"
        )
    if len(boundary) > _MAX_BOUNDARY:
        raise _invalid(
            f"the boundary is {len(boundary)} characters long; RFC 2046 allows 1 to {_MAX_BOUNDARY}"
        )
    part = _FilePart(boundary)
    parser = MultipartParser(
        boundary,
        callbacks={
            "on_part_begin": part.on_part_begin,
            "on_header_field": part.on_header_field,
            "on_header_value": part.on_header_value,
            "on_header_end": part.on_header_end,
            "on_headers_finished": part.on_headers_finished,
            "on_part_data": part.on_part_data,
            "on_part_end": part.on_part_end,
            "on_end": part.on_end,
        },
    )
    out = _Buffered(sink)
    seen = 0
    try:
        async for chunk in stream:
            try:
                parser.write(chunk)
            except MultipartParseError as exc:
                raise _Malformed(_parse_error(exc, chunk, seen, part)) from None
            seen += len(chunk)
            for piece in part.pending:
                await out.add(piece)
            part.pending.clear()
    except _Malformed as exc:
        raise _invalid(str(exc)) from None
    for piece in part.pending:
        await out.add(piece)
    await out.flush()
    if not part.ended:
        if seen == 0:
            raise _invalid(
                "the body is empty; send the file as a part named `file` after a line "
                + part.opening
            )
        raise _invalid(
            f"the body ends after {seen} bytes, {part.where()}, without the closing line "
            f"{part.opening}--: the upload was cut short, or the boundary parameter does "
            "not match the body"
        )
    if not part.done:
        raise InvalidInput(
            "multipart body has no part named `file`; send the media as form field `file`",
            code="file_part_missing",
        )
    return part.received


def _invalid(detail: str) -> BadRequest:
    return BadRequest(f"malformed multipart body: {detail}", code="invalid_multipart")
