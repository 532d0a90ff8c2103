"""SoundCloud's documented upload, the real ``curl -F`` binary, against the SoundCloud fake.

SoundCloud's API guide uploads a track with ``curl -F "track[asset_data]=@file"``; curl
labels the part ``application/octet-stream`` (it types only a few non-audio suffixes), and
other clients send no Content-Type at all. SoundCloud judges the bytes, so must the fake.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
import requests

from crosspost.fakes import FakeConfig, RunningServer, create_sandbox_app, serve_in_thread
from crosspost.media.samples import make_audio, make_video

CURL = shutil.which("curl")
needs_curl = pytest.mark.skipif(CURL is None, reason="the curl binary is not installed")
DEADLINE_SECONDS = 10.0


@dataclass(frozen=True)
class Reply:
    """What curl printed: the status and the JSON body."""

    status: int
    body: dict[str, Any]


@dataclass
class SoundCloud:
    """The sandbox's SoundCloud fake and a consented account's token."""

    api: str
    token: str


@pytest.fixture(scope="module")
def sandbox() -> Iterator[RunningServer]:
    """Every fake on a real loopback port, on the real clock (processing takes 0.2 s)."""
    with serve_in_thread(create_sandbox_app(FakeConfig())) as server:
        yield server


@pytest.fixture
def soundcloud(sandbox: RunningServer) -> SoundCloud:
    """The fake reset, with one consented account."""
    with httpx.Client(base_url=sandbox.url) as http:
        http.post("/soundcloud/_fake/reset").raise_for_status()
        created = http.post("/soundcloud/_fake/accounts", json={"handle": "beatmaker"})
        token: str = created.raise_for_status().json()["access_token"]
    return SoundCloud(f"{sandbox.url}/soundcloud", token)


@pytest.fixture(scope="module")
def media(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """A real MP3 and WAV, and a video saved under an audio name."""
    folder = tmp_path_factory.mktemp("sc")
    return {
        "mp3": make_audio(folder / "song.mp3", seconds=1.0),
        "wav": make_audio(folder / "take.wav", seconds=0.5),
        "video": make_video(folder / "clip.mp4", seconds=0.5).rename(folder / "not-a-song.mp3"),
    }


def curl(*args: str) -> Reply:
    """Run curl; its JSON body and, from ``-w``, the HTTP status."""
    assert CURL is not None
    done = subprocess.run(
        [CURL, "--silent", "--show-error", "--write-out", "\n%{http_code}", *args],
        capture_output=True,
        check=True,
        timeout=60,
    )
    body, _, status = done.stdout.decode().rpartition("\n")
    return Reply(int(status), json.loads(body))


def upload(sc: SoundCloud, title: str, asset: str) -> Reply:
    """The API guide's upload command, with ``asset`` as the ``track[asset_data]`` form value."""
    return curl(
        "-X",
        "POST",
        f"{sc.api}/tracks",
        "-H",
        "accept: application/json; charset=utf-8",
        "-H",
        "Content-Type: multipart/form-data",
        "-H",
        f"Authorization: OAuth {sc.token}",
        "-F",
        f"track[title]={title}",
        "-F",
        f"track[asset_data]={asset}",
    )


def wait_finished(sc: SoundCloud, urn: str) -> dict[str, Any]:
    """Poll ``GET /tracks/{urn}`` with curl until the track is no longer processing, or fail."""
    deadline = time.monotonic() + DEADLINE_SECONDS
    while True:
        track = curl(f"{sc.api}/tracks/{urn}", "-H", f"Authorization: OAuth {sc.token}").body
        if track["state"] != "processing" or time.monotonic() > deadline:
            return track
        time.sleep(0.05)


@needs_curl
def test_documented_curl_upload_publishes(soundcloud: SoundCloud, media: dict[str, Path]) -> None:
    """``-F track[asset_data]=@song.mp3`` (sent as application/octet-stream) makes a track."""
    reply = upload(soundcloud, "Night drive", f"@{media['mp3']}")
    assert reply.status == 201, reply.body
    assert reply.body["title"] == "Night drive" and reply.body["original_format"] == "mp3"
    track = wait_finished(soundcloud, reply.body["urn"])
    assert track["state"] == "finished"
    assert track["original_content_size"] == media["mp3"].stat().st_size


@needs_curl
def test_curl_with_an_empty_content_type_publishes(
    soundcloud: SoundCloud, media: dict[str, Path]
) -> None:
    """A part whose Content-Type header is empty (``;headers="Content-Type:"``) makes a track."""
    reply = upload(soundcloud, "Take one", f'@{media["wav"]};headers="Content-Type:"')
    assert reply.status == 201, reply.body
    assert reply.body["original_format"] == "wav"


@needs_curl
def test_curl_with_a_video_is_refused(soundcloud: SoundCloud, media: dict[str, Path]) -> None:
    """A video under an .mp3 name is SoundCloud's 422 error JSON, and no track exists."""
    reply = upload(soundcloud, "Not a song", f"@{media['video']}")
    assert reply.status == 422
    assert reply.body["code"] == 422 and reply.body["link"]
    assert "not audio" in reply.body["errors"][0]["error_message"]
    mine = curl(f"{soundcloud.api}/me/tracks", "-H", f"Authorization: OAuth {soundcloud.token}")
    assert mine.body == []


def test_part_without_content_type_publishes(
    soundcloud: SoundCloud, media: dict[str, Path]
) -> None:
    """requests' ``files={name: (filename, file)}`` sends the part with no Content-Type."""
    with media["mp3"].open("rb") as song:
        prepared = requests.Request(
            "POST",
            f"{soundcloud.api}/tracks",
            data={"track[title]": "Untyped"},
            files={"track[asset_data]": ("song.mp3", song)},
            headers={"Authorization": f"OAuth {soundcloud.token}"},
        ).prepare()
        assert isinstance(prepared.body, bytes)
        assert prepared.body.count(b"Content-Type") == 0  # the multipart really has none
        with requests.Session() as session:
            response = session.send(prepared, timeout=30)
    assert response.status_code == 201, response.text
    assert response.json()["original_format"] == "mp3"
