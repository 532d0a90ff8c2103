"""The media storage port, one contract over both stores (local disk, and S3 on a real
S3-compatible server over HTTP): streamed, hashed, size-limited writes that appear whole at
commit, seekable reads, safe keys, and writes left by dead processes found and discarded."""

from __future__ import annotations

import hashlib
import os
import tracemalloc
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pytest

from crosspost.errors import PayloadTooLarge
from crosspost.media.storage import InvalidKey, MediaStorage
from crosspost.media.storage_local import LocalStorage
from crosspost.media.storage_s3 import MiB, S3Reader, S3Storage, parse_store_url

PART = 5 * MiB  # S3's smallest part, so a few MiB already make a multipart upload

MakeStore = Callable[..., MediaStorage]


@pytest.fixture
def make_store(media_store_url: str | None, tmp_path: Path) -> MakeStore:
    """Stores of the backend under test, each with its own default size limit."""

    def make(max_bytes: int | None = None) -> MediaStorage:
        if media_store_url is None:
            return LocalStorage(tmp_path / "media", max_bytes=max_bytes)
        bucket, prefix = parse_store_url(media_store_url)
        return S3Storage(bucket, prefix, local_dir=tmp_path / "local", addressing_style="path",
                         max_bytes=max_bytes, part_size=PART)  # fmt: skip

    return make


@pytest.fixture
def store(make_store: MakeStore) -> MediaStorage:
    """A store of the backend under test, without a size limit."""
    return make_store()


def _chunks(count: int, size: int) -> Iterator[bytes]:
    """Distinct chunks made on demand, so the test itself never holds the whole file."""
    for index in range(count):
        yield hashlib.sha256(index.to_bytes(4, "big")).digest() * (size // 32)


def _write(store: MediaStorage, key: str, data: bytes) -> None:
    with store.begin_write(key) as pending:
        pending.write(data)
        pending.commit()


@pytest.mark.parametrize("pieces", [40, 200], ids=["one-part", "multipart"])
def test_a_streamed_write_hashes_and_counts_like_hashlib(store: MediaStorage, pieces: int) -> None:
    """The committed object's sha256 and size equal hashlib's over the same bytes, whether
    it fits one part or spans several; reading it back gives the same bytes."""
    expected, total = hashlib.sha256(), 0
    with store.begin_write("ten_1/med_1") as pending:
        for chunk in _chunks(pieces, 64 * 1024 + 32):
            pending.write(chunk)
            expected.update(chunk)
            total += len(chunk)
        stored = pending.commit()
    assert (stored.key, stored.size, stored.sha256) == ("ten_1/med_1", total, expected.hexdigest())
    assert store.size("ten_1/med_1") == total
    assert store.stored("ten_1/med_1") == stored
    with store.local_file("ten_1/med_1") as path:
        assert hashlib.sha256(path.read_bytes()).hexdigest() == expected.hexdigest()
    assert store.pending() == []


def test_reads_seek_and_keys_list(store: MediaStorage) -> None:
    """`open` is seekable; `keys` lists what is committed under a prefix, nothing else."""
    data = bytes(range(256)) * 40
    _write(store, "exports/t1/a.csv", data)
    _write(store, "exports/t2/b.csv", b"b")
    _write(store, "med_1", b"m")
    with store.open("exports/t1/a.csv") as fh:
        fh.seek(1000)
        assert fh.read(10) == data[1000:1010]
        fh.seek(-5, os.SEEK_END)
        assert fh.read() == data[-5:]
        assert fh.read() == b""
    assert list(store.keys("exports/")) == ["exports/t1/a.csv", "exports/t2/b.csv"]
    assert sorted(store.keys()) == ["exports/t1/a.csv", "exports/t2/b.csv", "med_1"]


def test_s3_sequential_reads_share_one_get_and_survive_a_dropped_connection(
    s3_store_url: str, tmp_path: Path
) -> None:
    """Reading an object front to back is one GET (counted by botocore's own request
    events), a seek starts another, and a connection the store drops mid-read is reopened
    at the same byte."""
    bucket, prefix = parse_store_url(s3_store_url)
    store = S3Storage(bucket, prefix, local_dir=tmp_path, addressing_style="path", part_size=PART)
    data = b"".join(_chunks(4, 3 * MiB))
    _write(store, "seq", data)
    gets: list[str] = []
    store.client.meta.events.register(
        "before-send.s3.GetObject", lambda request, **_: gets.append(request.headers["Range"])
    )
    with store.open("seq") as fh:
        assert hashlib.sha256(fh.read()).hexdigest() == hashlib.sha256(data).hexdigest()
    assert gets == [f"bytes=0-{len(data) - 1}".encode()]
    gets.clear()
    with store.open("seq") as fh:
        raw = fh.raw
        assert isinstance(raw, S3Reader)
        assert raw.read(MiB) == data[:MiB]
        raw._body.close()  # the store (or a proxy) drops the idle connection
        assert raw.read(MiB) == data[MiB : 2 * MiB]
        raw.seek(10 * MiB)
        assert raw.read(16) == data[10 * MiB : 10 * MiB + 16]
    assert gets == [
        f"bytes=0-{len(data) - 1}".encode(),
        f"bytes={MiB}-{len(data) - 1}".encode(),
        f"bytes={10 * MiB}-{len(data) - 1}".encode(),
    ]


def test_delete_exists_and_missing_objects(store: MediaStorage) -> None:
    """Deleting twice is not an error; a missing object is FileNotFoundError to every read."""
    _write(store, "k", b"abc")
    assert store.exists("k")
    store.delete("k")
    assert not store.exists("k")
    store.delete("k")
    for read in (store.open, store.size, store.stored):
        with pytest.raises(FileNotFoundError):
            read("k")
    with pytest.raises(FileNotFoundError), store.local_file("k"):
        pass


def test_the_size_limit_is_enforced_mid_stream_and_nothing_is_left(make_store: MakeStore) -> None:
    """Crossing max_bytes raises 413 naming the limit, after parts were already sent: the
    partial write is discarded and the key never appears."""
    store = make_store(max_bytes=11 * MiB)
    pending = store.begin_write("big")
    for chunk in _chunks(10, MiB):
        pending.write(chunk)
    with pytest.raises(PayloadTooLarge) as caught:
        pending.write(b"x" * (2 * MiB))
    assert "11.0 MiB (11534336 bytes)" in caught.value.detail
    assert caught.value.extra["limit_bytes"] == 11 * MiB
    assert caught.value.status == 413
    assert store.pending() == [] and not store.exists("big")
    with pytest.raises(RuntimeError, match="aborted"):
        pending.write(b"more")


def test_a_per_write_limit_overrides_the_default_and_an_exact_fit_passes(
    make_store: MakeStore,
) -> None:
    """A write of exactly max_bytes succeeds; begin_write(max_bytes=) tightens the default."""
    store = make_store(max_bytes=10)
    with store.begin_write("exact") as pending:
        pending.write(b"0123456789")
        assert pending.commit().size == 10
    with store.begin_write("small", max_bytes=4) as pending, pytest.raises(PayloadTooLarge):
        pending.write(b"01234")


def test_nothing_is_visible_before_commit_and_commit_replaces(store: MediaStorage) -> None:
    """Until commit the key does not exist (or keeps its old bytes), even with parts sent."""
    with store.begin_write("med_1") as first:
        first.write(b"old content")
        assert not store.exists("med_1")
        first.commit()
    with store.begin_write("med_1") as second:
        for chunk in _chunks(6, MiB):
            second.write(chunk)
        with store.open("med_1") as fh:
            assert fh.read() == b"old content"
        second.commit()
    assert store.size("med_1") == 6 * MiB
    with pytest.raises(RuntimeError, match="committed"):
        second.write(b"late")


def test_leaving_the_block_without_commit_discards_the_write(store: MediaStorage) -> None:
    """An exception inside the block, or forgetting to commit, leaves nothing behind."""

    class Disconnected(Exception):
        """The client went away mid-upload."""

    def upload() -> None:
        with store.begin_write("med_1") as pending:
            for chunk in _chunks(6, MiB):
                pending.write(chunk)
            raise Disconnected

    with pytest.raises(Disconnected):
        upload()
    with store.begin_write("med_2") as pending:
        pending.write(b"never committed")
    assert store.pending() == []
    assert list(store.keys()) == []


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
def test_malformed_keys_are_refused(store: MediaStorage, key: str) -> None:
    """Keys that could leave the root, hit the temp area or confuse a store: InvalidKey."""
    with pytest.raises(InvalidKey):
        store.begin_write(key)
    for read in (store.open, store.exists, store.delete):
        with pytest.raises(InvalidKey):
            read(key)


def test_memory_stays_bounded_for_large_writes(store: MediaStorage) -> None:
    """Writing 32 MiB in 1 MiB chunks allocates at most a few chunks at a time. (Local disk
    only: the test S3 server runs in this process and keeps every part in memory, so the
    S3 client's bound is measured by `bench/storage_transfer.py`, the server apart.)"""
    if not isinstance(store, LocalStorage):
        pytest.skip("S3: measured by bench/storage_transfer.py (the test server holds the parts)")
    tracemalloc.start()
    try:
        with store.begin_write("big") as pending:
            for chunk in _chunks(32, MiB):
                pending.write(chunk)
            stored = pending.commit()
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert stored.size == 32 * MiB
    assert peak < 4 * MiB


def test_writes_from_a_thread_pool_hash_correctly(store: MediaStorage) -> None:
    """Sequential writes issued from different pool threads (as FastAPI does) stay correct."""
    chunks = list(_chunks(16, 512 * 1024))
    with ThreadPoolExecutor(max_workers=4) as pool, store.begin_write("threads") as pending:
        for chunk in chunks:
            pool.submit(pending.write, chunk).result()
        stored = pending.commit()
    assert stored.sha256 == hashlib.sha256(b"".join(chunks)).hexdigest()


def test_a_write_left_by_a_dead_process_is_found_and_discarded(store: MediaStorage) -> None:
    """A write never committed nor aborted (its process was killed) shows in `pending`;
    `discard_pending` removes that key's, `purge_pending` every old one."""
    for key in ("med_1", "med_10", "exports/t/x.csv"):
        orphan = store.begin_write(key)
        for chunk in _chunks(6, MiB):
            orphan.write(chunk)  # parts sent, then the process "dies"
    assert store.pending() == ["exports/t/x.csv", "med_1", "med_10"]
    assert store.pending("med_") == ["med_1", "med_10"]
    assert store.discard_pending("med_1") == 1
    assert store.pending() == ["exports/t/x.csv", "med_10"]
    if isinstance(store, LocalStorage):  # moto dates every upload 2010-11-10: all are old
        assert store.purge_pending(3600) == 0  # young: a live write, perhaps
    assert store.purge_pending(3600, now=os.path.getmtime(__file__) + 10**9) == 2
    assert store.pending() == [] and list(store.keys()) == []


def test_a_staged_upload_is_promoted_whole(store: MediaStorage) -> None:
    """A resumable upload's staged file grows across writes, then moves under its key,
    hashed; the staged file is gone."""
    first = store.stage("tus_1", 0)
    first.write(b"a" * (3 * MiB))
    first.sync()
    first.close()
    assert store.staged_size("tus_1") == 3 * MiB
    second = store.stage("tus_1", 3 * MiB)
    second.write(b"b" * (4 * MiB))
    second.sync()
    second.close()
    stored = store.promote("tus_1", "med_1")
    expected = hashlib.sha256(b"a" * (3 * MiB) + b"b" * (4 * MiB)).hexdigest()
    assert (stored.size, stored.sha256) == (7 * MiB, expected)
    assert store.staged_size("tus_1") == 0
    assert store.stored("med_1") == stored
    store.discard_staged("tus_1")  # already gone: not an error


def test_a_presigned_put_lands_the_file_under_its_key(store: MediaStorage) -> None:
    """S3 signs a PUT a client sends straight to the store; the local store has none (the
    API serves the upload itself)."""
    body = b"clip bytes" * 1000
    signed = store.presign_put("med_9", content_type="video/mp4", size=len(body),
                               sha256=hashlib.sha256(body).hexdigest(), expires_in=600)  # fmt: skip
    if isinstance(store, LocalStorage):
        assert signed is None
        return
    assert signed is not None
    assert signed.headers["Content-Length"] == str(len(body))
    answer = httpx.put(signed.url, content=body, headers=signed.headers)
    assert answer.status_code == 200, answer.text
    assert store.stored("med_9").sha256 == hashlib.sha256(body).hexdigest()


# --- local disk only ----------------------------------------------------------------------


def test_local_commit_renames_the_temp_file_into_place(tmp_path: Path) -> None:
    """Same inode: the temp file was renamed over the old object, never copied onto it."""
    store = LocalStorage(tmp_path)
    _write(store, "med_1", b"old")
    with store.begin_write("med_1") as pending:
        pending.write(b"new content")
        temp_inode = pending.temp_path.stat().st_ino
        pending.commit()
    assert store.path_for("med_1").read_bytes() == b"new content"
    assert store.path_for("med_1").stat().st_ino == temp_inode
    assert not pending.temp_path.exists()


def test_a_local_symlink_out_of_the_root_is_refused(tmp_path: Path) -> None:
    """A symlink planted under the root cannot be used to read or write outside it."""
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "secret").write_bytes(b"secret")
    store = LocalStorage(tmp_path / "root")
    os.symlink(outside, store.root / "link")
    with pytest.raises(InvalidKey, match="outside"):
        store.open("link/secret")


def test_local_purge_removes_only_stale_temp_files(tmp_path: Path) -> None:
    """Temp files older than the cutoff (crashed uploads) go; a live upload's file stays."""
    store = LocalStorage(tmp_path)
    stale = store.begin_write("med_1")
    stale.write(b"crashed")
    live = store.begin_write("med_2")
    live.write(b"in progress")
    old = stale.temp_path.stat().st_mtime - 7200
    os.utime(stale.temp_path, (old, old))
    now = live.temp_path.stat().st_mtime + 60
    assert store.purge_pending(3600, now=now) == 1
    assert store.pending() == ["med_2"]
    live.abort()
    stale.abort()  # aborting after the file vanished is harmless
