"""Start a real crosspost server process (or the floor app it is compared with) for a
benchmark, on a database of its own, and tear them down afterwards."""

from __future__ import annotations

import os
import secrets
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx
import sqlalchemy as sa
from sqlalchemy.engine import make_url

from crosspost.fakes.server import free_port


@dataclass
class Server:
    """A running `crosspost serve` and what a client needs to use it."""

    url: str
    fakes_url: str
    key: str
    home: Path
    env: dict[str, str]
    # Process ids, for a profiler: the API's, and the worker processes' when split.
    api_pid: int = 0
    worker_pids: tuple[int, ...] = ()


def _wait_http(url: str, deadline: float, proc: subprocess.Popen[bytes] | None = None) -> None:
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            raise RuntimeError(f"the process that was to serve {url} exited ({proc.returncode})")
        try:
            if httpx.get(url, timeout=1).status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.1)
    raise RuntimeError(f"{url} did not come up")


@contextmanager
def running_server(
    *,
    database_url: str | None = None,
    workers: int = 4,
    extra_env: dict[str, str] | None = None,
    split: bool = False,
    worker_processes: int = 1,
) -> Iterator[Server]:
    """`crosspost serve --sandbox` in a subprocess with its own home folder and ports.

    With `split`, the fakes (`crosspost sandbox`) and the workers (`crosspost worker`) run
    in processes of their own, as in a scale-out deployment, so they do not share a GIL.
    """
    home = Path(tempfile.mkdtemp(prefix="crosspost-bench-"))
    port, fake_port = free_port(), free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("CROSSPOST_")}
    env.update(
        CROSSPOST_HOME=str(home),
        CROSSPOST_PORT=str(port),
        CROSSPOST_SANDBOX_PORT=str(fake_port),
        CROSSPOST_LOG_LEVEL="WARNING",
        CROSSPOST_WORKERS=str(workers),
    )
    if database_url:
        env["CROSSPOST_DATABASE_URL"] = database_url
    env.update(extra_env or {})
    cli = [sys.executable, "-m", "crosspost"]
    procs: list[subprocess.Popen[bytes]] = []
    if split:
        env["CROSSPOST_WORKERS"] = "0"
        procs.append(subprocess.Popen([*cli, "sandbox"], env=env, stdout=subprocess.DEVNULL))
        _wait_http(f"http://127.0.0.1:{fake_port}/healthz", time.monotonic() + 60)
    api = subprocess.Popen([*cli, "serve", "--sandbox"], env=env, stdout=subprocess.DEVNULL)
    procs.append(api)
    try:
        _wait_http(f"http://127.0.0.1:{port}/healthz", time.monotonic() + 60, procs[-1])
        if split:
            worker = [*cli, "worker", "--concurrency", str(workers)]
            for _ in range(worker_processes):
                procs.append(subprocess.Popen(worker, env=env, stdout=subprocess.DEVNULL))
        server = Server(
            f"http://127.0.0.1:{port}",
            f"http://127.0.0.1:{fake_port}",
            "",
            home,
            env,
            api_pid=api.pid,
            worker_pids=tuple(p.pid for p in procs[procs.index(api) + 1 :]),
        )
        server.key = create_key(server, "bench")
        yield server
    finally:
        for proc in reversed(procs):
            proc.terminate()
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                proc.kill()


def create_key(server: Server, name: str, role: str = "developer") -> str:
    """A new test-mode key of `role` on `server`, made by its CLI (`crosspost keys create`)."""
    create = [sys.executable, "-m", "crosspost", "keys", "create", "--name", name]
    done = subprocess.run(
        [*create, "--mode", "test", "--role", role],
        env=server.env,
        check=True,
        capture_output=True,
        text=True,
    )
    return done.stdout.strip().splitlines()[-1]


@dataclass
class Floor:
    """A running bench/floor_app.py: where it listens and the bearer key it takes."""

    url: str
    key: str
    pid: int = 0


@contextmanager
def running_floor(database_url: str) -> Iterator[Floor]:
    """bench/floor_app.py in a subprocess on a free port, writing to `database_url` (a
    SQLAlchemy URL, such as `bench_database` gives)."""
    parsed = make_url(database_url)
    if parsed.get_backend_name() == "sqlite":
        database = parsed.database or ""
    else:  # libpq's own URL form, which psycopg takes
        database = parsed.set(drivername="postgresql").render_as_string(hide_password=False)
    key, port = secrets.token_urlsafe(24), free_port()
    env = {**os.environ, "FLOOR_DATABASE": database, "FLOOR_KEY": key}
    proc = subprocess.Popen(
        [sys.executable, "-m", "bench.floor_app", "--port", str(port)],
        env=env,
        cwd=Path(__file__).resolve().parents[1],
        stdout=subprocess.DEVNULL,
    )
    try:
        _wait_http(f"http://127.0.0.1:{port}/healthz", time.monotonic() + 60, proc)
        yield Floor(f"http://127.0.0.1:{port}", key, proc.pid)
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()


@contextmanager
def profiled(pid: int, svg: Path | None, seconds: float) -> Iterator[None]:
    """Record `pid` with py-spy for `seconds` into the flame graph `svg` (nothing if None);
    a name not ending in .svg gets the collapsed stacks instead (`func (file:line);…  count`)."""
    if svg is None:
        yield
        return
    svg.parent.mkdir(parents=True, exist_ok=True)
    spy = subprocess.Popen(
        ["py-spy", "record", "--pid", str(pid), "--output", str(svg), "--format",
         "flamegraph" if svg.suffix == ".svg" else "raw", "--duration",
         str(max(1, round(seconds))), "--rate", "250"],
        stdout=subprocess.DEVNULL,
    )  # fmt: skip
    try:
        yield
    finally:
        if spy.wait(timeout=seconds + 60) != 0:
            raise RuntimeError(f"py-spy failed on pid {pid} (is it installed? pip install py-spy)")
        print(f"flame graph: {svg}", flush=True)


def percentile(values: list[float], q: float) -> float:
    """The q-quantile (0..1) of `values`, nearest-rank."""
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(q * len(ordered)) - 1))]


@contextmanager
def bench_database(url: str | None) -> Iterator[str]:
    """A URL for an empty database: a temp SQLite file, or a temp PostgreSQL database."""
    if url is None or make_url(url).get_backend_name() == "sqlite":
        with tempfile.TemporaryDirectory() as folder:
            yield url or f"sqlite:///{Path(folder) / 'bench.db'}"
        return
    server = make_url(url).set(drivername="postgresql+psycopg")
    name = f"crosspost_bench_{secrets.token_hex(4)}"
    admin = sa.create_engine(server, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.exec_driver_sql(f'CREATE DATABASE "{name}"')
    try:
        yield server.set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as conn:
            conn.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.dispose()
