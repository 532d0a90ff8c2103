"""Which platform fakes a sandbox uses: this home's own `crosspost sandbox`, or fakes started
here on a port nobody else holds — never fakes another crosspost started, whose tokens end
with that process (its targets would go `needs_reauth` the moment it stops)."""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import httpx

from crosspost.cli._home import SandboxRecord, read_record, read_sandbox_record
from crosspost.config import Settings

# Ports tried after a taken default before letting the system choose one.
_NEXT_PORTS = 50


class SandboxPortTaken(Exception):
    """The port asked for explicitly is held by another process."""


@dataclass
class Fakes:
    """The fakes a server talks to, and who runs them."""

    url: str
    pid: int
    # Run by this home's `crosspost sandbox` rather than by this process.
    shared: bool
    # The running server when this process owns the fakes (to stop it at the end), and
    # the instance name its `/healthz` answers with.
    server: Any = None
    instance: str | None = None
    # Why the port asked for was not used (said loudly), or None.
    moved: str | None = None

    @property
    def port(self) -> int:
        """The port the fakes listen on."""
        return int(urlsplit(self.url).port or 80)

    def owner(self) -> str:
        """Who runs the fakes, for the banner."""
        if self.shared:
            return f"shared with this home's `crosspost sandbox`, pid {self.pid}"
        return f"run by this server, pid {self.pid}"

    def settings(self, settings: Settings) -> Settings:
        """`settings` pointed at these fakes: every sandbox account, token and consent page
        then uses them (the platform URLs of test mode derive from these two)."""
        parts = urlsplit(self.url)
        return settings.model_copy(
            update={"sandbox_host": parts.hostname, "sandbox_port": self.port}
        )


def identify(url: str, timeout: float = 1.0) -> dict[str, Any] | None:
    """What `/healthz` at `url` says about the crosspost fakes there (instance, pid), or None
    when whatever listens there is something else or does not answer."""
    try:
        answer = httpx.get(f"{url}/healthz", timeout=timeout)
        data = answer.json()
    except (httpx.HTTPError, ValueError):
        return None
    return data if isinstance(data, dict) and data.get("service") == "crosspost-fakes" else None


def home_sandbox(settings: Settings) -> SandboxRecord | None:
    """This home's `crosspost sandbox`, when it runs and its fakes answer as themselves."""
    record = read_sandbox_record(settings.home)
    if record is None:
        return None
    found = identify(record.url)
    return record if found is not None and found.get("instance") == record.instance else None


Start = Callable[[int], tuple[Any, str]]


def claim_fakes(settings: Settings, start: Start, *, explicit: bool, share: bool = True) -> Fakes:
    """The fakes for a sandbox on `settings.home`: this home's `crosspost sandbox` when it
    runs (and `share`, and no other port was asked for); else fakes started by `start(port)`
    on the port asked for; when that port is held by another process, the next free port
    (saying so), or SandboxPortTaken when the port was asked for `explicit`ly."""
    host, wanted = settings.sandbox_host, settings.sandbox_port
    if share:
        record = home_sandbox(settings)
        if record is not None and (not explicit or urlsplit(record.url).port == wanted):
            return Fakes(record.url, record.pid, shared=True)
    try:
        return _start(start, wanted)
    except OSError:
        holder = _holder(host, wanted)
    if explicit:
        raise SandboxPortTaken(
            f"sandbox port {wanted} is held by {holder}; choose a free one with "
            "--sandbox-port (0: any free port) or leave it out to take the next free one"
        ) from None
    for port in [*range(wanted + 1, wanted + 1 + _NEXT_PORTS), 0]:
        try:
            fakes = _start(start, port)
        except OSError:
            continue
        fakes.moved = (
            f"sandbox port {wanted} is held by {holder}, not by this home; these fakes run "
            f"on {fakes.url} instead (choose with --sandbox-port)"
        )
        return fakes
    raise SandboxPortTaken("no free port for the sandbox fakes")  # pragma: no cover


def _start(start: Start, port: int) -> Fakes:
    server, instance = start(port)
    return Fakes(server.url, os.getpid(), shared=False, server=server, instance=instance)


def _holder(host: str, port: int) -> str:
    """Who holds a port, as far as can be told from outside."""
    shown = f"[{host}]" if ":" in host else host
    found = identify(f"http://{shown}:{port}")
    if found is None:
        return "another program"
    return f"the fakes of another crosspost (pid {found.get('pid', '?')})"


def home_fakes(settings: Settings) -> Settings:
    """For a process that serves no fakes itself (`crosspost worker`): the fakes of the
    server running on its home, unless a sandbox port was set explicitly."""
    if "sandbox_port" in settings.model_fields_set:
        return settings
    record = read_record(settings.home)
    if record is None or not record.running() or not record.fakes_url:
        return settings
    return Fakes(record.fakes_url, record.pid, shared=True).settings(settings)
