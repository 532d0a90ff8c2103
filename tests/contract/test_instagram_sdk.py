"""Meta's own Python SDK (facebook-business) publishes a Reel through the Instagram fake.

The SDK reads every node as ``GET /{ver}/{id}/`` (trailing slash), sends ``access_token`` and
``appsecret_proof`` as query parameters and the POST parameters as a form, and treats any body
that is not Graph's JSON error as success. A fake that differs fails here, over real HTTP.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
from facebook_business.adobjects.abstractcrudobject import AbstractCrudObject
from facebook_business.adobjects.igmedia import IGMedia
from facebook_business.adobjects.igmediaforigonlyapi import IGMediaForIGOnlyAPI
from facebook_business.adobjects.iguser import IGUser
from facebook_business.adobjects.iguserforigonlyapi import IGUserForIGOnlyAPI
from facebook_business.adobjects.shadowigmediabuilder import ShadowIGMediaBuilder
from facebook_business.api import FacebookAdsApi
from facebook_business.exceptions import FacebookRequestError
from facebook_business.session import FacebookSession
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from crosspost.fakes import FakeConfig, RunningServer, create_sandbox_app, serve_in_thread
from crosspost.media.samples import make_video

APP_ID, APP_SECRET = FakeConfig.client_id, FakeConfig.client_secret
DEADLINE_SECONDS = 10.0


@dataclass(frozen=True)
class Flavour:
    """The SDK's classes for one login: Instagram Login (graph.instagram.com) or Facebook
    Login for Business (graph.facebook.com); the publishing paths are the same."""

    user: type[AbstractCrudObject]
    media: type[AbstractCrudObject]


FLAVOURS = {
    "instagram-login": Flavour(IGUserForIGOnlyAPI, IGMediaForIGOnlyAPI),
    "facebook-login": Flavour(IGUser, IGMedia),
}


@dataclass
class Graph:
    """The sandbox, an IG account on it, and the SDK pointed at the fake's Graph host."""

    server: RunningServer
    account: dict[str, Any]
    api: FacebookAdsApi

    @property
    def token(self) -> str:
        """The account's access token."""
        value: str = self.account["access_token"]
        return value


@pytest.fixture(scope="module")
def sandbox() -> Iterator[RunningServer]:
    """Every fake on a real loopback port, on the real clock (processing takes 0.2 s)."""
    with serve_in_thread(create_sandbox_app(FakeConfig())) as server:
        yield server


@pytest.fixture
def graph(sandbox: RunningServer) -> Graph:
    """A fresh IG account and a FacebookAdsApi whose Graph URL is the Instagram fake."""
    with httpx.Client(base_url=sandbox.url) as http:
        http.post("/instagram/_fake/reset").raise_for_status()
        created = http.post("/instagram/_fake/accounts", json={"handle": "reels_maker"})
        account: dict[str, Any] = created.raise_for_status().json()
    session = FacebookSession(APP_ID, APP_SECRET, account["access_token"])
    session.GRAPH = f"{sandbox.url}/instagram"  # the SDK's documented base-URL attribute
    return Graph(sandbox, account, FacebookAdsApi(session))


@pytest.fixture(scope="module")
def video_host(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, bytes]]:
    """A public URL serving a real short MP4, for the ``video_url`` flow (Meta fetches it)."""
    clip = make_video(
        tmp_path_factory.mktemp("ig") / "reel.mp4", seconds=1.0, width=360, height=640
    )
    data = clip.read_bytes()

    async def serve(request: Request) -> Response:
        return Response(data, media_type="video/mp4")

    with serve_in_thread(Starlette(routes=[Route("/reel.mp4", serve)])) as server:
        yield f"{server.url}/reel.mp4", data


def wait_finished(graph: Graph, container_id: str) -> dict[str, Any]:
    """Poll the container as Meta's docs say (``status_code``) until FINISHED, or fail."""
    deadline = time.monotonic() + DEADLINE_SECONDS
    while True:
        node = ShadowIGMediaBuilder(container_id, api=graph.api).api_get(
            fields=["status_code", "status"]
        )
        status: dict[str, Any] = node.export_all_data()
        if status["status_code"] == "FINISHED" or time.monotonic() > deadline:
            return status
        time.sleep(0.05)


def publish(graph: Graph, flavour: Flavour, container_id: str) -> dict[str, Any]:
    """media_publish the container, then read the media's permalink through the SDK."""
    user = flavour.user(graph.account["external_id"], api=graph.api)
    published = user.create_media_publish(params={"creation_id": int(container_id)})
    media = flavour.media(published["id"], api=graph.api).api_get(
        fields=["permalink", "media_product_type"]
    )
    data: dict[str, Any] = media.export_all_data()
    return data


@pytest.mark.parametrize("login", FLAVOURS)
def test_video_url_reel_publishes_through_the_sdk(
    graph: Graph, video_host: tuple[str, bytes], login: str
) -> None:
    """create_media(video_url) → poll the container node → media_publish → the permalink."""
    flavour = FLAVOURS[login]
    url, data = video_host
    user = flavour.user(graph.account["external_id"], api=graph.api)
    container = user.create_media(
        params={"media_type": "REELS", "video_url": url, "caption": "From the SDK #contract"}
    )
    status = wait_finished(graph, container["id"])
    assert status["status_code"] == "FINISHED", status
    media = publish(graph, flavour, container["id"])
    assert media["media_product_type"] == "REELS"
    assert media["permalink"].startswith("https://www.instagram.com/reel/")
    [limit] = user.get_content_publishing_limit(fields=["quota_usage", "config"])
    assert limit["quota_usage"] == 1 and limit["config"]["quota_total"] >= 1
    with httpx.Client(base_url=graph.server.url) as http:
        [post] = http.get("/instagram/_fake/state").json()["posts"]
    assert (post["id"], post["size"]) == (media["id"], len(data))


def test_resumable_reel_publishes_through_the_sdk(graph: Graph) -> None:
    """create_media(upload_type=resumable) → rupload with the SDK's own HTTP session → publish."""
    flavour = FLAVOURS["instagram-login"]
    user = flavour.user(graph.account["external_id"], api=graph.api)
    container = user.create_media(
        params={"media_type": "REELS", "upload_type": "resumable", "caption": "Resumable"}
    )
    data = bytes(range(256)) * 1024
    # The SDK has no rupload helper; Meta documents a plain POST with these headers.
    uploaded = graph.api._session.requests.post(
        container["uri"],
        data=data,
        headers={
            "Authorization": f"OAuth {graph.token}",
            "offset": "0",
            "file_size": str(len(data)),
        },
        timeout=30,
    )
    assert uploaded.json() == {"success": True, "message": "Upload successful."}
    assert wait_finished(graph, container["id"])["status_code"] == "FINISHED"
    media = publish(graph, flavour, container["id"])
    assert media["permalink"].startswith("https://www.instagram.com/reel/")


def test_user_node_reads_with_a_trailing_slash(graph: Graph) -> None:
    """IGUserForIGOnlyAPI.api_get reads ``GET /{ver}/{ig-user-id}/``: the token's own user."""
    user = IGUserForIGOnlyAPI(graph.account["external_id"], api=graph.api)
    read = user.api_get(fields=["username", "user_id"]).export_all_data()
    assert read["username"] == "reels_maker" and read["id"] == graph.account["external_id"]


def test_graph_errors_reach_the_sdk_as_errors(graph: Graph) -> None:
    """Publishing too early, an unknown node and an unknown path raise FacebookRequestError
    with Graph's code and subcode (a plain-text 404 would pass as a success)."""
    user = IGUserForIGOnlyAPI(graph.account["external_id"], api=graph.api)
    container = user.create_media(
        params={"media_type": "REELS", "upload_type": "resumable", "caption": "Too early"}
    )
    with pytest.raises(FacebookRequestError) as early:
        user.create_media_publish(params={"creation_id": int(container["id"])})
    assert (early.value.api_error_code(), early.value.api_error_subcode()) == (9007, 2207027)
    with pytest.raises(FacebookRequestError) as unknown_node:
        ShadowIGMediaBuilder("17800000000000000", api=graph.api).api_get(fields=["status_code"])
    assert (unknown_node.value.api_error_code(), unknown_node.value.api_error_subcode()) == (
        100,
        33,
    )
    with pytest.raises(FacebookRequestError) as unknown_path:
        graph.api.call("GET", (graph.account["external_id"], "no_such_edge", ""))
    assert unknown_path.value.api_error_code() == 2500
    assert unknown_path.value.api_error_type() == "OAuthException"


def test_a_wrong_appsecret_proof_is_refused(graph: Graph, sandbox: RunningServer) -> None:
    """The SDK signs every call with appsecret_proof; one made with another secret is
    Graph's code 100, so the fake really checks what the SDK sends."""
    session = FacebookSession(APP_ID, "not-the-app-secret", graph.token)
    session.GRAPH = f"{sandbox.url}/instagram"
    user = IGUserForIGOnlyAPI(graph.account["external_id"], api=FacebookAdsApi(session))
    with pytest.raises(FacebookRequestError) as refused:
        user.api_get(fields=["username"])
    assert refused.value.api_error_code() == 100
    assert "appsecret_proof" in refused.value.api_error_message()
