"""The YouTube fake's one-request (``uploadType=multipart``) insert, over real HTTP."""

from __future__ import annotations

import hashlib
import json
import random

import httpx
import pytest

from crosspost.fakes.youtube_multipart import RelatedBody

from .conftest import Sandbox, bearer

URL = "/youtube/upload/youtube/v3/videos?uploadType=multipart&part=snippet,status"
BOUNDARY = "===============7330845974216740156=="


def related(
    metadata: bytes, media: bytes, media_type: str = "video/mp4", eol: bytes = b"\n"
) -> bytes:
    """A multipart/related body the way MIME generators write it, with `eol` line ends."""
    dash = b"--" + BOUNDARY.encode()
    lines = [
        dash,
        b"Content-Type: application/json",
        b"MIME-Version: 1.0",
        b"",
        metadata,
        dash,
        b"Content-Type: " + media_type.encode(),
        b"Content-Transfer-Encoding: binary",
        b"",
        media,
        dash + b"--",
        b"",
    ]
    return eol.join(lines)


def insert(sandbox: Sandbox, token: dict[str, str], body: bytes) -> httpx.Response:
    """POST a multipart insert."""
    headers = {**token, "Content-Type": f'multipart/related; boundary="{BOUNDARY}"'}
    return sandbox.http.post(URL, content=body, headers=headers)


@pytest.mark.parametrize("eol", [b"\n", b"\r\n"], ids=["lf", "crlf"])
def test_multipart_insert_creates_one_whole_video(sandbox: Sandbox, eol: bytes) -> None:
    """LF (what google-api-python-client writes) and CRLF bodies both make one video, whose
    bytes are exactly the media part's, even when the media holds line ends itself."""
    account = sandbox.account("youtube")
    media = random.Random(3).randbytes(300_000) + b"\r\n--not-the-boundary\n"
    meta = json.dumps({"snippet": {"title": "One go"}, "status": {"privacyStatus": "private"}})

    answer = insert(sandbox, bearer(account), related(meta.encode(), media, eol=eol))

    assert answer.status_code == 200, answer.text
    video = answer.json()
    assert video["snippet"]["title"] == "One go" and video["status"]["privacyStatus"] == "private"
    (post,) = sandbox.state("youtube")["posts"]
    assert post["id"] == video["id"] and post["size"] == len(media)
    assert post["sha256"] == hashlib.sha256(media).hexdigest()


@pytest.mark.parametrize(
    ("body", "content_type", "reason"),
    [
        (related(b'{"snippet": {"title": ""}}', b"x" * 10), None, "invalidTitle"),
        (related(b'{"snippet": {"title": "t"}}', b"hello", "text/plain"), None, "badContent"),
        (related(b'{"snippet": {"title": "t"}}', b""), None, "mediaBodyRequired"),
        (related(b'{"snippet": {"title": "t"}}', b"x")[:-8], None, "badContent"),
        (b"--" + BOUNDARY.encode() + b"--\n", None, "badContent"),
        (related(b'{"snippet": {"title": "t"}}', b"x"), "multipart/form-data", "badContent"),
    ],
    ids=["bad-title", "not-video", "empty-media", "no-closing", "no-parts", "not-related"],
)
def test_multipart_refusals(
    sandbox: Sandbox, body: bytes, content_type: str | None, reason: str
) -> None:
    """Each malformed or invalid multipart insert is a 400 in Google's error shape."""
    account = sandbox.account("youtube")
    headers = {**bearer(account)}
    if content_type:
        headers["Content-Type"] = f"{content_type}; boundary={BOUNDARY}"
    else:
        headers["Content-Type"] = f'multipart/related; boundary="{BOUNDARY}"'

    answer = sandbox.http.post(URL, content=body, headers=headers)

    assert answer.status_code == 400, answer.text
    assert answer.json()["error"]["errors"][0]["reason"] == reason
    assert sandbox.state("youtube")["posts"] == []


def test_the_reader_finds_the_same_parts_however_the_body_is_split() -> None:
    """Fed in pieces of any size, the streaming reader yields the same headers and bytes."""
    media = random.Random(5).randbytes(4096) + b"\r\n--" + BOUNDARY.encode()[:-1] + b"\r\r\n"
    body = related(b'{"a": 1}', media, eol=b"\r\n")
    for size in (1, 2, 3, 7, 64, 1000, len(body)):
        reader = RelatedBody(BOUNDARY.encode())
        problems = [reader.feed(body[i : i + size]) for i in range(0, len(body), size)]
        assert problems == [None] * len(problems) and reader.finish() is None, size
        metadata, part = reader.parts
        assert bytes(metadata.kept) == b'{"a": 1}'
        assert part.headers["content-type"] == "video/mp4"
        assert part.hasher.hexdigest() == hashlib.sha256(media).hexdigest(), size
