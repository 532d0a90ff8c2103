"""Database engine and transactions for SQLite (WAL) and PostgreSQL (psycopg 3)."""

from __future__ import annotations

import asyncio
import fcntl
import functools
import os
import threading
import weakref
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, ParamSpec, TypeVar

import anyio.to_thread
import sqlalchemy as sa
from sqlalchemy import event
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.engine.url import make_url

from crosspost.store.signals import Signals, take_announced

_IMMEDIATE = "crosspost_immediate"
_ANALYSIS_ROWS = 1000  # rows ANALYZE reads of each index: enough to rank the plans
_P = ParamSpec("_P")
_T = TypeVar("_T")


def normalise_url(url: str) -> str:
    """Pin PostgreSQL URLs to psycopg 3 whatever driver the user named."""
    parsed = make_url(url)
    if parsed.get_backend_name() == "postgresql":
        parsed = parsed.set(drivername="postgresql+psycopg")
    return parsed.render_as_string(hide_password=False)


class Database:
    """One engine plus the two kinds of transaction the code needs: read and write."""

    def __init__(
        self, url: str, *, pool_size: int = 10, echo: bool = False, run_threads: int = 4
    ) -> None:
        self.url = normalise_url(url)
        parsed = make_url(self.url)
        self.dialect = parsed.get_backend_name()
        # hide_parameters: a failed statement's error (and echo) never quotes bound values,
        # which include sealed secrets and key hashes.
        kwargs: dict[str, Any] = {"echo": echo, "future": True, "hide_parameters": True}
        if self.dialect == "sqlite":
            if parsed.database and parsed.database != ":memory:":
                Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
            kwargs["connect_args"] = {"check_same_thread": False, "timeout": 30}
            kwargs["pool_size"] = pool_size
            kwargs["max_overflow"] = pool_size
        else:
            kwargs["pool_size"] = pool_size
            kwargs["max_overflow"] = pool_size
            # No pre-ping: it costs a round trip per transaction; recycle stale connections.
            kwargs["pool_recycle"] = 1800
        self.engine: Engine = sa.create_engine(self.url, **kwargs)
        # SQLite admits one writer at a time; its busy handler waits by sleeping (up to 100 ms
        # per try), so writers queue on locks instead and wake at once: threads of this process
        # on a lock, processes sharing the file (API processes, `crosspost worker`) on an
        # advisory lock of a file beside it.
        self._write_lock = threading.Lock() if self.dialect == "sqlite" else None
        self._file_lock = _FileLock(f"{parsed.database}-writelock") if _on_disk(parsed) else None
        self._checkpointer = _Checkpointer(self.engine) if _on_disk(parsed) else None
        if self.dialect == "sqlite":
            _configure_sqlite(self.engine)
        # On PostgreSQL other processes' announcements come in by LISTEN, on a connection of
        # the plain driver (SQLAlchemy's URL names psycopg's dialect).
        listen_dsn = (
            parsed.set(drivername="postgresql").render_as_string(hide_password=False)
            if self.dialect == "postgresql"
            else None
        )
        self.signals = Signals(listen_dsn)
        self.run_threads = run_threads
        # One limiter per event loop: anyio's are bound to the loop that first waits on them.
        self._limiters: weakref.WeakKeyDictionary[Any, anyio.CapacityLimiter] = (
            weakref.WeakKeyDictionary()
        )

    @property
    def is_sqlite(self) -> bool:
        """True on the embedded backend."""
        return self.dialect == "sqlite"

    @contextmanager
    def write(self) -> Iterator[Connection]:
        """A transaction that will write; on SQLite it takes the write lock up front.

        Taking the lock at BEGIN (not at the first write) is what keeps SQLite from failing
        with "database is locked" when two readers both try to upgrade.
        """
        with self._locked(), self.engine.connect() as raw:
            conn = raw.execution_options(**{_IMMEDIATE: True})
            take_announced(raw.info)  # left over by a transaction that failed mid-way
            try:
                with conn.begin():
                    yield conn
            finally:
                announced = take_announced(raw.info)
        # Reached only after a commit: a rolled-back transaction announces nothing.
        if announced:
            self.signals.fire(announced)

    def refresh_statistics(self) -> None:
        """Tell SQLite's planner how the tables' rows spread (it keeps no statistics until
        asked, and without them picks a filter's index over the one that serves the order
        of a page); sampled, so quick. PostgreSQL's autovacuum does this by itself."""
        if not self.is_sqlite:
            return
        with self.write() as conn:
            conn.exec_driver_sql(f"PRAGMA analysis_limit={_ANALYSIS_ROWS}")
            conn.exec_driver_sql("ANALYZE")

    @contextmanager
    def _locked(self) -> Iterator[None]:
        if self._write_lock is None:
            yield
            return
        with self._write_lock:
            if self._file_lock is None:
                yield
                return
            if self._checkpointer is not None:
                self._checkpointer.start()  # once: read-only users never start it
            with self._file_lock:
                yield

    @contextmanager
    def read(self) -> Iterator[Connection]:
        """A read-only transaction."""
        with self.engine.connect() as conn, conn.begin():
            yield conn

    async def run(self, fn: Callable[_P, _T], *args: _P.args, **kwargs: _P.kwargs) -> _T:
        """Run blocking database work from async code.

        On SQLite the work runs inline: its statements take microseconds, and a hop to a
        worker thread (plus the GIL hand-back) costs several times more than the work. On
        PostgreSQL, network round trips must not stall the event loop, so it runs in a thread,
        at most `run_threads` at once: more threads than that only take turns at the GIL
        (at 16 concurrent creates, 40 threads cost 5.1 ms of CPU a request, 4 cost 3.5).
        """
        if self.is_sqlite:
            return fn(*args, **kwargs)
        loop = asyncio.get_running_loop()
        limiter = self._limiters.get(loop)
        if limiter is None:
            limiter = self._limiters.setdefault(loop, anyio.CapacityLimiter(self.run_threads))
        return await anyio.to_thread.run_sync(
            functools.partial(fn, *args, **kwargs), limiter=limiter
        )

    def dispose(self) -> None:
        """Stop listening and close every pooled connection."""
        self.signals.close()
        if self._checkpointer is not None:
            self._checkpointer.stop()
        self.engine.dispose()
        if self._file_lock is not None:
            self._file_lock.close()


def _on_disk(url: sa.URL) -> bool:
    return url.get_backend_name() == "sqlite" and url.database not in (None, "", ":memory:")


class _Checkpointer:
    """Copies the WAL into the database file every second, in a thread of its own.

    SQLite's automatic checkpoint runs inside the commit that crosses 1,000 WAL pages, fsync
    included: every ~50th create paid for it (on SQLite the API commits on its event loop).
    A passive checkpoint never waits for, nor blocks, readers and writers; what it cannot
    copy yet, the next one does.
    """

    def __init__(self, engine: Engine, every: float = 1.0) -> None:
        self._engine = engine
        self._every = every
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._guard = threading.Lock()

    def start(self) -> None:
        """Start the thread unless it runs (cheap to call on every write)."""
        if self._thread is not None:
            return
        with self._guard:
            if self._thread is None and not self._stop.is_set():
                self._thread = threading.Thread(
                    target=self._run, name="sqlite-checkpoint", daemon=True
                )
                self._thread.start()

    def _run(self) -> None:
        while not self._stop.wait(self._every):
            self.checkpoint()

    def checkpoint(self) -> None:
        """One passive checkpoint; a failure (a busy or vanished file) waits for the next."""
        try:
            raw = self._engine.raw_connection()
            try:
                # Outside any transaction (the connection runs in autocommit mode), which a
                # checkpoint needs to copy the newest frames.
                raw.cursor().execute("PRAGMA wal_checkpoint(PASSIVE)")
            finally:
                raw.close()
        except Exception:  # the next second tries again; nothing is lost
            return

    def stop(self) -> None:
        """Stop the thread, after one last checkpoint."""
        with self._guard:
            self._stop.set()
            thread, self._thread = self._thread, None
        if thread is not None:
            thread.join()
            self.checkpoint()


class _FileLock:
    """An exclusive `flock` on a file, taken by one thread of the process at a time (the
    caller holds the process's lock). The kernel wakes the next waiter at release."""

    def __init__(self, path: str) -> None:
        self._fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)

    def __enter__(self) -> None:
        fcntl.flock(self._fd, fcntl.LOCK_EX)

    def __exit__(self, *_: object) -> None:
        fcntl.flock(self._fd, fcntl.LOCK_UN)

    def close(self) -> None:
        """Release the file (and any lock on it)."""
        if self._fd >= 0:
            os.close(self._fd)
            self._fd = -1


def _configure_sqlite(engine: Engine) -> None:
    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_conn: Any, _record: Any) -> None:
        # Let SQLAlchemy's begin event, not pysqlite, decide how transactions start.
        dbapi_conn.isolation_level = None
        cur = dbapi_conn.cursor()
        cur.execute("PRAGMA journal_mode=WAL")
        cur.execute("PRAGMA synchronous=NORMAL")
        cur.execute("PRAGMA foreign_keys=ON")
        cur.execute("PRAGMA busy_timeout=30000")
        # Commits never checkpoint: `_Checkpointer` does it beside them.
        cur.execute("PRAGMA wal_autocheckpoint=0")
        cur.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn: Connection) -> None:
        immediate = conn.get_execution_options().get(_IMMEDIATE, False)
        conn.exec_driver_sql("BEGIN IMMEDIATE" if immediate else "BEGIN")
