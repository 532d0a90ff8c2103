"""An event stream read on a thread of its own, so that whoever follows it can wait for the
next event and still keep its own time (a progress read, a timeout)."""

from __future__ import annotations

import queue
import threading
from collections.abc import Generator
from typing import Any

Event = dict[str, Any]


class BackgroundStream:
    """Iterates `events` (the SDK's `stream_events`) on a daemon thread; `next()` hands each
    event over, and raises whatever ended the stream."""

    def __init__(self, events: Generator[Event, None, None]) -> None:
        self._events = events
        self._queue: queue.SimpleQueue[Event | BaseException] = queue.SimpleQueue()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="crosspost-events", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        try:
            for event in self._events:
                if self._stop.is_set():
                    break
                self._queue.put(event)
        except BaseException as exc:  # handed to the reader, who raises it
            self._queue.put(exc)
        finally:
            self._events.close()

    def next(self, timeout: float) -> Event | None:
        """The next event within `timeout` seconds, else None."""
        try:
            item = self._queue.get(timeout=max(0.0, timeout))
        except queue.Empty:
            return None
        if isinstance(item, BaseException):
            raise item
        return item

    def close(self) -> None:
        """Stop handing events over; the thread ends with its next event, or with the process
        (a blocked read cannot be interrupted from another thread)."""
        self._stop.set()
