"""Flags evaluated in-process from a snapshot held in memory, reloaded when they change.

A background thread checks the flags' version (one primary-key read) every `poll_seconds`
and reloads them when it moved. A change wakes it sooner: at once for a change made through
this process's `Database`, and on PostgreSQL for every process through LISTEN on the
channel the change NOTIFYs in its own transaction. Either way a kill (or any change) takes
effect here at most `poll_seconds` plus one reload after it commits.

Evaluation reads the current snapshot, which a reload replaces whole (one reference swap):
no lock and no I/O on the read path.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from types import TracebackType

from crosspost.flags.rules import Decision, Flag, absent, evaluate
from crosspost.store import flags as store
from crosspost.store import signals
from crosspost.store.db import Database

log = logging.getLogger("crosspost.flags")

ChangeListener = Callable[[frozenset[str]], None]


@dataclass(frozen=True)
class Snapshot:
    """The flags at one version; never changed once made (a reload makes a new one). A
    plain dict behind `Mapping`: a read-only proxy would slow every look-up."""

    version: int
    flags: Mapping[str, Flag]


_EMPTY = Snapshot(-1, {})  # before the first load: nothing is stored


class FlagCache:
    """This process's view of the flags: `evaluate` and `is_on` answer from memory; `start`
    loads them and keeps them fresh (within `poll_seconds`, default 1 s), `close` stops."""

    def __init__(self, db: Database, *, poll_seconds: float = 1.0) -> None:
        self._db = db
        self._poll_seconds = poll_seconds
        self._snapshot = _EMPTY
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._reload_lock = threading.Lock()  # one reload at a time; readers never take it
        self._threads: list[threading.Thread] = []
        self._unsubscribe: Callable[[], None] | None = None
        self._listeners: list[ChangeListener] = []

    @property
    def snapshot(self) -> Snapshot:
        """The flags as this process sees them now."""
        return self._snapshot

    @property
    def version(self) -> int:
        """The version of the snapshot (-1 before the first load)."""
        return self._snapshot.version

    def evaluate(self, key: str, tenant_id: str | None, default: bool = False) -> Decision:
        """Whether flag `key` is on for `tenant_id`, and why. A flag not stored answers on
        if the code registers it (`KNOWN_FLAGS`), else `default`."""
        flag = self._snapshot.flags.get(key)
        if flag is None:
            return absent(key, default)
        return evaluate(flag, tenant_id)

    def is_on(self, key: str, tenant_id: str | None, default: bool = False) -> bool:
        """Whether flag `key` is on for `tenant_id` (see `evaluate`)."""
        return self.evaluate(key, tenant_id, default).on

    def on_change(self, listener: ChangeListener) -> None:
        """Call `listener(keys that changed)` after each reload that changed something (from
        the refreshing thread)."""
        self._listeners.append(listener)

    def start(self) -> FlagCache:
        """Load the flags (a failure raises: the caller decides whether to run without
        them), then keep them fresh in the background. Returns the cache."""
        if self._threads:
            return self
        self.refresh()
        self._stop.clear()  # a closed cache may start again (a provider set anew)
        if self._db.dialect == "postgresql":
            self._spawn(self._listen, "flags-listen")
        else:
            # SQLite has no NOTIFY: changes made by this process wake the poller; those of
            # other processes are found by polling.
            self._unsubscribe = self._db.signals.subscribe(store.CHANNEL, self._woken)
        self._spawn(self._poll, "flags-poll")
        return self

    def close(self) -> None:
        """Stop refreshing; the last snapshot keeps answering."""
        self._stop.set()
        self._wake.set()
        if self._unsubscribe is not None:
            self._unsubscribe()
            self._unsubscribe = None
        for thread in self._threads:
            thread.join(5)
        self._threads.clear()

    def __enter__(self) -> FlagCache:
        return self.start()

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()

    def refresh(self) -> bool:
        """Reload the flags if their version moved since the snapshot; True if it did."""
        with self._reload_lock:
            with self._db.read() as conn:
                if store.current_version(conn) == self._snapshot.version:
                    return False
                version, rows = store.load(conn)
            old = self._snapshot
            flags = {row["key"]: Flag.from_row(row) for row in rows}
            self._snapshot = Snapshot(version, flags)
        changed = frozenset(
            key for key in old.flags.keys() | flags.keys() if old.flags.get(key) != flags.get(key)
        )
        if changed:
            for listener in list(self._listeners):
                try:
                    listener(changed)
                except Exception:
                    log.exception("a flag change listener failed")
        return True

    def _spawn(self, target: Callable[[], None], name: str) -> None:
        thread = threading.Thread(target=target, name=name, daemon=True)
        self._threads.append(thread)
        thread.start()

    def _woken(self, _topics: frozenset[str] | str | None) -> None:
        self._wake.set()

    def _poll(self) -> None:
        while not self._stop.is_set():
            self._wake.wait(self._poll_seconds)
            self._wake.clear()
            if self._stop.is_set():
                return
            try:
                self.refresh()
            except Exception as exc:
                # Keep answering from the last snapshot; the next poll tries again.
                log.warning("flags: reload failed, keeping version %s: %s", self.version, exc)

    def _listen(self) -> None:
        # Its own connection of the plain driver, as the job runners' listener: the pool's
        # connections are for transactions. A (re)connection wakes the poller too, since
        # what was sent while disconnected is lost.
        url = self._db.engine.url.set(drivername="postgresql")
        dsn = url.render_as_string(hide_password=False)
        try:
            signals.listen(dsn, store.CHANNEL, self._woken, self._stop)
        except Exception:
            log.exception("flags: listener stopped; changes are found by polling")
