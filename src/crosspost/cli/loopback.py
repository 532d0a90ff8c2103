"""A one-shot HTTP listener on loopback that catches where an OAuth consent ends
(`crosspost accounts connect`, `crosspost pipeline connect-twitch`)."""

from __future__ import annotations

import threading
import webbrowser
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, HTTPServer
from types import TracebackType
from urllib.parse import parse_qs, urlsplit

import typer

from crosspost.cli._common import ExitCode, out

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


def await_consent(
    start: Callable[[str], str], *, what: str, browser: bool, timeout: float
) -> dict[str, str]:
    """Start a consent with `start(return_to)` (which answers the consent page's URL), print
    the page (and open it), and the query the server sent the browser back with; exits
    saying why when no answer came within `timeout` seconds or the consent failed."""
    with LoopbackCatcher() as catcher:
        url = start(catcher.url)
        out().note(f"open this page to connect {what}:")
        out().line(url)
        if browser:
            webbrowser.open(url)
        answer = catcher.wait(timeout)
    if answer is None:
        out().error(f"no answer within {timeout:.0f} s; run the command again")
        raise typer.Exit(ExitCode.ERROR)
    if "error" in answer:
        out().error(f"not connected: {answer['error']}: {answer.get('error_description', '')}")
        raise typer.Exit(ExitCode.ERROR)
    return answer
