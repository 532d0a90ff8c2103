"""TikTok's documented Content Posting request sequence, sent with httpx, against the fake.

TikTok publishes no Python client, so these requests carry exactly the headers and bodies of
its documentation (PLATFORM_PROTOCOLS.md §3): creator_info/query, video/init (FILE_UPLOAD with
its chunk rules, or PULL_FROM_URL), PUTs with Content-Range to the upload_url, status/fetch.
"""

from __future__ import annotations

import hashlib
import json
import random
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from starlette.applications import Starlette
from starlette.responses import FileResponse
from starlette.routing import Route

from crosspost.fakes import TikTokFake, serve_in_thread
from crosspost.media.samples import make_video
from tests.contract.hosted import HostedFake, hosted

MB = 1024 * 1024
JSON = "application/json; charset=UTF-8"


@pytest.fixture(scope="module")
def clip(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A real 4 s 1080x1920 H.264 clip (under 5 MB: TikTok takes it as one chunk)."""
    return make_video(
        tmp_path_factory.mktemp("tt") / "clip.mp4", seconds=4, width=1080, height=1920
    )


@pytest.fixture
def tiktok() -> Iterator[HostedFake]:
    """The TikTok fake at the root of its own server."""
    with hosted(TikTokFake) as fake:
        yield fake


@pytest.fixture
def creator(tiktok: HostedFake) -> Iterator[Creator]:
    """A consented creator on the TikTok fake."""
    with Creator(tiktok) as consented:
        yield consented


class Creator:
    """A consented creator calling the documented endpoints with its user token."""

    def __init__(self, fake: HostedFake, handle: str = "alice") -> None:
        account = fake.account(handle)
        self.open_id: str = account["external_id"]
        self.token: str = account["access_token"]
        self.refresh_token: str = account["refresh_token"]
        self.fake = fake
        self.http = httpx.Client(base_url=fake.url, timeout=30.0)

    def __enter__(self) -> Creator:
        return self

    def __exit__(self, *exc: object) -> None:
        self.http.close()

    def call(self, path: str, body: dict[str, Any] | None = None) -> httpx.Response:
        """A documented POST: Bearer token, JSON body (none for creator_info)."""
        return self.http.post(
            path,
            headers={"Authorization": f"Bearer {self.token}", "Content-Type": JSON},
            content=b"" if body is None else json.dumps(body).encode(),
        )

    def creator_info(self) -> dict[str, Any]:
        """creator_info/query: what this creator may post."""
        answer = self.call("/v2/post/publish/creator_info/query/")
        assert answer.status_code == 200 and answer.json()["error"]["code"] == "ok", answer.text
        data: dict[str, Any] = answer.json()["data"]
        return data

    def init(self, title: str, source_info: dict[str, Any]) -> httpx.Response:
        """video/init for a direct post, with the first privacy level the creator offers."""
        info = self.creator_info()
        post_info = {
            "title": title,
            "privacy_level": info["privacy_level_options"][0],
            "disable_duet": info["duet_disabled"],
            "disable_comment": info["comment_disabled"],
            "disable_stitch": info["stitch_disabled"],
            "video_cover_timestamp_ms": 1000,
        }
        return self.call(
            "/v2/post/publish/video/init/", {"post_info": post_info, "source_info": source_info}
        )

    def upload(self, upload_url: str, data: bytes, chunk_size: int, count: int) -> list[int]:
        """PUT the chunks in order (the last one takes the leftover bytes); their statuses."""
        statuses = []
        for index in range(count):
            first = index * chunk_size
            last = len(data) - 1 if index == count - 1 else first + chunk_size - 1
            answer = self.http.put(
                upload_url,
                content=data[first : last + 1],
                headers={
                    "Content-Type": "video/mp4",
                    "Content-Range": f"bytes {first}-{last}/{len(data)}",
                },
            )
            assert answer.status_code in {201, 206}, answer.text
            statuses.append(answer.status_code)
        return statuses

    def wait_published(self, publish_id: str, *, deadline_s: float = 10.0) -> list[str]:
        """status/fetch until a final status, moving the fake's clock between polls."""
        seen: list[str] = []
        deadline = time.monotonic() + deadline_s
        while time.monotonic() < deadline:
            answer = self.call("/v2/post/publish/status/fetch/", {"publish_id": publish_id})
            assert answer.status_code == 200, answer.text
            data = answer.json()["data"]
            seen.append(data["status"])
            if data["status"] in {"PUBLISH_COMPLETE", "FAILED", "SEND_TO_USER_INBOX"}:
                return seen
            self.fake.clock.advance(1.0)
            time.sleep(0.01)  # a pull runs in the fake's event loop, on real time
        raise AssertionError(f"no final status in {deadline_s} s: {seen}")


def test_file_upload_single_chunk(tiktok: HostedFake, creator: Creator, clip: Path) -> None:
    """A file under 5 MB: chunk_size = video_size, one chunk, then PUBLISH_COMPLETE."""
    data = clip.read_bytes()
    assert len(data) < 5 * MB

    init = creator.init(
        "A clip #contract",
        {
            "source": "FILE_UPLOAD",
            "video_size": len(data),
            "chunk_size": len(data),
            "total_chunk_count": 1,
        },
    )
    assert init.status_code == 200, init.text
    publish_id = init.json()["data"]["publish_id"]
    statuses = creator.upload(init.json()["data"]["upload_url"], data, len(data), 1)
    seen = creator.wait_published(publish_id)

    assert publish_id.startswith("v_pub_file~v2-")
    assert statuses == [201]
    assert seen[0] == "PROCESSING_UPLOAD" and seen[-1] == "PUBLISH_COMPLETE"
    (post,) = tiktok.state()["posts"]
    assert post["id"] == publish_id and post["account_external_id"] == creator.open_id
    assert (post["title"], post["privacy"], post["source"]) == (
        "A clip #contract",
        "PUBLIC_TO_EVERYONE",
        "FILE_UPLOAD",
    )
    assert post["sha256"] == hashlib.sha256(data).hexdigest()


def test_file_upload_in_chunks_last_takes_the_rest(tiktok: HostedFake, creator: Creator) -> None:
    """12 MB at chunk_size 5 MB: floor(12/5) = 2 chunks, the second 7 MB long; 206 then 201."""
    data = random.Random(12).randbytes(12 * MB)
    chunk = 5 * MB
    count = len(data) // chunk

    init = creator.init(
        "Chunked",
        {
            "source": "FILE_UPLOAD",
            "video_size": len(data),
            "chunk_size": chunk,
            "total_chunk_count": count,
        },
    )
    assert init.status_code == 200, init.text
    statuses = creator.upload(init.json()["data"]["upload_url"], data, chunk, count)
    publish_id = init.json()["data"]["publish_id"]

    assert (count, statuses) == (2, [206, 201])
    assert creator.wait_published(publish_id)[-1] == "PUBLISH_COMPLETE"
    (post,) = tiktok.state()["posts"]
    assert post["id"] == publish_id and post["size"] == len(data)
    assert post["sha256"] == hashlib.sha256(data).hexdigest()


def test_pull_from_url(clip: Path) -> None:
    """PULL_FROM_URL from a verified prefix: the fake downloads the file, then publishes it."""
    media = serve_in_thread(
        Starlette(routes=[Route("/media/clip.mp4", lambda _: FileResponse(clip))])
    )
    try:
        prefix = f"{media.url}/media/"
        with (
            hosted(TikTokFake, tiktok_verified_url_prefixes=(prefix,)) as tiktok,
            Creator(tiktok) as creator,
        ):
            init = creator.init(
                "Pulled", {"source": "PULL_FROM_URL", "video_url": prefix + "clip.mp4"}
            )
            assert init.status_code == 200, init.text
            data = init.json()["data"]
            seen = creator.wait_published(data["publish_id"])

            assert "upload_url" not in data and data["publish_id"].startswith("v_pub_url~v2-")
            assert seen[-1] == "PUBLISH_COMPLETE"
            (post,) = tiktok.state()["posts"]
            assert post["id"] == data["publish_id"] and post["source"] == "PULL_FROM_URL"
            assert post["sha256"] == hashlib.sha256(clip.read_bytes()).hexdigest()
    finally:
        media.stop()


def test_refresh_rotates_the_refresh_token(tiktok: HostedFake, creator: Creator) -> None:
    """/v2/oauth/token/ with client_key: new tokens, and the old refresh token is spent."""
    form = {
        "client_key": "sandbox-client",
        "client_secret": "sandbox-secret",
        "grant_type": "refresh_token",
        "refresh_token": creator.refresh_token,
    }

    renewed = httpx.post(f"{tiktok.url}/v2/oauth/token/", data=form)
    replay = httpx.post(f"{tiktok.url}/v2/oauth/token/", data=form)

    assert renewed.status_code == 200, renewed.text
    body = renewed.json()
    assert body["open_id"] == creator.open_id and body["token_type"] == "Bearer"
    assert body["refresh_token"] != creator.refresh_token
    assert replay.status_code == 400
    assert replay.json()["error"] == "invalid_grant" and replay.json()["log_id"]
    creator.token = body["access_token"]
    assert creator.creator_info()["creator_username"] == "alice"


def test_errors_come_in_tiktoks_envelope(tiktok: HostedFake, creator: Creator) -> None:
    """Refusals are JSON ``{"data": {}, "error": {"code", "message", "log_id"}}``."""
    size = 6 * MB

    bad_chunks = creator.init(
        "x",
        {"source": "FILE_UPLOAD", "video_size": size, "chunk_size": size, "total_chunk_count": 2},
    )
    private_only = creator.call(
        "/v2/post/publish/video/init/",
        {
            "post_info": {"title": "x", "privacy_level": "FOLLOWER_OF_CREATOR"},
            "source_info": {"source": "PULL_FROM_URL", "video_url": "https://example.com/a.mp4"},
        },
    )
    tiktok.faults(expire_tokens=True)
    expired = creator.call("/v2/post/publish/creator_info/query/")

    for answer, status, code in (
        (bad_chunks, 400, "invalid_params"),
        (private_only, 403, "privacy_level_option_mismatch"),
        (expired, 401, "access_token_invalid"),
    ):
        assert answer.status_code == status
        assert answer.headers["content-type"].startswith("application/json")
        assert answer.json()["data"] == {}
        assert answer.json()["error"]["code"] == code and answer.json()["error"]["log_id"]
    assert "total_chunk_count" in bad_chunks.json()["error"]["message"]
    assert tiktok.state()["posts"] == []
