"""A client that goes away mid-body (a worker killed mid-call) never makes a fake raise: no
traceback in the log, and the fake answers the next request as usual."""

from __future__ import annotations

import logging
import socket
import time
from collections.abc import Iterator

import httpx
import pytest
from starlette.types import ASGIApp, Receive, Scope, Send

from crosspost.fakes import FAKES, FakeConfig, RunningServer, create_sandbox_app, serve_in_thread
from crosspost.fakes.base import Faults

JSON, FORM = "application/json", "application/x-www-form-urlencoded"
# Every request carries the headers the fakes check before they read a body: LinkedIn's
# versions, and the size and type of the video a YouTube upload session announces.
AHEAD = (
    "LinkedIn-Version: 202610\r\nX-Restli-Protocol-Version: 2.0.0\r\n"
    "X-Upload-Content-Length: 1000000\r\nX-Upload-Content-Type: video/mp4\r\n"
)
# (platform, path, content type): every way a fake reads a whole request body.
BODY_READS = [
    ("linkedin", "/rest/posts", JSON),
    ("linkedin", "/rest/videos?action=initializeUpload", JSON),
    ("linkedin", "/oauth/v2/accessToken", FORM),
    ("tiktok", "/v2/post/publish/video/init/", JSON),
    ("tiktok", "/v2/oauth/token/", FORM),
    ("x", "/2/tweets", JSON),
    ("x", "/2/oauth2/token", FORM),
    ("instagram", "/v23.0/me/media", FORM),
    ("instagram", "/oauth/access_token", FORM),
    ("youtube", "/upload/youtube/v3/videos?uploadType=resumable&part=snippet,status", JSON),
    ("youtube", "/token", FORM),
    ("soundcloud", "/oauth/token", FORM),
    *((platform.value, "/_fake/accounts", JSON) for platform in FAKES),
    *((platform.value, "/_fake/faults", JSON) for platform in FAKES),
]


class Watched:
    """The sandbox app, recording each request it finished and every exception that escaped
    it (uvicorn logs each of those with a traceback)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app
        self.finished: list[str] = []
        self.escaped: list[BaseException] = []

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Run the app; note what escaped and that the request is over."""
        try:
            await self.app(scope, receive, send)
        except BaseException as exc:
            self.escaped.append(exc)
            raise
        finally:
            if scope["type"] == "http":
                self.finished.append(f"{scope['method']} {scope['path']}")


@pytest.fixture(scope="module")
def watched() -> Iterator[tuple[Watched, RunningServer]]:
    """The sandbox fakes behind a Watched wrapper, on a server of their own."""
    app = Watched(create_sandbox_app(FakeConfig(faults=Faults(processing_seconds=0.05))))
    server = serve_in_thread(app)
    yield app, server
    server.stop()


def _token(server: RunningServer, platform: str) -> str:
    response = httpx.post(f"{server.url}/{platform}/_fake/accounts", json={"handle": "gone"})
    response.raise_for_status()
    token: str = response.json()["access_token"]
    return token


@pytest.mark.parametrize(("platform", "path", "content_type"), BODY_READS)
def test_a_body_cut_off_by_the_client_is_not_a_crash(
    watched: tuple[Watched, RunningServer],
    caplog: pytest.LogCaptureFixture,
    platform: str,
    path: str,
    content_type: str,
) -> None:
    """Headers promise 1,000 bytes, a few arrive, the client closes the connection: the fake
    lets nothing escape (so nothing is logged with a traceback) and keeps serving."""
    app, server = watched
    token = _token(server, platform)
    target = f"/{platform}{path}"
    head = (
        f"POST {target} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: {content_type}\r\n"
        f"Authorization: Bearer {token}\r\n{AHEAD}Content-Length: 1000\r\n\r\n"
    )
    done = f"POST {target.split('?', maxsplit=1)[0]}"
    before, escaped = app.finished.count(done), len(app.escaped)
    with caplog.at_level(logging.DEBUG):
        with socket.create_connection(("127.0.0.1", server.port), timeout=5) as sock:
            sock.sendall(head.encode() + b'{"text": "cut off mid')
        deadline = time.monotonic() + 10
        while app.finished.count(done) == before:
            assert time.monotonic() < deadline, f"{done} never finished"
            time.sleep(0.01)
        healthy = httpx.get(f"{server.url}/{platform}/_fake/state")
    assert app.escaped[escaped:] == [], app.escaped[escaped:]
    assert healthy.status_code == 200
    assert not [r for r in caplog.records if r.exc_info], caplog.text
