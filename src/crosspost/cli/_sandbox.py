"""Which platform fakes a sandbox uses: this home's own `crosspost sandbox`, or fakes started
here on a port nobody else holds — never fakes another crosspost started, whose tokens end
with that process (its targets would go `needs_reauth` the moment it stops)."""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from crosspost.cli._home import SandboxRecord, read_record, read_sandbox_record
from crosspost.cli._ports import claim_port, identify
from crosspost.config import Settings


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
    on the port asked for, or on the next free one when another process holds it (see
    `claim_port`: PortTaken when the port was asked for `explicit`ly)."""
    host, wanted = settings.sandbox_host, settings.sandbox_port
    if share:
        record = home_sandbox(settings)
        if record is not None and (not explicit or urlsplit(record.url).port == wanted):
            return Fakes(record.url, record.pid, shared=True)

    def started(port: int) -> Fakes:
        server, instance = start(port)
        return Fakes(server.url, os.getpid(), shared=False, server=server, instance=instance)

    fakes, held = claim_port(
        started,
        wanted,
        explicit=explicit,
        label="sandbox",
        flag="--sandbox-port (or CROSSPOST_SANDBOX_PORT)",
        host=host,
    )
    if held:
        fakes.moved = (
            f"{held}, not by this home; these fakes run on {fakes.url} instead "
            "(choose with --sandbox-port)"
        )
    return fakes


def home_fakes(settings: Settings) -> Settings:
    """For a process that serves no fakes itself (`crosspost worker`): the fakes of the
    server running on its home, unless a sandbox port was set explicitly."""
    if "sandbox_port" in settings.model_fields_set:
        return settings
    record = read_record(settings.home)
    if record is None or not record.running() or not record.fakes_url:
        return settings
    return Fakes(record.fakes_url, record.pid, shared=True).settings(settings)
