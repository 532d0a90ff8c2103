"""Resumable uploads with tus 1.0.0 over real HTTP, driven by tus's own Python client
(tuspy): a whole file, chunks with sha1 and sha256 checksums, a client SIGKILLed mid-upload
that a new client resumes from the same URL store to a byte-identical media item, a PATCH
cut off mid-body, and every refusal the protocol names: 409 offset mismatch, 460 checksum
mismatch, 412 version, 413 size, termination, expiry purged by maintenance (injected
clock)."""

from __future__ import annotations

import base64
import hashlib
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
import sqlalchemy as sa
from tusclient.client import TusClient
from tusclient.storage.filestorage import FileStorage
from tusclient.uploader import Uploader

from crosspost.clock import FrozenClock
from crosspost.engine import tus
from crosspost.media.samples import make_corrupt, make_video
from crosspost.store.tables import media as media_table
from crosspost.store.tables import tus_uploads
from tests.e2e.conftest import Stack, expect_problem

TUS = {"Tus-Resumable": "1.0.0"}
CLIENT_SCRIPT = """
import sys, time
from tusclient.client import TusClient
from tusclient.storage.filestorage import FileStorage


api, key, path, store, chunk = sys.argv[1:6]
client = TusClient(api + "/v1/uploads/tus", headers={"Authorization": "Bearer " + key})
uploader = client.uploader(path, chunk_size=int(chunk), store_url=True,
                           url_storage=FileStorage(store),
                           metadata={"filename": "clip.mp4", "filetype": "video/mp4"})
uploader.upload(stop_at=uploader.get_file_size() // 2)
time.sleep(600)  # the test kills this process here, half way
"""


class Sha256Uploader(Uploader):
    """tuspy's uploader with SHA-256 checksums (it sends SHA-1 by default)."""

    CHECKSUM_ALGORITHM_PAIR = ("sha256", hashlib.sha256)


@pytest.fixture
def clip(tmp_path: Path) -> Path:
    """A real two-second video (~100 kB)."""
    return make_video(tmp_path / "clip.mp4", seconds=2.0)


def _client(stack: Stack) -> TusClient:
    return TusClient(
        f"{stack.api_url}/v1/uploads/tus", headers={"Authorization": f"Bearer {stack.key}"}
    )


def _media(stack: Stack, media_id: str) -> dict[str, Any]:
    answer = stack.http.get(f"/v1/media/{media_id}")
    assert answer.status_code == 200, answer.text
    return dict(answer.json())


def _create(stack: Stack, length: int, **headers: str) -> str:
    answer = stack.http.post(
        "/v1/uploads/tus", headers={**TUS, "Upload-Length": str(length), **headers}
    )
    assert answer.status_code == 201, answer.text
    return str(answer.headers["location"])


def _patch(stack: Stack, url: str, offset: int, data: bytes, **headers: str) -> httpx.Response:
    return stack.http.patch(
        url,
        content=data,
        headers={
            **TUS,
            "Content-Type": "application/offset+octet-stream",
            "Upload-Offset": str(offset),
            **headers,
        },
    )


def _head(stack: Stack, url: str) -> httpx.Response:
    return stack.http.head(url, headers=TUS)


def _head_refused(stack: Stack, url: str, status: int, **headers: str) -> None:
    """A HEAD refused with `status`: no body (HEAD), no offset, tus's header."""
    answer = stack.http.head(url, headers={**TUS, **headers})
    assert answer.status_code == status, answer.headers
    assert "upload-offset" not in answer.headers
    assert answer.headers["tus-resumable"] == "1.0.0"


def _uploads(stack: Stack) -> list[dict[str, Any]]:
    with stack.svc.db.read() as conn:
        return [dict(r) for r in conn.execute(sa.select(tus_uploads)).mappings()]


def _staged(stack: Stack, url: str) -> Path:
    return stack.svc.storage.staging.path(url.rsplit("/", 1)[-1])  # local in both stores


def test_options_say_what_the_server_supports(make_stack: Callable[..., Stack]) -> None:
    stack = make_stack(workers=0, max_upload_bytes=5_000_000)
    answer = stack.http.options("/v1/uploads/tus")
    assert answer.status_code == 204, answer.text
    assert answer.headers["tus-resumable"] == "1.0.0"
    assert answer.headers["tus-version"] == "1.0.0"
    assert set(answer.headers["tus-extension"].split(",")) == {
        "creation", "expiration", "checksum", "termination",
    }  # fmt: skip
    assert answer.headers["tus-max-size"] == "5000000"
    assert answer.headers["tus-checksum-algorithm"] == "sha1,sha256"


def test_a_whole_upload_becomes_a_media_item_like_any_upload(
    make_stack: Callable[..., Stack], clip: Path
) -> None:
    stack = make_stack(workers=0)
    data = clip.read_bytes()
    uploader = _client(stack).uploader(
        str(clip), metadata={"filename": "launch.mp4", "filetype": "video/mp4"}
    )
    uploader.upload()
    media_id = uploader.request.response_headers["crosspost-media-id"]
    item = _media(stack, media_id)
    assert (item["status"], item["kind"], item["filename"], item["content_type"]) == (
        "ready", "video", "launch.mp4", "video/mp4",
    )  # fmt: skip
    assert item["size_bytes"] == len(data)
    assert item["sha256"] == hashlib.sha256(data).hexdigest()
    assert stack.stored_bytes(media_id) == data
    assert stack.http.get("/v1/usage").json()["tenant"]["bytes_uploaded"] == len(data)

    head = _head(stack, uploader.url)
    assert head.status_code == 200
    assert head.headers["upload-offset"] == head.headers["upload-length"] == str(len(data))
    assert head.headers["crosspost-media-id"] == media_id
    assert head.headers["cache-control"] == "no-store"
    assert head.headers["tus-resumable"] == "1.0.0"
    assert "filename" in head.headers["upload-metadata"]
    shown = stack.http.get(uploader.url, headers=TUS).json()
    assert (shown["status"], shown["media_id"]) == ("complete", media_id)
    post = stack.http.post(
        "/v1/posts", json={"media_id": media_id, "text": "x", "targets": ["youtube"]}
    )
    assert post.status_code == 201, post.text
    assert not any(stack.svc.storage.staging.directory.iterdir())


@pytest.mark.parametrize("uploader_class", [Uploader, Sha256Uploader])
def test_a_chunked_upload_with_checksums(
    make_stack: Callable[..., Stack], clip: Path, uploader_class: type[Uploader]
) -> None:
    stack = make_stack(workers=0)
    data = clip.read_bytes()
    uploader = uploader_class(
        str(clip), client=_client(stack), chunk_size=16 * 1024, upload_checksum=True
    )
    uploader.upload()
    media_id = uploader.request.response_headers["crosspost-media-id"]
    assert _media(stack, media_id)["sha256"] == hashlib.sha256(data).hexdigest()
    assert _media(stack, media_id)["filename"] == media_id  # no name was given


def test_a_client_killed_mid_upload_resumes_to_an_identical_file(
    make_stack: Callable[..., Stack], clip: Path, tmp_path: Path
) -> None:
    """The client process dies half way (SIGKILL); a new client with the same URL store
    finds the upload, asks its offset and sends the rest: one upload, one media item, the
    same bytes."""
    stack = make_stack(workers=0)
    data = clip.read_bytes()
    store = tmp_path / "tus-urls.json"
    chunk = 8 * 1024
    client = subprocess.Popen(
        [sys.executable, "-c", CLIENT_SCRIPT, stack.api_url, stack.key, str(clip), str(store),
         str(chunk)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )  # fmt: skip
    try:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            rows = _uploads(stack)
            if rows and rows[0]["upload_offset"] > 0:
                break
            assert client.poll() is None, client.stderr.read() if client.stderr else ""
            time.sleep(0.02)
        else:
            pytest.fail("the client sent no bytes")
        url = f"{stack.api_url}/v1/uploads/tus/{rows[0]['id']}"
        assert int(_head(stack, url).headers["upload-offset"]) > 0
    finally:
        client.send_signal(signal.SIGKILL)
        client.wait(timeout=10)
        if client.stderr:
            client.stderr.close()
    # The server may still be taking in the PATCH the client sent before it died: the
    # offset is final once that request let go of the upload's lock.
    deadline = time.monotonic() + 30
    while _uploads(stack)[0]["lock_token"] is not None and time.monotonic() < deadline:
        time.sleep(0.02)
    assert _uploads(stack)[0]["lock_token"] is None, "the dead client's PATCH never ended"
    cut = int(_head(stack, url).headers["upload-offset"])
    assert 0 < cut < len(data), f"the kill came too late to test anything: {cut}"

    resumed = _client(stack).uploader(
        str(clip), chunk_size=chunk, store_url=True, url_storage=FileStorage(str(store)),
        metadata={"filename": "clip.mp4", "filetype": "video/mp4"},
    )  # fmt: skip
    assert resumed.url == url and resumed.offset == cut
    resumed.upload()
    media_id = resumed.request.response_headers["crosspost-media-id"]
    assert stack.stored_bytes(media_id) == data
    assert len(_uploads(stack)) == 1
    with stack.svc.db.read() as conn:
        assert [r[0] for r in conn.execute(sa.select(media_table.c.id))] == [media_id]


def test_a_patch_cut_off_keeps_the_bytes_that_arrived(
    make_stack: Callable[..., Stack], clip: Path
) -> None:
    stack = make_stack(workers=0)
    data = clip.read_bytes()
    url = _create(stack, len(data))
    half = len(data) // 2
    port = int(stack.api_url.rsplit(":", 1)[1])
    with socket.create_connection(("127.0.0.1", port)) as sock:
        head = (
            f"PATCH {url} HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer {stack.key}\r\n"
            "Tus-Resumable: 1.0.0\r\nContent-Type: application/offset+octet-stream\r\n"
            f"Upload-Offset: 0\r\nContent-Length: {len(data)}\r\n\r\n"
        )
        sock.sendall(head.encode() + data[:half])
        # The connection drops once the server has written what it was sent.
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline:
            if _staged(stack, url).is_file() and _staged(stack, url).stat().st_size == half:
                break
            time.sleep(0.01)
        else:
            pytest.fail("the server did not write the bytes it was sent")
    deadline = time.monotonic() + 15
    while _uploads(stack)[0]["lock_token"] is not None and time.monotonic() < deadline:
        time.sleep(0.02)
    assert int(_head(stack, url).headers["upload-offset"]) == half
    done = _patch(stack, url, half, data[half:])
    assert done.status_code == 204, done.text
    media_id = done.headers["crosspost-media-id"]
    assert stack.stored_bytes(media_id) == data


def test_a_wrong_offset_is_a_conflict(make_stack: Callable[..., Stack], clip: Path) -> None:
    stack = make_stack(workers=0)
    data = clip.read_bytes()
    url = _create(stack, len(data))
    assert _patch(stack, url, 0, data[:1000]).status_code == 204
    for offset in (0, 999, 1001):
        refused = _patch(stack, url, offset, data[offset : offset + 10])
        expect_problem(refused, 409, "offset_mismatch")
        assert refused.headers["upload-offset"] == "1000"
        assert refused.headers["tus-resumable"] == "1.0.0"
    assert _staged(stack, url).stat().st_size == 1000
    expect_problem(_patch(stack, url, 1000, data[1000:], **{"Upload-Offset": "x"}), 400)
    wrong_type = stack.http.patch(
        url, content=b"x", headers={**TUS, "Upload-Offset": "1000", "Content-Type": "video/mp4"}
    )
    expect_problem(wrong_type, 415, "offset_stream_required")
    too_much = _patch(stack, url, 1000, data[1000:] + b"extra")
    expect_problem(too_much, 413, "upload_length_exceeded")
    assert _head(stack, url).headers["upload-offset"] == "1000"


def test_a_wrong_checksum_discards_the_chunk(make_stack: Callable[..., Stack], clip: Path) -> None:
    stack = make_stack(workers=0)
    data = clip.read_bytes()
    url = _create(stack, len(data))
    chunk = data[:4096]
    wrong = base64.b64encode(hashlib.sha256(b"something else").digest()).decode()
    refused = _patch(stack, url, 0, chunk, **{"Upload-Checksum": f"sha256 {wrong}"})
    expect_problem(refused, 460, "checksum_mismatch")
    assert refused.headers["upload-offset"] == "0"
    assert _head(stack, url).headers["upload-offset"] == "0"
    assert _staged(stack, url).stat().st_size == 0
    for header, code in (
        ("md5 AAAA", "checksum_algorithm_unsupported"),
        ("sha256 not-base64!", "invalid_upload_checksum"),
        ("sha1", "invalid_upload_checksum"),
    ):
        expect_problem(_patch(stack, url, 0, chunk, **{"Upload-Checksum": header}), 400, code)
    right = base64.b64encode(hashlib.sha1(chunk, usedforsecurity=False).digest()).decode()
    accepted = _patch(stack, url, 0, chunk, **{"Upload-Checksum": f"sha1 {right}"})
    assert accepted.status_code == 204 and accepted.headers["upload-offset"] == "4096"


def test_the_tus_version_is_required(make_stack: Callable[..., Stack]) -> None:
    stack = make_stack(workers=0)
    for version in (None, "0.2.2", "2.0.0"):
        headers = {"Upload-Length": "100"} | ({"Tus-Resumable": version} if version else {})
        refused = stack.http.post("/v1/uploads/tus", headers=headers)
        body = expect_problem(refused, 412, "tus_version_unsupported")
        assert refused.headers["tus-version"] == "1.0.0", body
        assert refused.headers["tus-resumable"] == "1.0.0"
    url = _create(stack, 100)
    refused = stack.http.head(url)
    assert refused.status_code == 412 and refused.headers["tus-version"] == "1.0.0"
    expect_problem(
        stack.http.patch(
            url,
            content=b"x",
            headers={"Upload-Offset": "0", "Content-Type": "application/offset+octet-stream"},
        ),
        412,
    )
    assert [u["upload_offset"] for u in _uploads(stack)] == [0]
    # Without a key: refused as everywhere, still in tus's terms.
    anonymous = httpx.post(f"{stack.api_url}/v1/uploads/tus",
                           headers={**TUS, "Upload-Length": "100"})  # fmt: skip
    assert anonymous.status_code == 401 and anonymous.headers["tus-resumable"] == "1.0.0"


def test_creation_refuses_what_cannot_be_uploaded(make_stack: Callable[..., Stack]) -> None:
    stack = make_stack(workers=0, max_upload_bytes=10_000)
    too_big = stack.http.post("/v1/uploads/tus", headers={**TUS, "Upload-Length": "10001"})
    expect_problem(too_big, 413, "upload_too_large")
    assert too_big.headers["tus-max-size"] == "10000"
    for headers, status, code in (
        ({}, 400, "upload_length_missing"),
        ({"Upload-Length": "-1"}, 400, "invalid_upload_length"),
        ({"Upload-Length": "0"}, 422, "empty_upload"),
        ({"Upload-Defer-Length": "1"}, 400, "defer_length_unsupported"),
        (
            {"Upload-Length": "10", "Upload-Metadata": "filename ***"},
            400,
            "invalid_upload_metadata",
        ),
        (
            {"Upload-Length": "10", "Upload-Metadata": "a YQ==,a YQ=="},
            400,
            "invalid_upload_metadata",
        ),
        ({"Upload-Length": "10", "Upload-Metadata": "filename YQBi"}, 422, "nul_character"),
    ):
        refused = stack.http.post("/v1/uploads/tus", headers={**TUS, **headers})
        expect_problem(refused, status, code)
    quota = {"metric": "bytes_uploaded", "hard_limit": 50}
    assert stack.http.put("/v1/usage/quotas", json=quota).is_success
    over = stack.http.post("/v1/uploads/tus", headers={**TUS, "Upload-Length": "51"})
    expect_problem(over, 402, "quota_exceeded")
    assert _uploads(stack) == []


def test_a_file_that_is_no_media_fails_at_its_last_byte(
    make_stack: Callable[..., Stack], tmp_path: Path
) -> None:
    stack = make_stack(workers=0)
    data = make_corrupt(tmp_path / "bad.mp4").read_bytes()
    url = _create(stack, len(data))
    refused = _patch(stack, url, 0, data)
    expect_problem(refused, 422, "media_unreadable")
    shown = stack.http.get(url, headers=TUS).json()
    assert shown["status"] == "failed" and shown["error"]["code"] == "media_unreadable"
    assert shown["media_id"] is not None
    expect_problem(stack.http.get(f"/v1/media/{shown['media_id']}"), 404)
    assert not _staged(stack, url).exists()
    assert not stack.svc.storage.exists(shown["media_id"])


def test_termination_deletes_the_upload_and_its_bytes(
    make_stack: Callable[..., Stack], clip: Path
) -> None:
    stack = make_stack(workers=0)
    data = clip.read_bytes()
    url = _create(stack, len(data))
    assert _patch(stack, url, 0, data[:5000]).status_code == 204
    assert _staged(stack, url).is_file()
    gone = stack.http.delete(url, headers=TUS)
    assert gone.status_code == 204 and gone.headers["tus-resumable"] == "1.0.0"
    assert not _staged(stack, url).exists()
    _head_refused(stack, url, 404)
    expect_problem(_patch(stack, url, 5000, data[5000:]), 404, "upload_not_found")
    # A client that cannot send DELETE says so with X-HTTP-Method-Override.
    other = _create(stack, len(data))
    overridden = stack.http.post(other, headers={**TUS, "X-HTTP-Method-Override": "DELETE"})
    assert overridden.status_code == 204, overridden.text
    assert _uploads(stack) == []


def test_an_expired_upload_is_refused_then_purged(
    make_stack: Callable[..., Stack], clip: Path
) -> None:
    clock = FrozenClock(datetime.now(UTC).replace(microsecond=0))
    stack = make_stack(workers=0, clock=clock, tus_expiry_hours=1)
    data = clip.read_bytes()
    url = _create(stack, len(data))
    clock.advance(600)
    patched = _patch(stack, url, 0, data[:3000])
    assert patched.status_code == 204
    # Each PATCH moves the expiry on: an hour after the last bytes.
    assert patched.headers["upload-expires"] == format_datetime(
        clock.now() + timedelta(hours=1), usegmt=True
    )
    assert tus.purge_expired(stack.svc, clock.now()) == 0
    clock.advance(3600 + 1)
    _head_refused(stack, url, 410)
    expect_problem(_patch(stack, url, 3000, data[3000:]), 410, "upload_expired")
    assert _staged(stack, url).is_file()
    assert tus.purge_expired(stack.svc, clock.now()) == 1
    assert not _staged(stack, url).exists()
    assert _uploads(stack) == []
    _head_refused(stack, url, 404)


def test_uploads_of_another_tenant_are_not_found(make_stack: Callable[..., Stack]) -> None:
    stack = make_stack(workers=0)
    url = stack.api_url + _create(stack, 100)
    key = stack.other_tenant_key()
    other = {**TUS, "Authorization": f"Bearer {key}"}
    expect_problem(httpx.get(url, headers=other), 404, "upload_not_found")
    patch = {**other, "Upload-Offset": "0", "Content-Type": "application/offset+octet-stream"}
    expect_problem(httpx.patch(url, content=b"x" * 10, headers=patch), 404)
    expect_problem(httpx.delete(url, headers=other), 404)
    assert [u["upload_offset"] for u in _uploads(stack)] == [0]


@pytest.fixture
def media_store(media_store_url: str | None) -> str | None:
    """This suite runs on local disk and on S3 (a real S3-compatible server over HTTP)."""
    return media_store_url
