"""The API's processes for `serve --api-processes N`: the first is `serve` itself; the others
are spawned here and serve the same listening socket (the kernel gives each connection to
one of them), running the API only. Workers, the webhook dispatcher and the sandbox fakes
stay in `serve`, which finds the jobs the others queue by LISTEN (PostgreSQL) or by polling
(SQLite)."""

from __future__ import annotations

import gc
import multiprocessing
import os
import signal
import socket
import threading
import time
from multiprocessing.process import BaseProcess
from typing import Any

from crosspost.config import Settings

_PARENT_CHECK_SECONDS = 1.0


def run_api(api: Any, settings: Settings, listener: socket.socket) -> None:
    """Serve `api` on `listener` until a signal stops it (uvicorn, logging to our handlers)."""
    import uvicorn  # noqa: PLC0415

    from crosspost.api.streams import ApiServer  # noqa: PLC0415

    # log_config=None: uvicorn's records go to the root handler (and its redaction), not to
    # handlers of its own. ApiServer ends open event streams first; plain uvicorn would wait
    # on them forever.
    config = uvicorn.Config(
        api,
        host=settings.host,
        port=settings.port,
        log_level="warning",
        access_log=False,
        log_config=None,
    )
    # What start-up built (modules, the app, its routes and models: ~200k objects) lives as
    # long as the process. Out of the collector's sight, a full collection walks only what
    # requests leave behind: 80-100 ms pauses every ~20 s under load became a few ms.
    gc.collect()
    gc.freeze()
    ApiServer(config).run(sockets=[listener])


def start_api_processes(settings: Settings, listener: socket.socket) -> list[BaseProcess]:
    """Spawn `settings.api_processes - 1` API processes on `listener` (a fresh interpreter
    each: `serve` already runs threads, which a fork would copy half-way)."""
    spawn = multiprocessing.get_context("spawn")
    api_only = settings.model_copy(update={"workers": 0})
    processes: list[BaseProcess] = [
        spawn.Process(
            target=_api_process,
            args=(api_only, listener, os.getpid()),
            name=f"crosspost-api-{n}",
            daemon=True,
        )
        for n in range(2, settings.api_processes + 1)
    ]
    for process in processes:
        process.start()
    return processes


def stop_api_processes(processes: list[BaseProcess], *, timeout: float) -> None:
    """Ask each process to stop (SIGTERM, as uvicorn expects), then kill what is left."""
    for process in processes:
        if process.is_alive():
            process.terminate()
    deadline = time.monotonic() + timeout
    for process in processes:
        process.join(max(0.0, deadline - time.monotonic()))
        if process.is_alive():
            process.kill()
            process.join()


def _api_process(settings: Settings, listener: socket.socket, parent: int) -> None:
    from crosspost.api.app import create_app  # noqa: PLC0415
    from crosspost.engine.services import Services  # noqa: PLC0415
    from crosspost.logs import configure_logging  # noqa: PLC0415

    configure_logging(settings)
    _stop_with(parent)
    svc = Services.build(settings)  # `serve` migrated the database before starting us
    try:
        run_api(create_app(svc), settings, listener)
    finally:
        svc.close()


def _stop_with(parent: int) -> None:
    """Stop this process (as on SIGTERM) once `parent` is gone, even killed with SIGKILL."""

    def watch() -> None:
        while os.getppid() == parent:
            time.sleep(_PARENT_CHECK_SECONDS)
        os.kill(os.getpid(), signal.SIGTERM)

    threading.Thread(target=watch, name="parent-watch", daemon=True).start()
