"""LocalStorage: streamed, hashed, size-limited writes with atomic commit and safe keys."""

from __future__ import annotations

import hashlib
import os
import tracemalloc
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from crosspost.errors import PayloadTooLarge
from crosspost.media.storage import InvalidKey, LocalStorage, MediaStorage

MiB = 1024 * 1024


def _chunks(count: int, size: int) -> Iterator[bytes]:
    """Distinct chunks made on demand, so the test itself never holds the whole file."""
    for index in range(count):
        yield hashlib.sha256(index.to_bytes(4, "big")).digest() * (size // 32)


def _temp_files(storage: LocalStorage) -> list[Path]:
    return list(storage.root.rglob("*.part"))


def test_streamed_write_hashes_and_counts_like_hashlib(tmp_path: Path) -> None:
    """The committed object's sha256 and size equal hashlib's over the same bytes."""
    storage = LocalStorage(tmp_path / "media")
    expected = hashlib.sha256()
    total = 0
    with storage.begin_write() as pending:
        for chunk in _chunks(40, 64 * 1024 + 32):
            pending.write(chunk)
            expected.update(chunk)
            total += len(chunk)
        stored = pending.commit("ten_1/med_1")
    assert stored.size == total
    assert stored.sha256 == expected.hexdigest()
    assert stored.key == "ten_1/med_1"
    assert stored.path == storage.path_for("ten_1/med_1")
    assert hashlib.sha256(stored.path.read_bytes()).hexdigest() == expected.hexdigest()
    with storage.open("ten_1/med_1") as fh:
        assert fh.read(32) == next(_chunks(1, 64 * 1024 + 32))[:32]
    assert _temp_files(storage) == []


def test_protocol_is_satisfied_by_local_storage(tmp_path: Path) -> None:
    """LocalStorage type-checks as the MediaStorage port and round-trips through it."""
    storage: MediaStorage = LocalStorage(tmp_path)
    with storage.begin_write() as pending:
        pending.write(b"abc")
        pending.commit("k")
    assert storage.exists("k")
    storage.delete("k")
    assert not storage.exists("k")
    storage.delete("k")  # deleting twice is not an error


def test_size_limit_is_enforced_mid_stream_and_temp_file_removed(tmp_path: Path) -> None:
    """Crossing max_bytes raises 413 naming the limit, and the partial file is deleted."""
    storage = LocalStorage(tmp_path, max_bytes=3 * MiB)
    pending = storage.begin_write()
    pending.write(b"x" * (2 * MiB))
    assert pending.temp_path.exists()
    with pytest.raises(PayloadTooLarge) as caught:
        pending.write(b"x" * (2 * MiB))
    assert "3.0 MiB (3145728 bytes)" in caught.value.detail
    assert caught.value.extra["limit_bytes"] == 3 * MiB
    assert caught.value.status == 413
    assert not pending.temp_path.exists()
    assert _temp_files(storage) == []
    with pytest.raises(RuntimeError, match="aborted"):
        pending.write(b"more")


def test_per_write_limit_overrides_default_and_exact_limit_fits(tmp_path: Path) -> None:
    """A write of exactly max_bytes succeeds; begin_write(max_bytes=) tightens the default."""
    storage = LocalStorage(tmp_path, max_bytes=10)
    with storage.begin_write() as pending:
        pending.write(b"0123456789")
        assert pending.commit("exact").size == 10
    with storage.begin_write(max_bytes=4) as pending, pytest.raises(PayloadTooLarge):
        pending.write(b"01234")


def test_nothing_is_visible_before_commit_and_commit_replaces(tmp_path: Path) -> None:
    """Until commit the key does not exist (or keeps its old bytes); commit swaps atomically."""
    storage = LocalStorage(tmp_path)
    with storage.begin_write() as first:
        first.write(b"old content")
        assert not storage.exists("med_1")
        first.commit("med_1")
    with storage.begin_write() as second:
        second.write(b"new content")
        assert storage.path_for("med_1").read_bytes() == b"old content"
        temp_inode = second.temp_path.stat().st_ino
        stored = second.commit("med_1")
    assert stored.path.read_bytes() == b"new content"
    # Same inode: the temp file was renamed into place, never copied over the old one.
    assert stored.path.stat().st_ino == temp_inode
    assert not second.temp_path.exists()
    with pytest.raises(RuntimeError, match="committed"):
        second.write(b"late")


def test_exception_in_block_aborts(tmp_path: Path) -> None:
    """An exception inside the with-block deletes the temp file and commits nothing."""
    storage = LocalStorage(tmp_path)

    class Disconnected(Exception):
        """The client went away mid-upload."""

    temp_paths: list[Path] = []

    def upload() -> None:
        with storage.begin_write() as pending:
            temp_paths.append(pending.temp_path)
            pending.write(b"partial")
            raise Disconnected

    with pytest.raises(Disconnected):
        upload()
    assert temp_paths
    assert not temp_paths[0].exists()
    assert _temp_files(storage) == []


def test_leaving_block_without_commit_aborts(tmp_path: Path) -> None:
    """Forgetting to commit does not leak a temp file."""
    storage = LocalStorage(tmp_path)
    with storage.begin_write() as pending:
        pending.write(b"never committed")
    assert not pending.temp_path.exists()


@pytest.mark.parametrize(
    "key",
    [
        "../escape",
        "a/../../escape",
        "/etc/passwd",
        "",
        "a//b",
        ".incoming/upload-x.part",
        ".hidden",
        "a/./b",
        "back\\slash",
        "nul\x00byte",
        "x" * 200,
    ],
)
def test_traversal_and_malformed_keys_are_refused(tmp_path: Path, key: str) -> None:
    """Keys that could leave the root, hit the temp area or confuse the FS raise InvalidKey."""
    storage = LocalStorage(tmp_path / "root")
    with pytest.raises(InvalidKey):
        storage.path_for(key)
    with storage.begin_write() as pending:
        pending.write(b"data")
        with pytest.raises(InvalidKey):
            pending.commit(key)
    assert list((tmp_path).glob("escape")) == []


def test_symlink_out_of_root_is_refused(tmp_path: Path) -> None:
    """A symlink planted under the root cannot be used to read or write outside it."""
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "secret").write_bytes(b"secret")
    storage = LocalStorage(tmp_path / "root")
    os.symlink(outside, storage.root / "link")
    with pytest.raises(InvalidKey, match="outside"):
        storage.open("link/secret")


def test_memory_stays_bounded_for_large_uploads(tmp_path: Path) -> None:
    """Writing 32 MiB in 1 MiB chunks never allocates more than a few chunks' worth."""
    storage = LocalStorage(tmp_path)
    tracemalloc.start()
    try:
        with storage.begin_write() as pending:
            for chunk in _chunks(32, MiB):
                pending.write(chunk)
            stored = pending.commit("big")
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert stored.size == 32 * MiB
    assert peak < 4 * MiB


def test_writes_from_a_thread_pool_hash_correctly(tmp_path: Path) -> None:
    """Sequential writes issued from different pool threads (as FastAPI does) stay correct."""
    storage = LocalStorage(tmp_path)
    chunks = list(_chunks(16, 4096))
    with ThreadPoolExecutor(max_workers=4) as pool, storage.begin_write() as pending:
        for chunk in chunks:
            pool.submit(pending.write, chunk).result()
        stored = pending.commit("threads")
    assert stored.sha256 == hashlib.sha256(b"".join(chunks)).hexdigest()


def test_purge_temp_removes_only_stale_files(tmp_path: Path) -> None:
    """Temp files older than the cutoff (crashed uploads) go; a live upload's file stays."""
    storage = LocalStorage(tmp_path)
    stale = storage.begin_write()
    stale.write(b"crashed")
    live = storage.begin_write()
    live.write(b"in progress")
    old = stale.temp_path.stat().st_mtime - 7200
    os.utime(stale.temp_path, (old, old))
    now = live.temp_path.stat().st_mtime + 60
    assert storage.purge_temp(3600, now=now) == 1
    assert not stale.temp_path.exists()
    assert live.temp_path.exists()
    live.abort()
    stale.abort()  # aborting after the file vanished is harmless
