"""Wake-ups that follow a commit. `announce` in a write transaction; once it commits, the
subscribers of the channel in this process hear at once, and on PostgreSQL those of every
other process too (NOTIFY, heard by `listen`, the loop that also wakes the job runners).

A wake-up says only "look again": it carries topics (tenant ids) so a listener can ignore
what is not its own, never data, and a listener that (re)connects is woken for everything,
since what was sent while it was away is lost.
"""

from __future__ import annotations

import logging
import secrets
import threading
from collections.abc import Callable, Iterable, Mapping
from typing import Any

import psycopg
import sqlalchemy as sa
from sqlalchemy.engine import Connection

ALL = "*"  # a topic that concerns every subscriber
_PENDING = "crosspost_announced"  # conn.info key: what the open transaction announced
_MAX_PAYLOAD = 7000  # NOTIFY payloads stop at 8000 bytes
# This process, so its listener skips what it already heard when the transaction committed.
_ORIGIN = secrets.token_hex(8)

log = logging.getLogger("crosspost.store")

Subscriber = Callable[[frozenset[str]], None]


def announce(conn: Connection, channel: str, topics: Iterable[str]) -> None:
    """Wake `channel`'s subscribers about `topics` once the caller's transaction commits
    (nothing if it rolls back)."""
    wanted = set(topics)
    if not wanted:
        return
    pending: dict[str, set[str]] = conn.info.setdefault(_PENDING, {})
    pending.setdefault(channel, set()).update(wanted)
    if conn.dialect.name == "postgresql":
        text = ",".join(sorted(wanted))
        if len(text) > _MAX_PAYLOAD:
            text = ALL
        # Delivered at commit, and only if the transaction commits.
        conn.execute(sa.select(sa.func.pg_notify(channel, f"{_ORIGIN} {text}")))


def take_announced(info: dict[Any, Any]) -> dict[str, set[str]]:
    """What a transaction announced, forgotten from its connection's `info`."""
    found: dict[str, set[str]] = info.pop(_PENDING, None) or {}
    return found


def listen(
    dsn: str, channel: str, on_notify: Callable[[str | None], None], stop: threading.Event
) -> None:
    """Call `on_notify(payload)` for each NOTIFY on `channel` until `stop` is set, and
    `on_notify(None)` after each (re)connection. Reconnects after a connection failure."""
    while not stop.is_set():
        try:
            with psycopg.connect(dsn, autocommit=True) as conn:
                conn.execute(f"LISTEN {channel}")
                on_notify(None)
                while not stop.is_set():
                    # The timeout bounds how long a stop waits for this thread.
                    for note in conn.notifies(timeout=0.1, stop_after=1):
                        on_notify(note.payload)
        except psycopg.Error as exc:
            log.warning("listener on %s lost its connection, reconnecting: %s", channel, exc)
            stop.wait(1.0)


class Signals:
    """The subscribers of one database's channels in this process; on PostgreSQL a listener
    thread per channel brings in what other processes announce."""

    def __init__(self, dsn: str | None) -> None:
        self._dsn = dsn
        self._lock = threading.Lock()
        self._subscribers: dict[str, list[Subscriber]] = {}
        self._listeners: dict[str, threading.Thread] = {}
        self._stop = threading.Event()

    def subscribe(self, channel: str, subscriber: Subscriber) -> Callable[[], None]:
        """Call `subscriber(topics)` (from any thread) on each wake-up; returns the undo."""
        with self._lock:
            self._subscribers.setdefault(channel, []).append(subscriber)
            if self._dsn is not None and channel not in self._listeners:
                thread = threading.Thread(
                    target=self._listen, args=(channel,), name=f"listen:{channel}", daemon=True
                )
                self._listeners[channel] = thread
                thread.start()

        def unsubscribe() -> None:
            with self._lock:
                found = self._subscribers.get(channel, [])
                if subscriber in found:
                    found.remove(subscriber)

        return unsubscribe

    def fire(self, announced: Mapping[str, Iterable[str]]) -> None:
        """Wake the subscribers of each channel about its topics."""
        for channel, topics in announced.items():
            with self._lock:
                subscribers = list(self._subscribers.get(channel, ()))
            frozen = frozenset(topics)
            for subscriber in subscribers:
                try:
                    subscriber(frozen)
                except Exception:
                    log.exception("a subscriber of %s failed", channel)

    def close(self) -> None:
        """Stop the listener threads."""
        self._stop.set()
        with self._lock:
            threads = list(self._listeners.values())
            self._listeners.clear()
        for thread in threads:
            thread.join(5)

    def _listen(self, channel: str) -> None:
        assert self._dsn is not None

        def heard(payload: str | None) -> None:
            if payload is None:
                self.fire({channel: {ALL}})
                return
            origin, _, topics = payload.partition(" ")
            if origin != _ORIGIN:
                self.fire({channel: set(topics.split(","))})

        try:
            listen(self._dsn, channel, heard, self._stop)
        except Exception:
            log.exception("listener on %s stopped; subscribers fall back to polling", channel)
