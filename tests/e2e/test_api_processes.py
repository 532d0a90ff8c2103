"""`serve --api-processes N`: N processes answer on one port, every request lands once, and
the extra processes never outlive `serve`, even when it is killed."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pytest

from tests.conftest import REDIS_ENV, service_url
from tests.served import Servers, clean_env, run_cli

pytestmark = pytest.mark.slow


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    # A zombie (exited, not yet reaped by its parent) is gone for our purposes.
    stat = Path(f"/proc/{pid}/stat")
    return not (stat.exists() and stat.read_text().split(") ")[-1].startswith("Z"))


def _wait_gone(pids: list[int], seconds: float) -> list[int]:
    deadline = time.monotonic() + seconds
    while (left := [p for p in pids if _alive(p)]) and time.monotonic() < deadline:
        time.sleep(0.05)
    return left


def test_two_api_processes_share_the_port_and_stop_with_serve(
    serve: Servers, tmp_path: Path, database_url: str
) -> None:
    env = clean_env(
        CROSSPOST_HOME=str(tmp_path / "home"),
        CROSSPOST_DATABASE_URL=database_url,
        CROSSPOST_REDIS_URL=service_url(REDIS_ENV),
    )
    served = serve(env, tmp_path, "--api-processes", "2")
    pids = served.banner["api_pids"]
    assert served.banner["api_processes"] == 2 and len(set(pids)) == 2
    assert all(_alive(pid) for pid in pids)
    made = run_cli({**served.env, "CROSSPOST_API_URL": served.url}, "keys", "create",
                   "--name", "procs", cwd=tmp_path)  # fmt: skip
    assert made.returncode == 0, made.stderr
    key = made.stdout.strip()

    def create(n: int) -> int:
        # A connection per request: the kernel spreads new connections over the processes.
        answer = httpx.post(
            f"{served.url}/v1/posts",
            json={"text": f"from process pool {n % 30}", "targets": ["x"]},
            headers={"Authorization": f"Bearer {key}", "Idempotency-Key": f"k-{n % 30}"},
            timeout=30,
        )
        return answer.status_code

    with ThreadPoolExecutor(8) as pool:
        statuses = list(pool.map(create, range(60)))
    # 30 keys, each sent twice: replays answer the first response, whichever process holds it.
    assert set(statuses) == {201}, statuses
    listed = httpx.get(
        f"{served.url}/v1/posts?limit=100", headers={"Authorization": f"Bearer {key}"}, timeout=30
    ).json()["data"]
    assert len(listed) == 30

    assert served.proc is not None
    served.proc.send_signal(signal.SIGKILL)  # no chance to stop its children itself
    served.proc.wait(timeout=20)
    assert _wait_gone(pids, 15) == []


def test_more_than_one_api_process_needs_redis(tmp_path: Path) -> None:
    env = clean_env(CROSSPOST_HOME=str(tmp_path / "home"))
    ran = subprocess.run(
        [sys.executable, "-m", "crosspost", "serve", "--api-processes", "2", "--port", "0"],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert ran.returncode == 2, ran.stderr
    assert "needs CROSSPOST_REDIS_URL" in ran.stderr
