"""A real 500 in a real `crosspost serve` process leaves no secret and no local in its logs."""

from __future__ import annotations

import base64
import json
import os
import secrets
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import httpx
import pytest
import sqlalchemy as sa

from crosspost.fakes.server import free_port
from crosspost.store.db import normalise_url

pytestmark = pytest.mark.slow

# Markers of the two failures provoked below, in what each process logs.
_API_FAILED = "unhandled error on GET /v1/posts"
_WORKER_FAILED = "claiming jobs failed"


def _wait(proc: subprocess.Popen[bytes], condition: Any, what: str, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if proc.poll() is not None or time.monotonic() > deadline:
            pytest.fail(f"{what} did not happen (server exit code {proc.poll()})")
        time.sleep(0.1)


def _serve_and_fail(tmp_path: Path, database_url: str, env_extra: dict[str, str]) -> dict[str, str]:
    """Start `crosspost serve` at DEBUG, create a key, pull two tables from under it, make
    a request with the key; return the key, the vault's keys, and what the process wrote."""
    port = free_port()
    home = tmp_path / "home"
    env = {k: v for k, v in os.environ.items() if not k.startswith("CROSSPOST_")}
    env.update(
        CROSSPOST_HOME=str(home),
        CROSSPOST_PORT=str(port),
        CROSSPOST_DATABASE_URL=database_url,
        CROSSPOST_LOG_LEVEL="DEBUG",
        CROSSPOST_WORKERS="1",
        CROSSPOST_JOB_POLL_SECONDS="0.2",
        **env_extra,
    )
    out, err = tmp_path / "stdout.log", tmp_path / "stderr.log"
    with out.open("wb") as stdout, err.open("wb") as stderr:
        proc = subprocess.Popen(
            [sys.executable, "-m", "crosspost", "serve"],
            env=env,
            stdout=stdout,
            stderr=stderr,
            cwd=tmp_path,
        )
    try:
        api = f"http://127.0.0.1:{port}"

        def ready() -> bool:
            try:
                return httpx.get(f"{api}/readyz", timeout=1).status_code == 200
            except httpx.TransportError:
                return False

        _wait(proc, ready, "the server starting")
        made = subprocess.run(
            [sys.executable, "-m", "crosspost", "keys", "create", "--name", "k", "--mode", "test"],
            env=env,
            cwd=tmp_path,
            capture_output=True,
            text=True,
            timeout=60,
            check=True,
        )
        key = made.stdout.strip()
        assert key.startswith("cp_test_")
        assert httpx.get(f"{api}/v1/posts", headers={"Authorization": f"Bearer {key}"}).is_success
        # A genuine fault: the tables the request and the worker read vanish under them.
        engine = sa.create_engine(normalise_url(database_url))
        with engine.begin() as conn:
            conn.exec_driver_sql("ALTER TABLE posts RENAME TO posts_gone")
            conn.exec_driver_sql("ALTER TABLE jobs RENAME TO jobs_gone")
        engine.dispose()
        headers = {
            "Authorization": f"Bearer {key}",
            "X-Internal-Key": env.get("CROSSPOST_INTERNAL_API_KEY", "none"),
        }
        failed = httpx.get(f"{api}/v1/posts", headers=headers)
        assert failed.status_code == 500, failed.text
        assert key not in failed.text
        _wait(proc, lambda: _API_FAILED in err.read_text(), "the 500's log line")
        _wait(proc, lambda: _WORKER_FAILED in err.read_text(), "the worker's failure log line")
    finally:
        proc.terminate()
        proc.wait(timeout=30)
    return {
        "key": key,
        "master_key": (home / "master.key").read_text().strip()
        if (home / "master.key").exists()
        else env["CROSSPOST_MASTER_KEYS"],
        "hash_key": (home / "hash.key").read_text().strip()
        if (home / "hash.key").exists()
        else env["CROSSPOST_HASH_KEY"],
        "stdout": out.read_text(),
        "stderr": err.read_text(),
    }


def _assert_no_secret(run: dict[str, str], *extra: str) -> None:
    logged = run["stdout"] + run["stderr"]
    master_b64 = run["master_key"].partition(":")[2]
    for name, secret in (
        ("API key", run["key"]),
        ("API key body", run["key"].removeprefix("cp_test_")),
        ("master key", master_b64),
        ("hash key", run["hash_key"]),
        *(("configured secret", value) for value in extra),
    ):
        assert secret and secret not in logged, f"the {name} is in the log"
    # SQLAlchemy's error text quotes no bound value (they include sealed secrets).
    assert "[parameters:" not in logged


def test_console_log_of_a_500_has_no_secret_and_no_locals(
    tmp_path: Path, database_url: str
) -> None:
    """Console format at DEBUG, vault keys generated into `home`: the 500 and the worker's
    failure are logged with tracebacks, none showing locals or any secret."""
    run = _serve_and_fail(tmp_path, database_url, {"CROSSPOST_LOG_JSON": "false"})
    _assert_no_secret(run)
    log = run["stderr"]
    assert "Traceback (most recent call last)" in log
    assert "OperationalError" in log or "UndefinedTable" in log
    assert " locals " not in log  # rich's locals panel


def test_json_log_of_a_500_has_no_secret_and_no_locals(tmp_path: Path, database_url: str) -> None:
    """JSON format at DEBUG, vault keys and internal key configured: every line of stderr is
    JSON from the one handler (uvicorn's included); tracebacks are frames without locals."""
    master = f"k1:{base64.b64encode(os.urandom(32)).decode()}"
    hash_key = base64.b64encode(os.urandom(32)).decode()
    internal = secrets.token_hex(32)
    run = _serve_and_fail(
        tmp_path,
        database_url,
        {
            "CROSSPOST_LOG_JSON": "true",
            "CROSSPOST_MASTER_KEYS": master,
            "CROSSPOST_HASH_KEY": hash_key,
            "CROSSPOST_INTERNAL_API_KEY": internal,
        },
    )
    _assert_no_secret(run, internal)
    records = [json.loads(line) for line in run["stderr"].splitlines() if line.strip()]
    failures = [r for r in records if r["event"].startswith((_API_FAILED, _WORKER_FAILED))]
    assert failures
    uvicorn = [r for r in records if r["event"].startswith("Exception in ASGI application")]
    assert uvicorn, "uvicorn's own record of the 500 did not go through the root handler"
    for record in [*failures, *uvicorn]:
        chain = record["exception"]
        assert isinstance(chain, list) and chain[-1]["frames"], record
        for exc in chain:
            for frame in exc["frames"]:
                assert "locals" not in frame, frame
