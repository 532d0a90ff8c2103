"""Streaming request bodies into media storage: raw bodies or multipart, never buffered whole."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass, field

from fastapi.concurrency import run_in_threadpool
from python_multipart.multipart import MultipartParser, parse_options_header

from crosspost.errors import InvalidInput, UnsupportedMediaType
from crosspost.media.storage import PendingWrite

_FLUSH = 1024 * 1024


@dataclass
class Received:
    """What the body said about the file."""

    filename: str | None = None
    content_type: str | None = None
    parts_seen: list[str] = field(default_factory=list)


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


class _FilePart:
    """Multipart callbacks that collect the bytes of the first part named `file`."""

    def __init__(self) -> None:
        self.received = Received()
        self.headers: dict[bytes, bytes] = {}
        self.field = b""
        self.value = b""
        self.in_file = False
        self.done = False
        self.pending: list[bytes] = []

    def on_header_field(self, data: bytes, start: int, end: int) -> None:
        self.field += data[start:end]

    def on_header_value(self, data: bytes, start: int, end: int) -> None:
        self.value += data[start:end]

    def on_header_end(self) -> None:
        self.headers[self.field.lower()] = self.value
        self.field, self.value = b"", b""

    def on_headers_finished(self) -> None:
        _, disp = parse_options_header(self.headers.get(b"content-disposition", b""))
        name = disp.get(b"name", b"").decode()
        self.received.parts_seen.append(name)
        self.in_file = name == "file" and not self.done
        if self.in_file:
            filename = disp.get(b"filename")
            self.received.filename = filename.decode("utf-8", "replace") if filename else None
            ctype = self.headers.get(b"content-type")
            self.received.content_type = ctype.decode() if ctype else None

    def on_part_data(self, data: bytes, start: int, end: int) -> None:
        if self.in_file:
            self.pending.append(data[start:end])

    def on_part_end(self) -> None:
        self.done = self.done or self.in_file
        self.in_file = False
        self.headers = {}


async def receive_multipart(
    stream: AsyncIterator[bytes], content_type: str, sink: PendingWrite
) -> Received:
    """Copy the `file` part of a multipart/form-data body into storage."""
    _, params = parse_options_header(content_type)
    boundary = params.get(b"boundary")
    if not boundary:
        raise UnsupportedMediaType("multipart body has no boundary", code="invalid_multipart")
    part = _FilePart()
    parser = MultipartParser(
        boundary,
        callbacks={
            "on_header_field": part.on_header_field,
            "on_header_value": part.on_header_value,
            "on_header_end": part.on_header_end,
            "on_headers_finished": part.on_headers_finished,
            "on_part_data": part.on_part_data,
            "on_part_end": part.on_part_end,
        },
    )
    out = _Buffered(sink)
    async for chunk in stream:
        parser.write(chunk)
        for piece in part.pending:
            await out.add(piece)
        part.pending.clear()
    parser.finalize()
    for piece in part.pending:
        await out.add(piece)
    await out.flush()
    if not part.done:
        raise InvalidInput(
            "multipart body has no part named `file`; send the media as form field `file`",
            code="file_part_missing",
        )
    return part.received
