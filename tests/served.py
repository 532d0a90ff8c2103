"""`crosspost serve --sandbox` as a real process, and the real `crosspost` command against
it: what the CLI and end-to-end tests share (the `serve` fixture in tests/conftest.py)."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest


def clean_env(**extra: str) -> dict[str, str]:
    """This process's environment without any CROSSPOST_ setting, plus `extra`."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("CROSSPOST_")}
    env.pop("NO_COLOR", None)
    env.update(extra)
    return env


def run_cli(
    env: dict[str, str], *args: str, cwd: Path, timeout: float = 120
) -> subprocess.CompletedProcess[str]:
    """`crosspost ARGS` as a real process; its output captured (so not a terminal)."""
    return subprocess.run(
        [sys.executable, "-m", "crosspost", *args],
        env=env,
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


@dataclass
class Served:
    """A running `crosspost serve --sandbox`: its environment (no API URL or key in it),
    its URL, where it ran, its banner (`--json`) and what it wrote on stderr."""

    env: dict[str, str]
    url: str
    cwd: Path
    banner: dict[str, Any] = field(default_factory=dict)
    stderr_path: Path | None = None
    proc: subprocess.Popen[bytes] | None = None

    def stop(self) -> None:
        """Stop this server (SIGTERM, as Ctrl-C would) and wait for it to exit."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            self.proc.wait(timeout=20)

    @property
    def fakes_url(self) -> str:
        """Where its platform fakes listen."""
        return str(self.banner["sandbox_fakes_url"])

    @property
    def stderr(self) -> str:
        """What the server wrote on stderr so far."""
        return self.stderr_path.read_text() if self.stderr_path else ""

    def fake(self, platform: str, path: str, **kwargs: Any) -> Any:
        """Call a fake's control endpoint (POST with `json`, else GET)."""
        method = "POST" if "json" in kwargs else "GET"
        answer = httpx.request(method, f"{self.fakes_url}/{platform}/_fake/{path}", **kwargs)
        answer.raise_for_status()
        return answer.json()


class Servers:
    """Starts `crosspost serve --sandbox` processes; stops them all at the end."""

    def __init__(self, logs: Path) -> None:
        self.logs = logs
        self.procs: list[subprocess.Popen[bytes]] = []

    def __call__(
        self,
        env: dict[str, str],
        cwd: Path,
        *args: str,
        default_fakes_port: bool = False,
        default_port: bool = False,
    ) -> Served:
        """Start one with `env` in `cwd`: quick fake processing and, unless `args` or `env`
        say otherwise (or `default_port` / `default_fakes_port`: as a user would), the API
        and the fakes on any free ports; return once it is ready."""
        env = {
            "CROSSPOST_SANDBOX_POLL_SECONDS": "0.1",
            "CROSSPOST_FAKE_PROCESSING_SECONDS": "0.05",
            **env,
        }
        if not default_port and "--port" not in args:
            env.setdefault("CROSSPOST_PORT", "0")  # the banner says which: no race to bind
        chosen = "--sandbox-port" in args or "CROSSPOST_SANDBOX_PORT" in env
        if not chosen and not default_fakes_port:
            args = (*args, "--sandbox-port", "0")
        name = f"serve-{len(self.procs)}"
        out, err = self.logs / f"{name}.out", self.logs / f"{name}.err"
        with out.open("wb") as stdout, err.open("wb") as stderr:
            proc = subprocess.Popen(
                [sys.executable, "-m", "crosspost", "serve", "--sandbox", "--json", *args],
                env=env,
                stdout=stdout,
                stderr=stderr,
                cwd=cwd,
            )
        self.procs.append(proc)
        deadline = time.monotonic() + 60
        banner: dict[str, Any] | None = None
        while True:
            try:
                # The banner is printed once the API's port is held, before it answers.
                banner = banner or json.loads(out.read_text())
                if httpx.get(f"{banner['api_url']}/readyz", timeout=1).status_code == 200:
                    break
            except (ValueError, httpx.TransportError):
                pass
            if proc.poll() is not None or time.monotonic() > deadline:
                pytest.fail(f"server did not start: {out.read_text()}{err.read_text()}")
            time.sleep(0.1)
        return Served(env, str(banner["api_url"]), cwd, banner, err, proc)

    def stop(self) -> None:
        """Stop every server started (SIGTERM, as Ctrl-C would)."""
        for proc in self.procs:
            proc.terminate()
        for proc in self.procs:
            proc.wait(timeout=20)


@contextmanager
def servers(logs: Path) -> Iterator[Servers]:
    """A `Servers` whose processes are stopped on leaving."""
    started = Servers(logs)
    try:
        yield started
    finally:
        started.stop()


@contextmanager
def port_held(port: int) -> Iterator[None]:
    """`port` held by something that is not a crosspost of the test: a bare listener of
    this process, or whatever already holds it on this machine."""
    sock = socket.socket()
    try:
        sock.bind(("127.0.0.1", port))
        sock.listen()
    except OSError:
        pass  # held already, by another process: foreign all the same
    try:
        yield
    finally:
        sock.close()
