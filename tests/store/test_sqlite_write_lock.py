"""SQLite writers of several processes queue on one advisory lock beside the database file,
so they wait in the kernel (woken at release) instead of in SQLite's sleeping busy handler."""

from __future__ import annotations

import fcntl
import multiprocessing
import os
import time
from pathlib import Path

import pytest
import sqlalchemy as sa

from crosspost.store.db import Database

_meta = sa.MetaData()
counter = sa.Table("lock_counter", _meta, sa.Column("n", sa.Integer, nullable=False))


def _is_locked(path: str) -> bool:
    fd = os.open(path, os.O_RDWR)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return True
    finally:
        os.close(fd)  # releases the lock if it was taken
    return False


def test_a_write_transaction_holds_the_file_lock_until_it_ends(tmp_path: Path) -> None:
    path = tmp_path / "crosspost.db"
    db = Database(f"sqlite:///{path}")
    try:
        _meta.create_all(db.engine)
        lock = f"{path}-writelock"
        assert not _is_locked(lock)
        with db.write() as conn:
            conn.execute(counter.insert(), {"n": 0})
            assert _is_locked(lock)
        assert not _is_locked(lock)
        held: list[bool] = []

        def fail_inside() -> None:
            with db.write():
                held.append(_is_locked(lock))
                raise RuntimeError("rolled back")

        with pytest.raises(RuntimeError):
            fail_inside()
        assert held == [True]
        assert not _is_locked(lock)
        with db.read():
            assert not _is_locked(lock)  # readers never take it
    finally:
        db.dispose()


def _increment(url: str, times: int) -> None:
    db = Database(url)
    try:
        for _ in range(times):
            with db.write() as conn:
                current: int = conn.execute(sa.select(counter.c.n)).scalar_one()
                conn.execute(counter.update().values(n=current + 1))
    finally:
        db.dispose()


def test_processes_writing_one_file_lose_nothing(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'crosspost.db'}"
    db = Database(url)
    try:
        _meta.create_all(db.engine)
        with db.write() as conn:
            conn.execute(counter.insert(), {"n": 0})
        spawn = multiprocessing.get_context("spawn")
        workers = [spawn.Process(target=_increment, args=(url, 150)) for _ in range(3)]
        for worker in workers:
            worker.start()
        for worker in workers:
            worker.join(timeout=120)
        assert [w.exitcode for w in workers] == [0, 0, 0]
        with db.read() as conn:
            # Read, then write: lost updates would show if two writers overlapped.
            assert conn.execute(sa.select(counter.c.n)).scalar_one() == 450
    finally:
        db.dispose()


def test_the_wal_is_copied_into_the_database_beside_the_commits(tmp_path: Path) -> None:
    """Commits never checkpoint (that fsync stalled every ~50th request); a thread of the
    Database does, every second: the rows reach the database file itself, not only its WAL."""
    path = tmp_path / "crosspost.db"
    db = Database(f"sqlite:///{path}")
    blobs = sa.Table("wal_blobs", sa.MetaData(), sa.Column("data", sa.LargeBinary))
    try:
        blobs.create(db.engine)
        before = path.stat().st_size
        for _ in range(300):  # ~300 pages of WAL
            with db.write() as conn:
                conn.execute(blobs.insert(), {"data": os.urandom(4000)})
        wal = Path(f"{path}-wal")
        assert wal.stat().st_size > 300 * 4000  # written to the WAL by the commits
        deadline = time.monotonic() + 15
        while path.stat().st_size < before + 300 * 4000 and time.monotonic() < deadline:
            time.sleep(0.05)
        assert path.stat().st_size >= before + 300 * 4000
    finally:
        db.dispose()
