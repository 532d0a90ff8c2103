"""One way for each listener of `crosspost serve` (the API, the sandbox fakes) to take its
port: the port asked for; when another process holds it and it was not asked for explicitly,
the next free one, said loudly; when it was asked for explicitly, a refusal naming the holder.
A second crosspost on one machine then neither fails nor talks to the first one's servers."""

from __future__ import annotations

import errno
from collections.abc import Callable
from typing import Any, TypeVar

import httpx

T = TypeVar("T")

# Ports tried after a taken one before letting the system choose.
NEXT_PORTS = 50


class PortTaken(Exception):
    """The port asked for explicitly is held by another process (or none could be had)."""


def claim_port(
    start: Callable[[int], T], wanted: int, *, explicit: bool, label: str, flag: str, host: str
) -> tuple[T, str | None]:
    """`start(wanted)`, or, when another process holds `wanted` and it was not `explicit`,
    `start` on the next free port; with why the port asked for was not used (None: it was).
    `start` raises OSError when the port cannot be had. An explicit port that is held raises
    PortTaken saying whose it is and what to do; so does a port that cannot be had at all."""
    try:
        return start(wanted), None
    except OSError as err:
        if err.errno != errno.EADDRINUSE:
            raise PortTaken(f"cannot listen on {label} port {wanted}: {err.strerror}") from None
    held = f"{label} port {wanted} is held by {holder(host, wanted)}"
    if explicit:
        raise PortTaken(
            f"{held}; choose a free one with {flag} (0: any free port) or leave it out to take "
            "the next free one"
        )
    for port in [*range(wanted + 1, wanted + 1 + NEXT_PORTS), 0]:
        try:
            return start(port), held
        except OSError:
            continue
    raise PortTaken(f"{held}, and no other port is free")  # pragma: no cover


def identify(url: str, timeout: float = 1.0) -> dict[str, Any] | None:
    """What `/healthz` at `url` says when a crosspost process answers there (its `service`,
    and for fakes their instance and pid), or None when something else or nothing does."""
    try:
        data = httpx.get(f"{url}/healthz", timeout=timeout).json()
    except (httpx.HTTPError, ValueError):
        return None
    service = data.get("service") if isinstance(data, dict) else None
    return data if service in ("crosspost", "crosspost-fakes") else None


def holder(host: str, port: int) -> str:
    """Who holds a port, as far as can be told from outside."""
    shown = f"[{host}]" if ":" in host else host
    found = identify(f"http://{shown}:{port}")
    if found is None:
        return "another program"
    if found["service"] == "crosspost-fakes":
        return f"the fakes of another crosspost (pid {found.get('pid', '?')})"
    return "the API of another crosspost"
