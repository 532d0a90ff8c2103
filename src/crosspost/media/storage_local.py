"""Media on local disk under one root, one file per key: the embedded deployment's store.

A write goes to a temp file named after its key under `.incoming` and is renamed into place
at commit, after an fsync, so a crash never leaves a half file under a key. Resumable uploads
are staged under `.resumable` (kept for days, apart from `.incoming`, whose leftovers are
purged after hours). Both names start with a dot, so no valid key can ever name them.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import secrets
import time
from collections.abc import Iterator
from pathlib import Path
from types import TracebackType
from typing import BinaryIO, Self

from crosspost.media.storage import (
    InvalidKey,
    PresignedPut,
    StoredObject,
    check_key,
    check_segment,
    too_large,
)

_TEMP_DIR = ".incoming"
_TEMP_SUFFIX = ".part"
_STAGING_DIR = ".resumable"
_HASH_BLOCK = 1024 * 1024
# A key's segments joined for one temp file name: "/" cannot be in a name, "+" cannot be
# in a key segment.
_JOIN = "+"


def _flat(key: str) -> str:
    return _JOIN.join(check_key(key))


class LocalPendingWrite:
    """A streamed write into a temp file under the storage root.

    Calls may come from different threads of a pool (one at a time), so the object keeps no
    thread-bound state. As a context manager it aborts on exit unless committed.
    """

    def __init__(self, storage: LocalStorage, key: str, max_bytes: int | None) -> None:
        self._storage = storage
        self._key = key
        self._destination = storage.path_for(key)
        self._max_bytes = max_bytes
        temp_dir = storage.root / _TEMP_DIR
        temp_dir.mkdir(parents=True, exist_ok=True)
        self._temp_path = temp_dir / f"{_flat(key)}.{secrets.token_hex(6)}{_TEMP_SUFFIX}"
        self._file: BinaryIO | None = self._temp_path.open("xb")
        self._hash = hashlib.sha256()
        self._size = 0
        self._committed = False

    @property
    def key(self) -> str:
        """The key the bytes will have."""
        return self._key

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
            raise too_large(self._max_bytes)
        fh.write(chunk)
        self._hash.update(chunk)
        self._size += len(chunk)

    def commit(self) -> StoredObject:
        """Make the written bytes durable and visible under the key, replacing any old
        object."""
        fh = self._open_file()
        try:
            fh.flush()
            # Without fsync before the rename, a crash can leave the new name pointing at a
            # file whose data never reached the disk.
            os.fsync(fh.fileno())
            fh.close()
            self._file = None
            self._destination.parent.mkdir(parents=True, exist_ok=True)
            os.replace(self._temp_path, self._destination)
        except BaseException:
            self.abort()
            raise
        self._committed = True
        _fsync_dir(self._destination.parent)
        return StoredObject(key=self._key, size=self._size, sha256=self._hash.hexdigest())

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


class LocalStagedWrite:
    """Appends to a staged file from `offset`, cutting off whatever lay past it (bytes a
    write left there before its process died, never confirmed)."""

    def __init__(self, path: Path, offset: int) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
        # Unbuffered: what `write` took is in the file, so a write cut off keeps all of it.
        self._file: BinaryIO | None = os.fdopen(fd, "r+b", buffering=0)
        self._offset = offset
        self._written = 0
        if os.fstat(fd).st_size < offset:
            self.close()
            raise ValueError(f"the staged file {path.name} holds fewer than {offset} bytes")
        self._file.truncate(offset)
        self._file.seek(offset)

    @property
    def written(self) -> int:
        """Bytes written by this write so far."""
        return self._written

    def _open(self) -> BinaryIO:
        if self._file is None:
            raise RuntimeError("this staged write is closed")
        return self._file

    def write(self, chunk: bytes) -> None:
        """Append a chunk."""
        fh, view = self._open(), memoryview(chunk)
        while view:
            view = view[fh.write(view) or 0 :]
        self._written += len(chunk)

    def sync(self) -> None:
        """Make the bytes written durable."""
        fh = self._open()
        fh.flush()
        os.fsync(fh.fileno())

    def rollback(self) -> None:
        """Cut the staged file back to the offset this write started at."""
        fh = self._open()
        fh.truncate(self._offset)
        fh.seek(self._offset)
        self._written = 0

    def close(self) -> None:
        """Release the file; safe to call more than once."""
        if self._file is not None:
            self._file.close()
            self._file = None


def digest(path: Path, *, sync: bool = False) -> tuple[int, str]:
    """A file's size and hex SHA-256, read in blocks; with `sync`, its data made durable."""
    hasher = hashlib.sha256()
    size = 0
    with path.open("rb") as fh:
        while block := fh.read(_HASH_BLOCK):
            hasher.update(block)
            size += len(block)
        if sync:
            os.fsync(fh.fileno())
    return size, hasher.hexdigest()


def _fsync_dir(directory: Path) -> None:
    """Persist a rename by syncing its directory (POSIX only; Windows cannot open dirs)."""
    if os.name != "posix":
        return
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


class Staging:
    """Resumable uploads' staged files in one local directory (both stores stage here:
    tus appends at arbitrary offsets, which object stores cannot)."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory

    def path(self, name: str) -> Path:
        """The staged file of upload `name`."""
        return self.directory / check_segment(name)

    def stage(self, name: str, offset: int) -> LocalStagedWrite:
        """Write the staged file from `offset` on (what lay past it goes)."""
        return LocalStagedWrite(self.path(name), offset)

    def size(self, name: str) -> int:
        """The staged file's size in bytes (0 when there is none)."""
        try:
            return self.path(name).stat().st_size
        except FileNotFoundError:
            return 0

    def discard(self, name: str) -> None:
        """Delete a staged file; a missing one is not an error."""
        self.path(name).unlink(missing_ok=True)


class LocalStorage:
    """Media on local disk under `root`, one file per key."""

    def __init__(self, root: Path, *, max_bytes: int | None = None) -> None:
        self.root = root.resolve()
        self.max_bytes = max_bytes
        self.root.mkdir(parents=True, exist_ok=True)
        self.staging = Staging(self.root / _STAGING_DIR)

    @property
    def name(self) -> str:
        """The root directory."""
        return str(self.root)

    def begin_write(self, key: str, *, max_bytes: int | None = None) -> LocalPendingWrite:
        """Start a streamed write to `key`; `max_bytes` overrides the store's default."""
        limit = max_bytes if max_bytes is not None else self.max_bytes
        return LocalPendingWrite(self, key, limit)

    def _temp_files(self, flat_prefix: str) -> list[Path]:
        return sorted((self.root / _TEMP_DIR).glob(f"{flat_prefix}*{_TEMP_SUFFIX}"))

    def pending(self, prefix: str = "") -> list[str]:
        """The keys starting with `prefix` that have a write in progress."""
        flat = prefix.replace("/", _JOIN)
        found = {p.name.rsplit(".", 2)[0] for p in self._temp_files(flat)}
        return sorted(name.replace(_JOIN, "/") for name in found)

    def discard_pending(self, key: str) -> int:
        """Discard every write in progress to `key`; returns how many."""
        flat = _flat(key)
        removed = 0
        for path in self._temp_files(f"{flat}."):
            if path.name.rsplit(".", 2)[0] == flat:  # not "med_1.csv"'s for "med_1"
                path.unlink(missing_ok=True)
                removed += 1
        return removed

    def purge_pending(self, older_than_seconds: float, *, now: float | None = None) -> int:
        """Delete temp files left by crashed writes; returns how many were removed."""
        cutoff = (time.time() if now is None else now) - older_than_seconds
        removed = 0
        for path in self._temp_files(""):
            with contextlib.suppress(FileNotFoundError):
                if path.stat().st_mtime < cutoff:
                    path.unlink()
                    removed += 1
        return removed

    def stage(self, name: str, offset: int) -> LocalStagedWrite:
        """Write a resumable upload's staged file from `offset` on (what lay past it goes)."""
        return self.staging.stage(name, offset)

    def staged_size(self, name: str) -> int:
        """The staged file's size in bytes (0 when there is none)."""
        return self.staging.size(name)

    def promote(self, name: str, key: str) -> StoredObject:
        """Hash the staged file and move it, durably, to `key`."""
        source = self.staging.path(name)
        destination = self.path_for(key)
        size, sha256 = digest(source, sync=True)
        destination.parent.mkdir(parents=True, exist_ok=True)
        os.replace(source, destination)
        _fsync_dir(destination.parent)
        return StoredObject(key=key, size=size, sha256=sha256)

    def discard_staged(self, name: str) -> None:
        """Delete a staged file; a missing one is not an error."""
        self.staging.discard(name)

    def stored(self, key: str) -> StoredObject:
        """The object under `key`, hashed; FileNotFoundError when there is none."""
        size, sha256 = digest(self.path_for(key))
        return StoredObject(key=key, size=size, sha256=sha256)

    def size(self, key: str) -> int:
        """The object's size in bytes; FileNotFoundError when there is none."""
        return self.path_for(key).stat().st_size

    def path_for(self, key: str) -> Path:
        """The file for `key`; raises InvalidKey for keys that could leave the root."""
        path = self.root.joinpath(*check_key(key))
        # The pattern already forbids "..", but a symlink planted under the root could still
        # point outside it; resolving catches that.
        if not path.resolve().is_relative_to(self.root):
            raise InvalidKey(f"storage key {key!r} resolves outside the storage root")
        return path

    def open(self, key: str) -> BinaryIO:
        """Open the object for binary reading; FileNotFoundError if it does not exist."""
        return self.path_for(key).open("rb")

    @contextlib.contextmanager
    def local_file(self, key: str) -> Iterator[Path]:
        """The object's own file (no copy); FileNotFoundError if it does not exist."""
        path = self.path_for(key)
        if not path.is_file():
            raise FileNotFoundError(key)
        yield path

    def keys(self, prefix: str = "") -> Iterator[str]:
        """Every committed key starting with `prefix`, in order."""
        found: list[str] = []
        for path in self.root.rglob("*"):
            relative = path.relative_to(self.root)
            if path.is_file() and not relative.parts[0].startswith("."):
                key = "/".join(relative.parts)
                if key.startswith(prefix):
                    found.append(key)
        yield from sorted(found)

    def delete(self, key: str) -> None:
        """Remove the object; deleting a missing key is not an error."""
        self.path_for(key).unlink(missing_ok=True)

    def exists(self, key: str) -> bool:
        """True when an object is stored under `key`."""
        return self.path_for(key).is_file()

    def presign_put(
        self, key: str, *, content_type: str, size: int, sha256: str | None, expires_in: int
    ) -> PresignedPut | None:
        """None: a local store has no URL of its own; crosspost serves the upload."""
        return None
