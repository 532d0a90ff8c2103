"""The CLI under test: typer's runner in-process, or the real command against a served
`crosspost serve --sandbox` process."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest


def free_port() -> int:
    """A port nothing listens on now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def clean_env(**extra: str) -> dict[str, str]:
    """This process's environment without any CROSSPOST_ setting, plus `extra`."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("CROSSPOST_")}
    env.pop("NO_COLOR", None)
    env.update(extra)
    return env


def run_cli(env: dict[str, str], *args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    """`crosspost ARGS` as a real process; its output captured (so not a terminal)."""
    return subprocess.run(
        [sys.executable, "-m", "crosspost", *args],
        env=env,
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


@dataclass
class Served:
    """A running `crosspost serve --sandbox`: its environment (no API URL or key in it),
    its URL, and where it ran."""

    env: dict[str, str]
    url: str
    cwd: Path


@pytest.fixture
def serve(tmp_path: Path) -> Iterator[Callable[..., Served]]:
    """Start `crosspost serve --sandbox` processes (environment given by the test) on free
    ports; all are stopped after the test."""
    procs: list[subprocess.Popen[bytes]] = []

    def start(env: dict[str, str], cwd: Path) -> Served:
        port = free_port()
        env = {
            **env,
            "CROSSPOST_PORT": str(port),
            "CROSSPOST_SANDBOX_PORT": str(free_port()),
            "CROSSPOST_SANDBOX_POLL_SECONDS": "0.1",
            "CROSSPOST_FAKE_PROCESSING_SECONDS": "0.05",
        }
        log = (tmp_path / f"serve-{port}.log").open("wb")
        proc = subprocess.Popen(
            [sys.executable, "-m", "crosspost", "serve", "--sandbox"],
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            cwd=cwd,
        )
        log.close()
        procs.append(proc)
        url = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 30
        while True:
            try:
                if httpx.get(f"{url}/readyz", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            if proc.poll() is not None or time.monotonic() > deadline:
                pytest.fail(f"server did not start: {(tmp_path / f'serve-{port}.log').read_text()}")
            time.sleep(0.1)
        return Served(env, url, cwd)

    yield start
    for proc in procs:
        proc.terminate()
        proc.wait(timeout=20)
