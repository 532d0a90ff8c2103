"""Where media bytes live: a narrow storage port every reader and writer of media goes
through, with a local-disk backend (`storage_local`) and an S3-compatible one (`storage_s3`).

Writes stream through a `PendingWrite` to the key they will have: it hashes and counts as it
goes, so memory stays bounded by one part whatever the file size, and nothing is visible
under the key until `commit`. Reads are seekable streams (`open`), never whole files;
`local_file` gives a path for the tools that need one (PyAV probing and rendering).
Resumable (tus) uploads grow a staged file on local disk across many requests
(`StagedWrite`) and `promote` it into the store once whole.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import AbstractContextManager
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import BinaryIO, Protocol, Self

from crosspost.errors import CrosspostError, PayloadTooLarge

# Keys are made by our own code (e.g. "<tenant>/<media id>"); anything outside this shape is a
# bug or an attack, so it is refused before it ever reaches a file system or a bucket.
_KEY_SEGMENT = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,127}")
_MAX_KEY_SEGMENTS = 8


_STORE_CHUNK = 1024 * 1024


class InvalidKey(ValueError):
    """A storage key that could escape the storage root or is otherwise malformed."""


class StorageUnavailable(CrosspostError):
    """The object store did not answer or failed (503): nothing was lost, try again."""

    status = 503
    code = "storage_unavailable"
    title = "Service unavailable"


def check_key(key: str) -> list[str]:
    """The key's segments; InvalidKey unless every one is a safe name."""
    segments = key.split("/")
    if len(segments) > _MAX_KEY_SEGMENTS or not all(
        _KEY_SEGMENT.fullmatch(segment) for segment in segments
    ):
        raise InvalidKey(f"invalid storage key {key!r}")
    return segments


def check_segment(name: str) -> str:
    """`name` when it is one safe path segment; InvalidKey otherwise."""
    if not _KEY_SEGMENT.fullmatch(name):
        raise InvalidKey(f"invalid name {name!r}")
    return name


def describe_bytes(count: int) -> str:
    """A byte count as people read it, exact count kept: "3.0 MiB (3145728 bytes)"."""
    for unit, size in (("GiB", 1024**3), ("MiB", 1024**2), ("KiB", 1024)):
        if count >= size:
            return f"{count / size:.1f} {unit} ({count} bytes)"
    return f"{count} bytes"


def too_large(limit: int) -> PayloadTooLarge:
    """The 413 a write past its limit raises."""
    return PayloadTooLarge(
        f"the upload exceeds the limit of {describe_bytes(limit)}: send a smaller file",
        limit_bytes=limit,
    )


@dataclass(frozen=True)
class StoredObject:
    """A committed object: its key, size in bytes and hex sha256."""

    key: str
    size: int
    sha256: str


@dataclass(frozen=True)
class PresignedPut:
    """Where a client PUTs a file straight into the store: the URL and the headers it must
    send exactly as given (they are signed)."""

    url: str
    headers: dict[str, str]


class PendingWrite(Protocol):
    """A write in progress to one key; nothing is visible under the key until `commit`."""

    @property
    def key(self) -> str:
        """The key the bytes will have."""
        ...

    @property
    def size(self) -> int:
        """Bytes written so far."""
        ...

    def write(self, chunk: bytes) -> None:
        """Append a chunk; raises PayloadTooLarge (and discards everything) past the limit."""
        ...

    def commit(self) -> StoredObject:
        """Make the written bytes durable and visible under the key, replacing any old
        object."""
        ...

    def abort(self) -> None:
        """Discard the written bytes; safe to call more than once."""
        ...

    def __enter__(self) -> Self: ...

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None: ...


class StagedWrite(Protocol):
    """Bytes appended to a resumable upload's staged file from a given offset."""

    @property
    def written(self) -> int:
        """Bytes written by this write so far."""
        ...

    def write(self, chunk: bytes) -> None:
        """Append a chunk."""
        ...

    def sync(self) -> None:
        """Make the bytes written durable."""
        ...

    def rollback(self) -> None:
        """Cut the staged file back to the offset this write started at."""
        ...

    def close(self) -> None:
        """Release the file; safe to call more than once."""
        ...


class MediaStorage(Protocol):
    """The storage port: streamed writes, seekable reads by key, and deletion."""

    @property
    def name(self) -> str:
        """Where the objects live, for people: a directory or `s3://bucket/prefix`."""
        ...

    def begin_write(self, key: str, *, max_bytes: int | None = None) -> PendingWrite:
        """Start a streamed write to `key`, optionally with a tighter size limit than the
        store's default."""
        ...

    def pending(self, prefix: str = "") -> list[str]:
        """The keys starting with `prefix` that have a write in progress (or one left by a
        process that died mid-write)."""
        ...

    def discard_pending(self, key: str) -> int:
        """Discard every write in progress to `key` (an earlier attempt's, whose process
        died); returns how many."""
        ...

    def purge_pending(self, older_than_seconds: float, *, now: float | None = None) -> int:
        """Discard writes in progress older than the given age (`now` a POSIX timestamp,
        the wall clock by default); returns how many."""
        ...

    def stage(self, name: str, offset: int) -> StagedWrite:
        """Write a resumable upload's staged file from `offset` on (what lay past it goes)."""
        ...

    def staged_size(self, name: str) -> int:
        """The staged file's size in bytes (0 when there is none)."""
        ...

    def promote(self, name: str, key: str) -> StoredObject:
        """Hash the staged file and move it, durably, to `key`."""
        ...

    def discard_staged(self, name: str) -> None:
        """Delete a staged file; a missing one is not an error."""
        ...

    def stored(self, key: str) -> StoredObject:
        """The object under `key`, hashed; FileNotFoundError when there is none."""
        ...

    def size(self, key: str) -> int:
        """The object's size in bytes; FileNotFoundError when there is none."""
        ...

    def open(self, key: str) -> BinaryIO:
        """The object as a seekable binary stream; FileNotFoundError if it does not exist."""
        ...

    def local_file(self, key: str) -> AbstractContextManager[Path]:
        """A local path holding the object's bytes for the block's duration (the file
        itself on local disk, a streamed copy otherwise); FileNotFoundError if none."""
        ...

    def keys(self, prefix: str = "") -> Iterator[str]:
        """Every committed key starting with `prefix`."""
        ...

    def delete(self, key: str) -> None:
        """Remove the object; deleting a missing key is not an error."""
        ...

    def exists(self, key: str) -> bool:
        """True when an object is stored under `key`."""
        ...

    def presign_put(
        self, key: str, *, content_type: str, size: int, sha256: str | None, expires_in: int
    ) -> PresignedPut | None:
        """A URL a client PUTs exactly `size` bytes of `content_type` to, landing at `key`
        (checked against `sha256`, hex, when given); None when the store cannot sign one
        and crosspost serves the upload itself."""
        ...


def store_file(storage: MediaStorage, path: Path, key: str) -> StoredObject:
    """Stream a local file to `key`, replacing what an earlier run (dead or not) left there."""
    storage.discard_pending(key)  # an earlier run's, whose worker died mid-write
    with storage.begin_write(key) as pending, path.open("rb") as fh:
        while chunk := fh.read(_STORE_CHUNK):
            pending.write(chunk)
        return pending.commit()
