"""Every fake answers routing, method, body and crash errors in its platform's own envelope.

A client library parses a platform's errors by their shape; Starlette's plain-text "Not Found"
is no platform's, and Meta's SDK even takes it for success.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Mount, Route

from crosspost.fakes import FakeConfig, SoundCloudFake, serve_in_thread

from .conftest import Sandbox


def google(body: dict[str, Any], status: int) -> None:
    """Google's ``{"error": {"code", "message", "errors": [...], "status"}}``."""
    error = body["error"]
    assert error["code"] == status and error["message"] and error["status"]
    [item] = error["errors"]
    assert set(item) >= {"domain", "reason", "message"}


def graph(body: dict[str, Any], status: int) -> None:
    """Graph's ``{"error": {"message", "type", "code", "fbtrace_id"}}``."""
    error = body["error"]
    assert error["message"] and error["type"] and isinstance(error["code"], int)
    assert error["fbtrace_id"]


def tiktok(body: dict[str, Any], status: int) -> None:
    """TikTok's ``{"data": {}, "error": {"code", "message", "log_id"}}``."""
    assert body["data"] == {}
    error = body["error"]
    assert error["code"] not in ("", "ok") and error["message"] and error["log_id"]


def x_problem(body: dict[str, Any], status: int) -> None:
    """X's v2 problem ``{"title", "detail", "type", "status"}``."""
    assert body["status"] == status and body["title"] and body["detail"] and body["type"]


def linkedin(body: dict[str, Any], status: int) -> None:
    """LinkedIn's ``{"status", "code", "message"}``."""
    assert body["status"] == status and body["code"] and body["message"]


def soundcloud(body: dict[str, Any], status: int) -> None:
    """SoundCloud's ``{"code", "message", "link", ...}``."""
    assert body["code"] == status and body["message"] and body["link"]
    assert body["errors"][0]["error_message"]


@dataclass(frozen=True)
class Case:
    """One platform: an unknown path, a path with a method it does not serve, and how the
    platform answers each (status, content type, envelope)."""

    platform: str
    unknown: str
    wrong_method: tuple[str, str]
    statuses: tuple[int, int]  # (unknown path, wrong method)
    content_type: str
    envelope: Callable[[dict[str, Any], int], None]


CASES = [
    # Google routes on method and path together: an unserved method is a 404 there too.
    Case(
        "youtube",
        "/youtube/v3/playlists-nope",
        ("PATCH", "/youtube/v3/videos"),
        (404, 404),
        "application/json",
        google,
    ),
    # Graph answers an unknown path (2500) and an unsupported method (100/33) with 400.
    Case(
        "instagram",
        "/v26.0/178000/no_such_edge/deeper",
        ("DELETE", "/v26.0/178000/media_publish"),
        (400, 400),
        "application/json",
        graph,
    ),
    Case(
        "tiktok",
        "/v2/post/publish/nope/",
        ("GET", "/v2/post/publish/video/init/"),
        (404, 405),
        "application/json",
        tiktok,
    ),
    Case(
        "x",
        "/2/no/such/endpoint",
        ("DELETE", "/2/tweets"),
        (404, 405),
        "application/problem+json",
        x_problem,
    ),
    Case(
        "linkedin",
        "/rest/nope",
        ("DELETE", "/rest/posts"),
        (404, 405),
        "application/json",
        linkedin,
    ),
    Case(
        "soundcloud",
        "/playlists-nope",
        ("DELETE", "/tracks"),
        (404, 405),
        "application/json",
        soundcloud,
    ),
]


def _check(response: httpx.Response, case: Case, status: int) -> None:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].split(";")[0] == case.content_type, response.text
    case.envelope(response.json(), status)


@pytest.mark.parametrize("case", CASES, ids=[c.platform for c in CASES])
def test_unknown_path_and_wrong_method(sandbox: Sandbox, case: Case) -> None:
    """An unknown path and a method the path does not serve get the platform's JSON error."""
    unknown = sandbox.http.get(f"/{case.platform}{case.unknown}")
    _check(unknown, case, case.statuses[0])
    method, path = case.wrong_method
    wrong = sandbox.http.request(method, f"/{case.platform}{path}", content=b"ignored body")
    _check(wrong, case, case.statuses[1])
    if wrong.status_code == 405:
        assert wrong.headers["allow"]


def test_graph_names_the_unknown_path(sandbox: Sandbox) -> None:
    """Graph's unknown-path error is code 2500 naming the path; a bad method is 100/33."""
    unknown = sandbox.http.get("/instagram/v26.0/178000/no_such_edge/deeper").json()["error"]
    assert unknown["code"] == 2500 and "/v26.0/178000/no_such_edge/deeper" in unknown["message"]
    wrong = sandbox.http.delete("/instagram/v26.0/178000/media_publish").json()["error"]
    assert (wrong["code"], wrong["error_subcode"]) == (100, 33)


def test_malformed_form_body_is_a_graph_error(sandbox: Sandbox) -> None:
    """A multipart body Starlette cannot parse is Graph's (#100) 400, not a plain-text 400."""
    account = sandbox.account("instagram")
    response = sandbox.http.post(
        f"/instagram/v26.0/{account['external_id']}/media",
        content=b"--X\r\n[[[], {}], None]--X--\r\n",
        headers={
            "Content-Type": "multipart/form-data; boundary=X",
            "Authorization": f"Bearer {account['access_token']}",
        },
    )
    assert response.status_code == 400
    assert response.headers["content-type"] == "application/json"
    assert response.json()["error"]["code"] == 100


def test_path_outside_every_fake_is_json(sandbox: Sandbox) -> None:
    """The sandbox itself answers a path under no fake's prefix with JSON naming the prefixes."""
    response = sandbox.http.get("/myspace/v1/posts")
    assert response.status_code == 404
    body = response.json()
    assert "/myspace/v1/posts" in body["error"] and "/soundcloud" in body["prefixes"]


class _CrashingSoundCloud(SoundCloudFake):
    """SoundCloud's fake with one extra route that fails the way a bug in a fake would."""

    def api_routes(self) -> list[BaseRoute]:
        """The real routes plus /crash."""
        return [*super().api_routes(), Route("/crash", self._crash_route)]

    async def _crash_route(self, request: Request) -> Response:
        raise KeyError("a bug in the fake")


def test_a_bug_in_a_fake_still_answers_in_the_envelope() -> None:
    """An exception inside a fake is the platform's 500 JSON, not Starlette's plain text."""
    fake = _CrashingSoundCloud(FakeConfig())
    with (
        serve_in_thread(Starlette(routes=[Mount("/soundcloud", app=fake.asgi())])) as server,
        httpx.Client(base_url=server.url) as http,
    ):
        response = http.get("/soundcloud/crash")
    assert response.status_code == 500
    assert response.headers["content-type"] == "application/json"
    soundcloud(response.json(), 500)
    assert "KeyError" in response.json()["errors"][0]["error_message"]
