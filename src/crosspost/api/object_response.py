"""A stored object as an HTTP response, streamed from the media store in pieces, with one
byte range honoured (RFC 9110 §14) so platforms and browsers can resume or seek."""

from __future__ import annotations

import re
from collections.abc import Iterator
from urllib.parse import quote

from fastapi.concurrency import run_in_threadpool
from starlette.responses import StreamingResponse

from crosspost.errors import CrosspostError, NotFound
from crosspost.media.storage import MediaStorage

_PIECE = 1024 * 1024
_RANGE = re.compile(r"bytes=(\d*)-(\d*)")


class RangeNotSatisfiable(CrosspostError):
    """The requested byte range lies outside the object (416)."""

    status = 416
    code = "range_not_satisfiable"
    title = "Range not satisfiable"


def byte_range(header: str | None, size: int) -> tuple[int, int] | None:
    """The (start, end inclusive) a Range header asks for, or None for the whole object
    (no header, a unit other than bytes, or several ranges, which RFC 9110 lets a server
    answer whole); RangeNotSatisfiable when it lies outside the object."""
    if header is None:
        return None
    found = _RANGE.fullmatch(header.strip())
    if found is None:
        return None
    first, last = found.groups()
    if not first and not last:
        return None
    if not first:  # the last N bytes
        start, end = max(0, size - int(last)), size - 1
    else:
        start = int(first)
        end = min(int(last), size - 1) if last else size - 1
    if start >= size or start > end or (not first and int(last) == 0):
        raise RangeNotSatisfiable(
            f"the range {header.strip()!r} lies outside the object's {size} bytes; ask for "
            f"bytes within 0-{max(size - 1, 0)}",
            headers={"Content-Range": f"bytes */{size}"},
        )
    return start, end


def _attachment(filename: str) -> str:
    # RFC 6266: a plain quoted name when it is printable ASCII, else the RFC 8187 form.
    if filename.isascii() and filename.isprintable() and not set('"\\') & set(filename):
        return f'attachment; filename="{filename}"'
    return f"attachment; filename*=UTF-8''{quote(filename)}"


def _pieces(storage: MediaStorage, key: str, start: int, length: int) -> Iterator[bytes]:
    with storage.open(key) as fh:
        fh.seek(start)
        left = length
        while left > 0 and (data := fh.read(min(_PIECE, left))):
            left -= len(data)
            yield data


async def object_response(
    storage: MediaStorage,
    key: str,
    *,
    media_type: str,
    range_header: str | None = None,
    filename: str | None = None,
    headers: dict[str, str] | None = None,
) -> StreamingResponse:
    """Stream the object under `key` (404 when it is gone), or the one range asked for."""
    try:
        size = await run_in_threadpool(storage.size, key)
    except FileNotFoundError:
        raise NotFound("the file is no longer stored") from None
    sent = byte_range(range_header, size)
    start, end = sent if sent is not None else (0, size - 1)
    out = {**(headers or {}), "Accept-Ranges": "bytes", "Content-Length": str(end - start + 1)}
    if sent is not None:
        out["Content-Range"] = f"bytes {start}-{end}/{size}"
    if filename is not None:
        out["Content-Disposition"] = _attachment(filename)
    return StreamingResponse(
        _pieces(storage, key, start, end - start + 1),
        status_code=206 if sent is not None else 200,
        media_type=media_type,
        headers=out,
    )
