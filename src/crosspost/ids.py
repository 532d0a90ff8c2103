"""Prefixed, time-ordered identifiers (ULID layout: 48-bit ms time + 80 random bits)."""

from __future__ import annotations

import secrets
import threading
import time

_CROCKFORD = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
_lock = threading.Lock()
_last = (0, 0)


def new_id(prefix: str) -> str:
    """A new id such as ``post_01JD3...``.

    Ids sort by creation time, and within one process strictly increase (the random part
    is incremented inside one millisecond), which cursors and the ledger's order rely on.
    """
    global _last  # noqa: PLW0603 - the monotonic state is process-wide by design
    with _lock:
        ms = int(time.time() * 1000)
        last_ms, last_rand = _last
        rand = last_rand + 1 if ms <= last_ms else secrets.randbits(80)
        ms = max(ms, last_ms)
        _last = (ms, rand)
    value = (ms << 80) | (rand & ((1 << 80) - 1))
    chars = []
    for _ in range(26):
        chars.append(_CROCKFORD[value & 31])
        value >>= 5
    return f"{prefix}_{''.join(reversed(chars))}"
