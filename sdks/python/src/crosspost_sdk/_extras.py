"""Methods written by hand beside the generated ones: uploading a file with progress (and
resuming it), waiting for a post, job or export to settle, and the live event stream."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import json
import mimetypes
import os
import time
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import httpx

from crosspost_sdk._lazy import field
from crosspost_sdk._resource import AsyncResource, SyncResource, segment
from crosspost_sdk._transport import AsyncTransport, Call, Transport
from crosspost_sdk.errors import APIConnectionError, APIError
from crosspost_sdk.ratelimit import Pacer
from crosspost_sdk.signing import BODY_SHA256, HmacAuth

if TYPE_CHECKING:
    from crosspost_sdk import models
else:  # named now, loaded when an answer is parsed (crosspost_sdk._lazy)
    from crosspost_sdk._lazy import models

T = TypeVar("T")

TERMINAL_POST = frozenset({"published", "partially_published", "failed", "cancelled", "deleted"})
TERMINAL_JOB = frozenset({"succeeded", "failed"})
TERMINAL_EXPORT = frozenset({"ready", "failed", "expired"})
PIECE = 1024 * 1024
# Larger files go up in resumable pieces (tus) unless the caller says otherwise.
RESUMABLE_FROM = 64 * 1024 * 1024
TUS = {"Tus-Resumable": "1.0.0"}
# A stream answer worth reconnecting after (the API is restarting or shedding load).
_STREAM_RETRY = frozenset({429, 500, 502, 503, 504})

Progress = Callable[[int, int], None]  # (bytes sent so far, of how many)


class WaitTimeout(TimeoutError):
    """An object did not reach a final status in time; `last` is how it stood."""

    def __init__(self, what: str, last: Any) -> None:
        super().__init__(f"{what} did not finish in time; it stood at {field(last, 'status')!r}")
        self.last = last


@dataclass
class _File:
    """A file to upload: re-opened for each attempt, so a retry sends it whole again."""

    path: Path
    name: str
    content_type: str
    size: int

    @classmethod
    def of(
        cls, file: str | os.PathLike[str], filename: str | None, content_type: str | None
    ) -> _File:
        path = Path(file)
        guessed = mimetypes.guess_type(path.name)[0]
        kind = content_type or guessed or "application/octet-stream"
        return cls(path, filename or path.name, kind, path.stat().st_size)

    def pieces(
        self, start: int = 0, size: int | None = None, progress: Progress | None = None
    ) -> Iterator[bytes]:
        end = self.size if size is None else min(self.size, start + size)
        sent = start
        with self.path.open("rb") as fh:
            fh.seek(start)
            while sent < end and (data := fh.read(min(PIECE, end - sent))):
                sent += len(data)
                if progress is not None:
                    progress(sent, self.size)
                yield data

    def sha256(self) -> str:
        digest = hashlib.sha256()
        for data in self.pieces():
            digest.update(data)
        return digest.hexdigest()


def _metadata(file: _File) -> str:
    pairs = {"filename": file.name, "filetype": file.content_type}
    return ",".join(f"{k} {base64.b64encode(v.encode()).decode()}" for k, v in pairs.items())


def _signed(transport: Any) -> bool:
    return isinstance(transport.config.auth, HmacAuth)


def _upload_call(
    file: _File, progress: Progress | None, signed: bool, idempotency_key: str | None
) -> Call:
    headers = {
        "Content-Type": file.content_type,
        "X-Filename": file.name,
        "Content-Length": str(file.size),
    }
    # A signed upload needs the body's hash first: one more read, never the file in memory.
    extensions = {BODY_SHA256: file.sha256()} if signed else {}
    return Call(
        "POST",
        "/v1/media",
        headers=headers,
        extensions=extensions,
        content=lambda: file.pieces(progress=progress),
        idempotent=True,
        idempotency_key=idempotency_key,
        timeout=None,
    )


def _chunk_call(
    url: str, file: _File, offset: int, chunk: int, progress: Progress | None, signed: bool
) -> Call:
    headers = {
        **TUS,
        "Upload-Offset": str(offset),
        "Content-Type": "application/offset+octet-stream",
    }
    extensions = {}
    if signed:
        digest = hashlib.sha256(b"".join(file.pieces(offset, chunk))).hexdigest()
        extensions[BODY_SHA256] = digest
    return Call(
        "PATCH",
        url,
        headers=headers,
        extensions=extensions,
        content=lambda: file.pieces(offset, chunk, progress),
        replayable=False,
        timeout=None,
    )


def _offset(answer: httpx.Response) -> int:
    return int(answer.headers.get("Upload-Offset", "0"))


class MediaExtras(SyncResource):
    """`media.upload`: a local file to a media item."""

    def upload(
        self,
        file: str | os.PathLike[str],
        *,
        content_type: str | None = None,
        filename: str | None = None,
        progress: Progress | None = None,
        resumable: bool | None = None,
        chunk_size: int = 16 * PIECE,
        upload_url: str | None = None,
        idempotency_key: str | None = None,
    ) -> models.MediaItem:
        """Upload a file, streamed (never whole in memory); `progress(sent, total)` follows
        it. Large files (or `resumable=True`) go up in tus pieces, resumed where the API
        has them after a dropped connection; `upload_url` resumes an earlier attempt."""
        source = _File.of(file, filename, content_type)
        if resumable is None:
            resumable = upload_url is not None or source.size >= RESUMABLE_FROM
        if not resumable:
            call = _upload_call(source, progress, _signed(self._t), idempotency_key)
            return self._t.call(call, models.MediaItem)
        url = upload_url or self.start_resumable(source)
        offset = _offset(self._t.send(Call("HEAD", url, headers=dict(TUS))))
        failures = 0
        while True:
            chunk = min(chunk_size, source.size - offset)
            try:
                answer = self._t.send(
                    _chunk_call(url, source, offset, chunk, progress, _signed(self._t))
                )
                failures = 0
            except (APIConnectionError, APIError) as err:
                failures += 1
                if failures > self._t.config.retries.max_retries or (
                    isinstance(err, APIError) and err.status not in (409, 423, 500, 502, 503, 504)
                ):
                    raise
                time.sleep(self._t.config.retries.delay(failures - 1, None) or 0)
                offset = _offset(self._t.send(Call("HEAD", url, headers=dict(TUS))))
                continue
            offset = _offset(answer)
            media_id = answer.headers.get("Crosspost-Media-Id")
            if media_id:
                return self._t.call(Call("GET", f"/v1/media/{segment(media_id)}"), models.MediaItem)

    def start_resumable(self, source: _File) -> str:
        """Create a tus upload for `source`; its URL (keep it to resume in another process)."""
        headers = {**TUS, "Upload-Length": str(source.size), "Upload-Metadata": _metadata(source)}
        answer = self._t.send(Call("POST", "/v1/uploads/tus", headers=headers, idempotent=True))
        return answer.headers["Location"]


class AsyncMediaExtras(AsyncResource):
    """`media.upload`: a local file to a media item."""

    async def upload(
        self,
        file: str | os.PathLike[str],
        *,
        content_type: str | None = None,
        filename: str | None = None,
        progress: Progress | None = None,
        idempotency_key: str | None = None,
    ) -> models.MediaItem:
        """Upload a file, streamed (never whole in memory); `progress(sent, total)` follows it."""
        source = _File.of(file, filename, content_type)
        call = _upload_call(source, progress, _signed(self._t), idempotency_key)
        # httpx's async client wants an async body: the file's pieces, handed over as read.
        call.content = lambda: _async_pieces(source, progress)
        return await self._t.call(call, models.MediaItem)


async def _async_pieces(source: _File, progress: Progress | None) -> AsyncIterator[bytes]:
    for data in source.pieces(progress=progress):
        yield data


def _follow(
    t: Transport,
    what: str,
    terminal: frozenset[str],
    path: str,
    kind: type[T],
    timeout: float,
    interval: float,
    on_update: Callable[[T], None] | None,
) -> T:
    """Read `path` until its status is in `terminal`, backing off while nothing changes
    and sparing the key's rate limit; `WaitTimeout` after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    pacer = Pacer(first=interval)
    last = None
    while True:
        seen = t.call(Call("GET", path), kind)
        if on_update is not None:
            on_update(seen)
        if str(field(seen, "status")) in terminal:
            return seen
        left = deadline - time.monotonic()
        if left <= 0:
            raise WaitTimeout(what, seen)
        changed, last = seen != last, seen
        time.sleep(min(left, pacer.next(changed, t.rate_limit)))


async def _follow_async(
    t: AsyncTransport,
    what: str,
    terminal: frozenset[str],
    path: str,
    kind: type[T],
    timeout: float,
    interval: float,
    on_update: Callable[[T], None] | None,
) -> T:
    """`_follow`, awaited."""
    deadline = time.monotonic() + timeout
    pacer = Pacer(first=interval)
    last = None
    while True:
        seen = await t.call(Call("GET", path), kind)
        if on_update is not None:
            on_update(seen)
        if str(field(seen, "status")) in terminal:
            return seen
        left = deadline - time.monotonic()
        if left <= 0:
            raise WaitTimeout(what, seen)
        changed, last = seen != last, seen
        await asyncio.sleep(min(left, pacer.next(changed, t.rate_limit)))


class PostsExtras(SyncResource):
    """`posts.wait`: follow a post to its final status."""

    def wait(
        self,
        post_id: str,
        *,
        timeout: float = 600.0,
        interval: float = 0.5,
        on_update: Callable[[models.PostPublic], None] | None = None,
    ) -> models.PostPublic:
        """Poll the post until it is published, partly published, failed, cancelled or
        deleted, backing off while nothing changes and sparing the key's rate limit; raises
        `WaitTimeout` after `timeout` seconds."""

        return _follow(
            self._t,
            "the post",
            TERMINAL_POST,
            f"/v1/posts/{segment(post_id)}",
            models.PostPublic,
            timeout,
            interval,
            on_update,
        )


class AsyncPostsExtras(AsyncResource):
    """`posts.wait`: follow a post to its final status."""

    async def wait(
        self,
        post_id: str,
        *,
        timeout: float = 600.0,
        interval: float = 0.5,
        on_update: Callable[[models.PostPublic], None] | None = None,
    ) -> models.PostPublic:
        """Poll the post until its status is final (see the synchronous `wait`)."""

        return await _follow_async(
            self._t,
            "the post",
            TERMINAL_POST,
            f"/v1/posts/{segment(post_id)}",
            models.PostPublic,
            timeout,
            interval,
            on_update,
        )


class JobsExtras(SyncResource):
    """`jobs.wait`: follow a job (highlights, a render, a distribution) to its end."""

    def wait(
        self,
        job_id: str,
        *,
        timeout: float = 600.0,
        interval: float = 0.5,
        on_update: Callable[[models.JobPublic], None] | None = None,
    ) -> models.JobPublic:
        """Poll the job until it succeeded or failed; raises `WaitTimeout` after `timeout` s."""

        return _follow(
            self._t,
            "the job",
            TERMINAL_JOB,
            f"/v1/jobs/{segment(job_id)}",
            models.JobPublic,
            timeout,
            interval,
            on_update,
        )


class AsyncJobsExtras(AsyncResource):
    """`jobs.wait`: follow a job to its end."""

    async def wait(
        self,
        job_id: str,
        *,
        timeout: float = 600.0,
        interval: float = 0.5,
        on_update: Callable[[models.JobPublic], None] | None = None,
    ) -> models.JobPublic:
        """Poll the job until it succeeded or failed (see the synchronous `wait`)."""

        return await _follow_async(
            self._t,
            "the job",
            TERMINAL_JOB,
            f"/v1/jobs/{segment(job_id)}",
            models.JobPublic,
            timeout,
            interval,
            on_update,
        )


class ExportsExtras(SyncResource):
    """`exports.wait` and `exports.save`."""

    def wait(
        self,
        export_id: str,
        *,
        timeout: float = 600.0,
        interval: float = 0.5,
        on_update: Callable[[models.ExportPublic], None] | None = None,
    ) -> models.ExportPublic:
        """Poll the export until it is ready, failed or expired."""

        return _follow(
            self._t,
            "the export",
            TERMINAL_EXPORT,
            f"/v1/exports/{segment(export_id)}",
            models.ExportPublic,
            timeout,
            interval,
            on_update,
        )

    def save(
        self, export_id: str, path: str | os.PathLike[str], *, sha256: str | None = None
    ) -> int:
        """Stream a ready export's file to `path`, complete or not at all, checking it
        against `sha256` (the export's) when given; its size."""
        target = Path(path)
        partial = target.with_name(target.name + ".partial")
        digest = hashlib.sha256()
        call = Call("GET", f"/v1/exports/{segment(export_id)}/download", timeout=None)
        response = self._t.send(call, stream=True)
        try:
            with partial.open("wb") as fh:
                for data in response.iter_bytes():
                    digest.update(data)
                    fh.write(data)
        finally:
            response.close()
        if sha256 is not None and digest.hexdigest() != sha256:
            partial.unlink(missing_ok=True)
            raise ValueError(f"export {export_id} downloaded with the wrong SHA-256; try again")
        partial.replace(target)
        return target.stat().st_size


class AsyncExportsExtras(AsyncResource):
    """`exports.wait`."""

    async def wait(
        self,
        export_id: str,
        *,
        timeout: float = 600.0,
        interval: float = 0.5,
        on_update: Callable[[models.ExportPublic], None] | None = None,
    ) -> models.ExportPublic:
        """Poll the export until it is ready, failed or expired."""

        return await _follow_async(
            self._t,
            "the export",
            TERMINAL_EXPORT,
            f"/v1/exports/{segment(export_id)}",
            models.ExportPublic,
            timeout,
            interval,
            on_update,
        )


@dataclass
class ServerSentEvent:
    """One message of an event stream."""

    id: str | None
    event: str
    data: str


class SSEDecoder:
    """Turns an event stream's lines into messages, as the HTML standard parses them."""

    def __init__(self) -> None:
        self.data: list[str] = []
        self.event = ""
        self.last_id: str | None = None

    def feed(self, line: str) -> ServerSentEvent | None:
        """The message this line ends, if it ends one."""
        if not line:
            message = None
            if self.data:
                message = ServerSentEvent(
                    self.last_id, self.event or "message", "\n".join(self.data)
                )
            self.data, self.event = [], ""
            return message
        if line.startswith(":"):
            return None  # a comment: the heartbeat
        name, _, value = line.partition(":")
        value = value.removeprefix(" ")
        if name == "data":
            self.data.append(value)
        elif name == "event":
            self.event = value
        elif name == "id" and "\x00" not in value:
            self.last_id = value
        return None


def _stream_params(types: list[str] | None, post_id: str | None) -> dict[str, Any]:
    return {"types": ",".join(types) if types else None, "post_id": post_id}


class EventsExtras(SyncResource):
    """`events.stream`: events as they happen."""

    def stream(
        self,
        *,
        after: str | None = None,
        types: list[str] | None = None,
        post_id: str | None = None,
        idle_timeout: float = 45.0,
        retry_seconds: float = 0.5,
        max_retry_seconds: float = 30.0,
        on_open: Callable[[str | None], None] | None = None,
        on_drop: Callable[[str, float], None] | None = None,
    ) -> Iterator[dict[str, Any]]:
        """Events as they happen (`GET /v1/events/stream`), each `{id, type, timestamp,
        data, test}`, for as long as you iterate. A dropped connection, a restart or
        `idle_timeout` s of silence reconnect with `Last-Event-ID`, so nothing is missed or
        repeated; a refusal (a bad filter, a revoked key) raises its `APIError`.

        `on_open(resumed_after)` is called each time the stream is open (the event id it
        resumes after); `on_drop(why, seconds)` each time it is lost, before waiting that
        long to reconnect. Either may raise to stop."""
        last, delay = after, retry_seconds
        while True:
            headers = {"Last-Event-ID": last} if last else {}
            call = Call(
                "GET",
                "/v1/events/stream",
                params=_stream_params(types, post_id),
                headers=headers,
                timeout=idle_timeout,
            )
            try:
                response = self._t.send(call, stream=True)
                decoder = SSEDecoder()
                try:
                    if on_open is not None:
                        on_open(last)
                    for line in response.iter_lines():
                        if (message := decoder.feed(line)) is None:
                            continue
                        delay = retry_seconds
                        last = message.id or last
                        if message.data:
                            yield {"id": message.id, **json.loads(message.data)}
                finally:
                    response.close()
                why = "the server ended the stream"
            except (APIConnectionError, httpx.TransportError) as err:
                why = str(err) or type(err).__name__
            except APIError as err:
                if err.status not in _STREAM_RETRY:
                    raise
                why = str(err)
            if on_drop is not None:
                on_drop(why, delay)
            time.sleep(delay)
            delay = min(delay * 2, max_retry_seconds)


class AsyncEventsExtras(AsyncResource):
    """`events.stream`: events as they happen."""

    async def stream(
        self,
        *,
        after: str | None = None,
        types: list[str] | None = None,
        post_id: str | None = None,
        idle_timeout: float = 45.0,
        retry_seconds: float = 0.5,
        max_retry_seconds: float = 30.0,
    ) -> AsyncIterator[dict[str, Any]]:
        """Events as they happen, reconnecting as the synchronous `stream` does."""
        last, delay = after, retry_seconds
        while True:
            headers = {"Last-Event-ID": last} if last else {}
            call = Call(
                "GET",
                "/v1/events/stream",
                params=_stream_params(types, post_id),
                headers=headers,
                timeout=idle_timeout,
            )
            try:
                response = await self._t.send(call, stream=True)
                decoder = SSEDecoder()
                try:
                    async for line in response.aiter_lines():
                        if (message := decoder.feed(line)) is None:
                            continue
                        delay = retry_seconds
                        last = message.id or last
                        if message.data:
                            yield {"id": message.id, **json.loads(message.data)}
                finally:
                    await response.aclose()
            except (APIConnectionError, httpx.TransportError):
                pass
            except APIError as err:
                if err.status not in _STREAM_RETRY:
                    raise
            await asyncio.sleep(delay)
            delay = min(delay * 2, max_retry_seconds)
