"""Where media bytes live: a narrow storage port and its local-disk implementation.

Uploads stream through a `PendingWrite` that hashes and counts as it goes, so memory stays
bounded by one chunk whatever the file size, and nothing becomes visible under its key until
`commit` renames the finished temp file into place. An S3 backend will implement the same
`MediaStorage` protocol (multipart upload behind `PendingWrite`).
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import re
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import BinaryIO, Protocol, Self

from crosspost.errors import PayloadTooLarge

# Keys are made by our own code (e.g. "<tenant>/<media id>"); anything outside this shape is a
# bug or an attack, so it is refused before it ever reaches the file system.
_KEY_SEGMENT = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,127}")
_MAX_KEY_SEGMENTS = 8
_TEMP_DIR = ".incoming"  # starts with a dot, so no valid key can ever name it
_TEMP_SUFFIX = ".part"


class InvalidKey(ValueError):
    """A storage key that could escape the storage root or is otherwise malformed."""


@dataclass(frozen=True)
class StoredObject:
    """A committed file: its key, size in bytes, hex sha256 and local path."""

    key: str
    size: int
    sha256: str
    path: Path


class PendingWrite(Protocol):
    """An upload in progress; nothing is visible under any key until `commit`."""

    @property
    def size(self) -> int:
        """Bytes written so far."""
        ...

    def write(self, chunk: bytes) -> None:
        """Append a chunk; raises PayloadTooLarge (and discards everything) past the limit."""
        ...

    def commit(self, key: str) -> StoredObject:
        """Make the written bytes durable and visible under `key`, replacing any old object."""
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


class MediaStorage(Protocol):
    """The storage port: streamed writes, reads by key, and deletion."""

    def begin_write(self, *, max_bytes: int | None = None) -> PendingWrite:
        """Start a streamed upload, optionally with a tighter size limit than the default."""
        ...

    def path_for(self, key: str) -> Path:
        """A local path holding the object's bytes (for probing and chunked re-upload)."""
        ...

    def open(self, key: str) -> BinaryIO:
        """Open the object for binary reading; FileNotFoundError if it does not exist."""
        ...

    def delete(self, key: str) -> None:
        """Remove the object; deleting a missing key is not an error."""
        ...

    def exists(self, key: str) -> bool:
        """True when an object is stored under `key`."""
        ...


def _describe_bytes(count: int) -> str:
    for unit, size in (("GiB", 1024**3), ("MiB", 1024**2), ("KiB", 1024)):
        if count >= size:
            return f"{count / size:.1f} {unit} ({count} bytes)"
    return f"{count} bytes"


class LocalPendingWrite:
    """A streamed write into a temp file under the storage root.

    Calls may come from different threads of a pool (one at a time), so the object keeps no
    thread-bound state. As a context manager it aborts on exit unless committed.
    """

    def __init__(self, storage: LocalStorage, max_bytes: int | None) -> None:
        self._storage = storage
        self._max_bytes = max_bytes
        temp_dir = storage.root / _TEMP_DIR
        temp_dir.mkdir(parents=True, exist_ok=True)
        fd, name = tempfile.mkstemp(dir=temp_dir, prefix="upload-", suffix=_TEMP_SUFFIX)
        self._file: BinaryIO | None = os.fdopen(fd, "wb")
        self._temp_path = Path(name)
        self._hash = hashlib.sha256()
        self._size = 0
        self._committed = False

    @property
    def size(self) -> int:
        """Bytes written so far."""
        return self._size

    @property
    def temp_path(self) -> Path:
        """The temp file receiving the bytes (gone once committed or aborted)."""
        return self._temp_path

    def _open_file(self) -> BinaryIO:
        if self._file is None:
            state = "committed" if self._committed else "aborted"
            raise RuntimeError(f"this write was already {state}")
        return self._file

    def write(self, chunk: bytes) -> None:
        """Append a chunk; raises PayloadTooLarge (and discards everything) past the limit."""
        fh = self._open_file()
        if self._max_bytes is not None and self._size + len(chunk) > self._max_bytes:
            self.abort()
            raise PayloadTooLarge(
                f"the upload exceeds the limit of {_describe_bytes(self._max_bytes)}: "
                "send a smaller file",
                limit_bytes=self._max_bytes,
            )
        fh.write(chunk)
        self._hash.update(chunk)
        self._size += len(chunk)

    def commit(self, key: str) -> StoredObject:
        """Make the written bytes durable and visible under `key`, replacing any old object."""
        destination = self._storage.path_for(key)
        fh = self._open_file()
        try:
            fh.flush()
            # Without fsync before the rename, a crash can leave the new name pointing at a
            # file whose data never reached the disk.
            os.fsync(fh.fileno())
            fh.close()
            self._file = None
            destination.parent.mkdir(parents=True, exist_ok=True)
            os.replace(self._temp_path, destination)
        except BaseException:
            self.abort()
            raise
        self._committed = True
        _fsync_dir(destination.parent)
        return StoredObject(
            key=key, size=self._size, sha256=self._hash.hexdigest(), path=destination
        )

    def abort(self) -> None:
        """Discard the written bytes; safe to call more than once."""
        if self._file is not None:
            self._file.close()
            self._file = None
        if not self._committed:
            self._temp_path.unlink(missing_ok=True)

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        # Leaving the block without a commit (exception or not) must not leak a temp file.
        self.abort()


def _fsync_dir(directory: Path) -> None:
    """Persist a rename by syncing its directory (POSIX only; Windows cannot open dirs)."""
    if os.name != "posix":
        return
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


class LocalStorage:
    """Media on local disk under `root`, one file per key; the embedded deployment's backend."""

    def __init__(self, root: Path, *, max_bytes: int | None = None) -> None:
        self.root = root.resolve()
        self.max_bytes = max_bytes
        self.root.mkdir(parents=True, exist_ok=True)

    def begin_write(self, *, max_bytes: int | None = None) -> LocalPendingWrite:
        """Start a streamed upload; `max_bytes` overrides the storage default when given."""
        return LocalPendingWrite(self, max_bytes if max_bytes is not None else self.max_bytes)

    def path_for(self, key: str) -> Path:
        """The file for `key`; raises InvalidKey for keys that could leave the root."""
        segments = key.split("/")
        if len(segments) > _MAX_KEY_SEGMENTS or not all(
            _KEY_SEGMENT.fullmatch(segment) for segment in segments
        ):
            raise InvalidKey(f"invalid storage key {key!r}")
        path = self.root.joinpath(*segments)
        # The pattern already forbids "..", but a symlink planted under the root could still
        # point outside it; resolving catches that.
        if not path.resolve().is_relative_to(self.root):
            raise InvalidKey(f"storage key {key!r} resolves outside the storage root")
        return path

    def open(self, key: str) -> BinaryIO:
        """Open the object for binary reading; FileNotFoundError if it does not exist."""
        return self.path_for(key).open("rb")

    def delete(self, key: str) -> None:
        """Remove the object; deleting a missing key is not an error."""
        self.path_for(key).unlink(missing_ok=True)

    def exists(self, key: str) -> bool:
        """True when an object is stored under `key`."""
        return self.path_for(key).is_file()

    def purge_temp(self, older_than_seconds: float, *, now: float | None = None) -> int:
        """Delete temp files left by crashed uploads; returns how many were removed.

        `now` is a POSIX timestamp (defaults to the wall clock) so tests can age files.
        """
        cutoff = (time.time() if now is None else now) - older_than_seconds
        removed = 0
        temp_dir = self.root / _TEMP_DIR
        if not temp_dir.is_dir():
            return 0
        for path in temp_dir.glob(f"*{_TEMP_SUFFIX}"):
            with contextlib.suppress(FileNotFoundError):
                if path.stat().st_mtime < cutoff:
                    path.unlink()
                    removed += 1
        return removed
