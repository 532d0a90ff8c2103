"""The event streams open in this process: each waits for its tenant's feed to grow, woken
by the same after-commit signal the fan-out sends (`crosspost.store.signals`: in-process at
once, LISTEN/NOTIFY across processes on PostgreSQL), and all of them end when the server
shuts down (`ApiServer`), which uvicorn would otherwise wait on for ever.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

import uvicorn

from crosspost.store.signals import ALL, Signals
from crosspost.webhooks.fanout import EVENTS_CHANNEL


@dataclass(eq=False)
class Waiter:
    """One open stream: set when its feed may have grown or the server is closing."""

    tenant_id: str
    loop: asyncio.AbstractEventLoop
    event: asyncio.Event = field(default_factory=asyncio.Event)

    async def wait(self, seconds: float) -> None:
        """Return once woken, or after `seconds` (a look that costs one indexed query, in case
        a wake-up was lost: a listener reconnecting, a dispatcher in another SQLite process)."""
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self.event.wait(), seconds)
        self.event.clear()


class EventStreams:
    """Every open stream of this process, by tenant."""

    def __init__(self, signals: Signals) -> None:
        self._signals = signals
        self._lock = threading.Lock()
        self._waiters: dict[str, set[Waiter]] = {}
        self._unsubscribe: Callable[[], None] | None = None
        self.closed = False

    @property
    def open_count(self) -> int:
        """How many streams are open (none may outlive its client)."""
        with self._lock:
            return sum(len(waiters) for waiters in self._waiters.values())

    @contextlib.contextmanager
    def opened(self, tenant_id: str) -> Iterator[Waiter]:
        """Register a stream for as long as the block runs (call on the event loop)."""
        waiter = Waiter(tenant_id, asyncio.get_running_loop())
        with self._lock:
            if self._unsubscribe is None:
                # The first stream starts listening (on PostgreSQL: a LISTEN connection).
                self._unsubscribe = self._signals.subscribe(EVENTS_CHANNEL, self._ring)
            self._waiters.setdefault(tenant_id, set()).add(waiter)
        try:
            yield waiter
        finally:
            with self._lock:
                waiters = self._waiters.get(tenant_id, set())
                waiters.discard(waiter)
                if not waiters:
                    self._waiters.pop(tenant_id, None)

    def close(self) -> None:
        """End every stream (safe from any thread); streams opened later end at once."""
        self.closed = True
        self._ring(frozenset({ALL}))

    def _ring(self, tenants: frozenset[str]) -> None:
        with self._lock:
            if ALL in tenants:
                woken = [w for waiters in self._waiters.values() for w in waiters]
            else:
                woken = [w for t in tenants for w in self._waiters.get(t, ())]
        for waiter in woken:
            with contextlib.suppress(RuntimeError):  # its loop has just closed
                waiter.loop.call_soon_threadsafe(waiter.event.set)


class ApiServer(uvicorn.Server):
    """uvicorn's server, ending the API's event streams first when it shuts down (it
    otherwise waits for every open response to finish, and a stream never does by itself).
    Serve the API with it: `ApiServer(uvicorn.Config(app, …)).run()`."""

    async def shutdown(self, sockets: list[socket.socket] | None = None) -> None:
        """End the streams, then shut down as uvicorn does."""
        app = self.config.app
        streams = getattr(getattr(app, "state", None), "event_streams", None)
        if isinstance(streams, EventStreams):
            streams.close()
        await super().shutdown(sockets)
