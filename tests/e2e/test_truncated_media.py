"""Over real HTTP: a cut-off upload is refused with `media_truncated` and leaves nothing."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
import sqlalchemy as sa

from crosspost.media.samples import make_audio, make_image, make_video
from crosspost.store.tables import idempotency_keys, media, posts
from tests.e2e.conftest import Stack


def _rows(stack: Stack) -> dict[str, int]:
    with stack.svc.db.read() as conn:
        return {
            table.name: conn.execute(sa.select(sa.func.count()).select_from(table)).scalar_one()
            for table in (media, posts, idempotency_keys)
        }


def _stored_files(stack: Stack) -> list[Path]:
    return [p for p in stack.svc.settings.resolved_media_dir.rglob("*") if p.is_file()]


def test_half_an_mp4_is_refused_and_nothing_is_stored(stack: Stack, tmp_path: Path) -> None:
    """The reported case: the first half of a faststart mp4, sent as a raw body, answers 422
    `media_truncated` naming expected and actual bytes; no row, no file, no usage."""
    whole = make_video(tmp_path / "clip.mp4", seconds=2.0).read_bytes()
    half = whole[: len(whole) // 2]
    before = _rows(stack)
    response = stack.http.post(
        "/v1/media",
        content=half,
        headers={"Content-Type": "video/mp4", "X-Filename": "clip.mp4", "Idempotency-Key": "k1"},
    )
    assert response.status_code == 422, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    problem = response.json()
    assert problem["code"] == "media_truncated"
    assert problem["expected_bytes"] == len(whole)
    assert problem["actual_bytes"] == len(half)
    assert f"at byte {len(whole)} but the file has {len(half)} bytes" in problem["detail"]
    assert "upload the complete file" in problem["detail"]
    assert _rows(stack) == before
    assert _stored_files(stack) == []
    assert stack.http.get("/v1/usage").json()["tenant"]["bytes_uploaded"] == 0

    # The same key with the whole file is a corrected retry, not a conflicting reuse.
    retried = stack.http.post(
        "/v1/media",
        content=whole,
        headers={"Content-Type": "video/mp4", "X-Filename": "clip.mp4", "Idempotency-Key": "k1"},
    )
    assert retried.status_code == 201, retried.text


@pytest.mark.parametrize(
    ("name", "content_type", "make"),
    [
        ("moov-last.mp4", "video/mp4", lambda p: make_video(p, seconds=1.0, faststart=False)),
        ("tone.mp3", "audio/mpeg", lambda p: make_audio(p, seconds=1.0)),
        ("tone.wav", "audio/wav", lambda p: make_audio(p, seconds=1.0)),
        ("cover.jpg", "image/jpeg", lambda p: make_image(p, width=640, height=360)),
    ],
)
def test_cut_multipart_uploads_are_refused(
    stack: Stack, tmp_path: Path, name: str, content_type: str, make: Callable[[Path], Path]
) -> None:
    """Multipart uploads missing their last bytes (moov-at-end mp4, mp3, wav, and a JPEG
    meant as a thumbnail) are refused the same way, and nothing is stored."""
    data = make(tmp_path / name).read_bytes()
    before = _rows(stack)
    response = stack.http.post(
        "/v1/media", files={"file": (name, data[: len(data) - 3], content_type)}
    )
    assert response.status_code == 422, response.text
    problem = response.json()
    assert problem["code"] == "media_truncated"
    assert problem["actual_bytes"] == len(data) - 3
    assert problem.get("expected_bytes", len(data)) == len(data)
    assert _rows(stack) == before
    assert _stored_files(stack) == []


def test_whole_file_and_appended_bytes_are_accepted_and_publish(
    stack: Stack, tmp_path: Path
) -> None:
    """A whole mp4 with junk appended after it (players ignore it), is accepted and
    publishes to YouTube: the check refuses cut files, not whole ones."""
    whole = make_video(tmp_path / "clip.mp4", seconds=1.0).read_bytes()
    response = stack.http.post(
        "/v1/media",
        content=whole + b"appended, not media. " * 40,
        headers={"Content-Type": "video/mp4", "X-Filename": "clip.mp4"},
    )
    assert response.status_code == 201, response.text
    assert response.json()["duration_seconds"] == pytest.approx(1.0, abs=0.1)
    created = stack.http.post(
        "/v1/posts", json={"media_id": response.json()["id"], "targets": ["youtube"]}
    )
    assert created.status_code == 201, created.text
    post = stack.wait_post(created.json()["id"], lambda p: p["status"] in {"published", "failed"})
    assert post["status"] == "published", post
