"""A one-shot HTTP listener on loopback that catches where an OAuth consent ends
(`crosspost accounts connect`)."""

from __future__ import annotations

import threading
from http.server import BaseHTTPRequestHandler, HTTPServer
from types import TracebackType
from urllib.parse import parse_qs, urlsplit

_PAGE = b"<h1>crosspost: account connected</h1><p>You can close this tab.</p>"


class LoopbackCatcher:
    """Serves `url` on 127.0.0.1 until the first request arrives; `wait` returns its query."""

    def __init__(self) -> None:
        self._answer: dict[str, str] | None = None
        self._got = threading.Event()
        catcher = self

        class _Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                query = parse_qs(urlsplit(self.path).query)
                catcher._answer = {k: v[0] for k, v in query.items()}
                catcher._got.set()
                self.send_response(200)
                self.send_header("Content-Type", "text/html; charset=utf-8")
                self.send_header("Content-Length", str(len(_PAGE)))
                self.end_headers()
                self.wfile.write(_PAGE)

            def log_message(self, format: str, *args: object) -> None:
                """Quiet: the command prints the outcome itself."""

        self._server = HTTPServer(("127.0.0.1", 0), _Handler)
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        """Where the consent should end."""
        return f"http://127.0.0.1:{self._server.server_address[1]}/connected"

    def __enter__(self) -> LoopbackCatcher:
        self._thread.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self._server.shutdown()
        self._server.server_close()

    def wait(self, timeout: float) -> dict[str, str] | None:
        """The query string of the first request, or None after `timeout` seconds."""
        return self._answer if self._got.wait(timeout) else None
