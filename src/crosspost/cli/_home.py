"""Which server runs on a home: `serve` leaves `server.json` there; the other commands read
it to find the API, the mode it runs in, and whether it is running at all."""

from __future__ import annotations

import json
import os
import socket
from dataclasses import asdict, dataclass
from pathlib import Path

RECORD = "server.json"


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
        if self.hostname != socket.gethostname():
            return True
        try:
            os.kill(self.pid, 0)
        except ProcessLookupError:
            return False
        except PermissionError:  # alive, owned by another user
            return True
        return True


def write_record(home: Path, *, api_url: str, sandbox: bool, fakes_url: str | None) -> None:
    """Record this process as the server of `home` (replacing an earlier record)."""
    record = ServerRecord(os.getpid(), socket.gethostname(), api_url, sandbox, fakes_url)
    home.mkdir(parents=True, exist_ok=True)
    partial = home / (RECORD + ".part")
    partial.write_text(json.dumps(asdict(record)))
    partial.replace(home / RECORD)


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
