"""Which processes run on a home: `serve` leaves `server.json` there (the other commands read
it to find the API, the mode it runs in, and whether it is running at all); `crosspost
sandbox` leaves `sandbox.json`, so that a `serve --sandbox` on the same home shares its fakes
and nobody else's."""

from __future__ import annotations

import json
import os
import secrets
import socket
from dataclasses import asdict, dataclass
from pathlib import Path

RECORD = "server.json"
SANDBOX_RECORD = "sandbox.json"


def alive(pid: int, hostname: str) -> bool:
    """Whether process `pid` of `hostname` is alive (on another machine: unknown, so taken
    as alive)."""
    if hostname != socket.gethostname():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # alive, owned by another user
        return True
    return True


@dataclass(frozen=True)
class ServerRecord:
    """What the last `crosspost serve` on a home said about itself."""

    pid: int
    hostname: str
    api_url: str
    sandbox: bool
    fakes_url: str | None

    def running(self) -> bool:
        """Whether that process is still alive (a process on another machine: unknown, so
        taken as running)."""
        return alive(self.pid, self.hostname)


def _write(home: Path, name: str, record: ServerRecord | SandboxRecord) -> None:
    home.mkdir(parents=True, exist_ok=True)
    partial = home / (name + ".part")
    partial.write_text(json.dumps(asdict(record)))
    partial.replace(home / name)


def write_record(home: Path, *, api_url: str, sandbox: bool, fakes_url: str | None) -> None:
    """Record this process as the server of `home` (replacing an earlier record)."""
    record = ServerRecord(os.getpid(), socket.gethostname(), api_url, sandbox, fakes_url)
    _write(home, RECORD, record)


def read_record(home: Path) -> ServerRecord | None:
    """The last server's record on `home`, or None when none was ever started there."""
    try:
        data = json.loads((home / RECORD).read_text())
        return ServerRecord(
            pid=int(data["pid"]),
            hostname=str(data["hostname"]),
            api_url=str(data["api_url"]),
            sandbox=bool(data["sandbox"]),
            fakes_url=data.get("fakes_url"),
        )
    except (OSError, ValueError, KeyError, TypeError):
        return None


def running_server(home: Path) -> ServerRecord | None:
    """The record of the server running on `home` now, if any."""
    record = read_record(home)
    return record if record is not None and record.running() else None


@dataclass(frozen=True)
class SandboxRecord:
    """What the `crosspost sandbox` of a home said about itself: its process and the fakes'
    URL and instance (which their `/healthz` repeats, so a stale record is never believed)."""

    pid: int
    hostname: str
    url: str
    instance: str


def write_sandbox_record(home: Path, *, url: str, instance: str) -> None:
    """Record this process's fakes as the sandbox of `home`."""
    _write(home, SANDBOX_RECORD, SandboxRecord(os.getpid(), socket.gethostname(), url, instance))


def read_sandbox_record(home: Path) -> SandboxRecord | None:
    """The sandbox record of `home` whose process is alive, if any."""
    try:
        data = json.loads((home / SANDBOX_RECORD).read_text())
        record = SandboxRecord(
            pid=int(data["pid"]),
            hostname=str(data["hostname"]),
            url=str(data["url"]),
            instance=str(data["instance"]),
        )
    except (OSError, ValueError, KeyError, TypeError):
        return None
    return record if alive(record.pid, record.hostname) else None


def remove_sandbox_record(home: Path, instance: str) -> None:
    """Forget the sandbox of `home` when it is still the one named `instance`."""
    record = read_sandbox_record(home)
    if record is not None and record.instance == instance:
        (home / SANDBOX_RECORD).unlink(missing_ok=True)


PASSWORD_FILE = "sandbox-password"  # noqa: S105 - a file name, not a password


def sandbox_password(home: Path) -> str:
    """The dashboard password of the home's sandbox owner: made once, kept (owner-only) so
    that every `serve --sandbox` prints the same one."""
    path = home / PASSWORD_FILE
    try:
        kept = path.read_text().strip()
    except FileNotFoundError:
        kept = ""
    if len(kept) >= 12:
        return kept
    home.mkdir(parents=True, exist_ok=True)
    made = secrets.token_urlsafe(12)
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(descriptor, "w") as file:
        file.write(made + "\n")
    return made
