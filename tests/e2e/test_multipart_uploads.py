"""Multipart uploads over real HTTP, on SQLite and PostgreSQL: a malformed body is a 400
`invalid_multipart` that says what is wrong, nothing is stored, and the server answers even
when it refuses before reading the whole body."""

from __future__ import annotations

import socket
from pathlib import Path
from typing import Any

import httpx
import pytest
import sqlalchemy as sa

from crosspost.media.samples import make_video
from crosspost.store.tables import media
from tests.e2e.conftest import Stack

_TYPE = "multipart/form-data; boundary=X"
_BIG = 16 * 1024 * 1024


def _part(headers: bytes, data: bytes = b"data") -> bytes:
    return b"--X\r\n" + headers + b"\r\n\r\n" + data + b"\r\n"


_FILE = b'Content-Disposition: form-data; name="file"; filename="a.mp4"'
_END = b"--X--\r\n"

CASES: list[tuple[str, str, bytes, int, str, list[str]]] = [
    # (id, Content-Type, body, status, code, words the detail must hold)
    ("fuzzer", _TYPE, b"--X\r\n[[[], {}], None]--X--\r\n", 400, "invalid_multipart",
     ["part 1", "headers"]),
    ("no boundary", "multipart/form-data", _part(_FILE) + _END, 400, "invalid_multipart",
     ["no boundary parameter"]),
    ("long boundary", "multipart/form-data; boundary=" + "b" * 71, b"x", 400,
     "invalid_multipart", ["71 characters", "1 to 70"]),
    ("empty", _TYPE, b"", 400, "invalid_multipart", ["empty", "--X"]),
    ("garbage", _TYPE, b"garbage", 400, "invalid_multipart",
     ["byte 0", "before the first part", "--X"]),
    ("wrong boundary", _TYPE, b"--Y\r\n" + _FILE + b"\r\n\r\nx\r\n--Y--\r\n", 400,
     "invalid_multipart", ["before the first part"]),
    ("no disposition", _TYPE, _part(b"Content-Type: video/mp4") + _END, 400,
     "invalid_multipart", ["part 1 has no Content-Disposition"]),
    ("not form-data", _TYPE, _part(b'Content-Disposition: attachment; name="file"') + _END,
     400, "invalid_multipart", ["part 1 has Content-Disposition 'attachment"]),
    ("unterminated", _TYPE, _part(_FILE), 400, "invalid_multipart",
     ["without the closing line --X--", "cut short"]),
    ("cut mid-part", _TYPE, b"--X\r\n" + _FILE + b"\r\n\r\nhalf a fi", 400,
     "invalid_multipart", ["without the closing line"]),
    ("two files", _TYPE, _part(_FILE) + _part(_FILE) + _END, 400, "invalid_multipart",
     ["part 2 is a second part named `file`"]),
    ("huge header", _TYPE, _part(_FILE + b"\r\nX-Pad: " + b"p" * 10_000) + _END, 400,
     "invalid_multipart", ["headers of part 1 exceed"]),
    ("many headers", _TYPE,
     _part(_FILE + b"".join(b"\r\nX-%d: 1" % i for i in range(20))) + _END, 400,
     "invalid_multipart", ["part 1 has more than"]),
    ("many parts", _TYPE,
     b"".join(_part(b'Content-Disposition: form-data; name="f%d"' % i) for i in range(40))
     + _END, 400, "invalid_multipart", ["more than 32 parts"]),
    ("non-UTF-8 name", _TYPE, _part(b'Content-Disposition: form-data; name="\xff"') + _END,
     422, "file_part_missing", ["form field `file`"]),
    ("long part type", _TYPE, _part(_FILE + b"\r\nContent-Type: video/" + b"x" * 200) + _END,
     400, "invalid_content_type", ["the `file` part's Content-Type", "at most 100"]),
    ("NUL in file name", _TYPE,
     _part(b'Content-Disposition: form-data; name="file"; filename="a\x00.mp4"') + _END,
     422, "nul_character", ["file name"]),
]  # fmt: skip


def _stored(stack: Stack) -> tuple[int, list[Path]]:
    with stack.svc.db.read() as conn:
        rows = conn.execute(sa.select(sa.func.count()).select_from(media)).scalar_one()
    files = stack.svc.settings.resolved_media_dir.rglob("*")
    return int(rows), sorted(p for p in files if p.is_file())


def _check(response: httpx.Response, status: int, code: str, words: list[str]) -> None:
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/problem+json"
    problem: dict[str, Any] = response.json()
    assert problem["code"] == code, problem
    for word in words:
        assert word in problem["detail"], problem["detail"]


@pytest.mark.parametrize(
    ("content_type", "body", "status", "code", "words"),
    [c[1:] for c in CASES],
    ids=[c[0] for c in CASES],
)
def test_malformed_multipart_bodies_are_explained(
    stack: Stack, content_type: str, body: bytes, status: int, code: str, words: list[str]
) -> None:
    """Each malformed body is refused with what is wrong, and leaves no row or file."""
    before = _stored(stack)
    response = stack.http.post("/v1/media", content=body, headers={"Content-Type": content_type})
    _check(response, status, code, words)
    assert _stored(stack) == before


def test_a_cut_off_upload_of_a_real_video_is_refused(stack: Stack, tmp_path: Path) -> None:
    """A multipart body that stops before its closing boundary is a cut-short upload, not a
    file: even when the bytes received probe as a video, nothing is stored."""
    path = tmp_path / "v.mp4"
    make_video(path, seconds=1.0)
    whole = _part(_FILE + b"\r\nContent-Type: video/mp4", path.read_bytes()) + _END
    before = _stored(stack)
    cut = stack.http.post("/v1/media", content=whole[: -len(_END)], headers={"Content-Type": _TYPE})
    _check(cut, 400, "invalid_multipart", ["without the closing line --X--"])
    assert _stored(stack) == before
    sent = stack.http.post("/v1/media", content=whole, headers={"Content-Type": _TYPE})
    assert sent.status_code == 201, sent.text


def test_a_raw_upload_with_an_overlong_type_is_refused(stack: Stack) -> None:
    """The media type is stored in a 100-character column: a longer one is a 400 (it was a
    500 on PostgreSQL), and so is one that is not type/subtype."""
    for kind in ("video/" + "x" * 200, "video/mp4 mp4"):
        response = stack.http.post("/v1/media", content=b"x", headers={"Content-Type": kind})
        _check(response, 400, "invalid_content_type", ["type/subtype"])


def test_other_form_fields_beside_the_file_are_ignored(stack: Stack, tmp_path: Path) -> None:
    """A well-formed body with extra fields around `file` is accepted."""
    path = tmp_path / "v.mp4"
    make_video(path, seconds=1.0)
    response = stack.http.post(
        "/v1/media",
        data={"title": "hello", "note": "x"},
        files={"file": ("v.mp4", path.read_bytes(), "video/mp4; codecs=avc1")},
    )
    assert response.status_code == 201, response.text
    assert response.json()["content_type"] == "video/mp4"


@pytest.mark.parametrize("connection", ["close", "keep-alive"])
@pytest.mark.parametrize(
    ("content_type", "body", "status"),
    [
        (_TYPE, b"--X\r\n[[[], {}], None]--X--\r\n" + b"z" * _BIG, 400),
        ("text/plain", b"z" * _BIG, 415),
    ],
    ids=["malformed", "wrong type"],
)
def test_an_early_refusal_is_answered_to_a_client_still_sending(
    stack: Stack, connection: str, content_type: str, body: bytes, status: int
) -> None:
    """The fuzzer once got a reset and no answer: the server refused at the first bytes and
    closed with the rest of a large body unread, so the kernel reset the connection under
    a client still writing. A client that writes its whole request before reading must
    get the answer."""
    host, port = stack.api_url.removeprefix("http://").split(":")
    head = (
        f"POST /v1/media HTTP/1.1\r\nHost: api\r\nAuthorization: Bearer {stack.key}\r\n"
        f"Content-Type: {content_type}\r\nContent-Length: {len(body)}\r\n"
        f"Connection: {connection}\r\n\r\n"
    ).encode()
    for _ in range(3):
        with socket.create_connection((host, int(port)), timeout=30) as sock:
            sock.sendall(head + body)
            answer = b""
            while not answer.endswith(b"}"):
                chunk = sock.recv(65536)
                if not chunk:
                    break
                answer += chunk
        assert answer.startswith(f"HTTP/1.1 {status} ".encode()), answer[:200]
        assert b"application/problem+json" in answer


@pytest.fixture
def media_store(media_store_url: str | None) -> str | None:
    """This suite runs on local disk and on S3 (a real S3-compatible server over HTTP)."""
    return media_store_url
