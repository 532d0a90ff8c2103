"""Run any ASGI app under uvicorn in a background thread, on a real loopback port."""

from __future__ import annotations

import socket
import threading
import time
from types import TracebackType
from typing import Literal

import uvicorn
from starlette.types import ASGIApp


class RunningServer:
    """A uvicorn server running in a daemon thread; stop it with ``stop()`` or ``with``."""

    def __init__(
        self, server: uvicorn.Server, thread: threading.Thread, sock: socket.socket, host: str
    ) -> None:
        self._server = server
        self._thread = thread
        self._sock = sock
        self.host = host
        self.port: int = sock.getsockname()[1]
        shown = f"[{host}]" if ":" in host else host
        self.url = f"http://{shown}:{self.port}"

    def stop(self, timeout: float = 10.0) -> None:
        """Shut the server down and wait for its thread (forcing it after ``timeout``)."""
        self._server.should_exit = True
        self._thread.join(timeout)
        if self._thread.is_alive():
            self._server.force_exit = True
            self._thread.join(timeout)
        self._sock.close()

    @property
    def running(self) -> bool:
        """True while the server thread is alive."""
        return self._thread.is_alive()

    def __enter__(self) -> RunningServer:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()


def free_port(host: str = "127.0.0.1") -> int:
    """A TCP port that was free a moment ago (for a server whose address must be known
    before it starts)."""
    with socket.socket() as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


def listen(host: str, port: int, backlog: int = 2048) -> socket.socket:
    """A TCP socket listening on `host:port` (0: any free port), for uvicorn to serve on
    (`Server.run(sockets=[…])`); OSError when the port cannot be had.

    It listens at once: a bound socket that does not listen yet would not keep another
    process (SO_REUSEADDR) from binding the same port meanwhile, and early connections wait in
    the backlog until the server accepts them.
    """
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    # With proto left at 0, asyncio would not set TCP_NODELAY on accepted connections, and
    # every keep-alive response would wait ~40 ms for a delayed ACK.
    sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((host, port))
        sock.listen(backlog)
    except OSError:
        sock.close()
        raise
    return sock


def serve_in_thread(
    app: ASGIApp,
    host: str = "127.0.0.1",
    port: int = 0,
    *,
    startup_timeout: float = 10.0,
    lifespan: Literal["auto", "on", "off"] = "auto",
    server_class: type[uvicorn.Server] = uvicorn.Server,
) -> RunningServer:
    """Start uvicorn for ``app`` in a daemon thread; return once it accepts connections.
    ``server_class`` may be a subclass of uvicorn's server (the API's ends its streams).

    The socket is bound here, so ``port=0`` yields the real port at once. Uvicorn's access log
    is off and its logging config is left alone (its errors go to the ``uvicorn.error`` logger).
    """
    sock = listen(host, port)
    config = uvicorn.Config(
        app,
        log_config=None,
        access_log=False,
        lifespan=lifespan,
        timeout_graceful_shutdown=5,
    )
    server = server_class(config)
    failures: list[BaseException] = []

    def run() -> None:
        # uvicorn ends a failed startup with SystemExit; keep it for the waiting caller.
        try:
            server.run(sockets=[sock])
        except BaseException as exc:
            failures.append(exc)

    thread = threading.Thread(target=run, name=f"uvicorn:{port}", daemon=True)
    thread.start()
    running = RunningServer(server, thread, sock, host)
    deadline = time.monotonic() + startup_timeout
    while not server.started:
        if not thread.is_alive():
            sock.close()
            cause = failures[0] if failures else None
            raise RuntimeError(f"server for {app!r} exited during startup") from cause
        if time.monotonic() > deadline:
            running.stop(timeout=1.0)
            raise TimeoutError(f"server for {app!r} did not start within {startup_timeout} s")
        thread.join(0.005)  # waits on the thread, so a crash during startup ends the wait early
    with socket.create_connection((host, running.port), timeout=startup_timeout):
        pass
    return running
