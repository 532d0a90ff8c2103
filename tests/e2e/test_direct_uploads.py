"""Direct uploads over real HTTP, on local disk and on S3 (moto's server), SQLite and
PostgreSQL: POST /v1/uploads, a PUT with httpx to the URL it answers with exactly the headers
it names, then POST /v1/uploads/{id}/complete; every refusal, idempotency, tenant isolation,
the maintenance purge (injected clock) and `crosspost upload`.

What the PUT must carry is checked by whoever serves it. On local disk that is crosspost: a
wrong type, length, checksum, signature or an expired URL is refused before anything is
kept. On S3 it is the store, and moto's server checks none of it (it ignores presigned
signatures, expiry and x-amz-checksum-sha256); what holds there is what `complete` checks
itself: the declared size and SHA-256, so a wrong body never becomes a media item.
"""

from __future__ import annotations

import base64
import hashlib
import json
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit

import httpx
import pytest
import sqlalchemy as sa
from typer.testing import CliRunner

from crosspost.cli import app as cli_app
from crosspost.clock import FrozenClock
from crosspost.domain.enums import KeyRole, Mode
from crosspost.engine import direct_uploads, tenants
from crosspost.engine.keys import issue_key
from crosspost.identity.audit import Actor
from crosspost.media.samples import make_corrupt, make_video
from crosspost.store.tables import direct_uploads as upload_table
from crosspost.store.tables import media as media_table
from tests.e2e.conftest import Stack, expect_problem


@pytest.fixture
def clip(tmp_path: Path) -> Path:
    """A real two-second video (~100 kB)."""
    return make_video(tmp_path / "clip.mp4", seconds=2.0)


def _on_s3(stack: Stack) -> bool:
    return stack.svc.settings.media_store is not None


def _create(stack: Stack, data: bytes, *, sha256: bool = True, **extra: Any) -> dict[str, Any]:
    body: dict[str, Any] = {"filename": "launch.mp4", "content_type": "video/mp4",
                            "size": len(data), **extra}  # fmt: skip
    if sha256:
        body["sha256"] = hashlib.sha256(data).hexdigest()
    answer = stack.http.post("/v1/uploads", json=body)
    assert answer.status_code == 201, answer.text
    return dict(answer.json())


def _put(upload: dict[str, Any], data: bytes, **headers: str) -> httpx.Response:
    """The PUT a client sends: the URL and headers the upload gave, and no API key."""
    sent = {**upload["headers"], **headers}
    return httpx.put(upload["upload_url"], content=data, headers=sent, trust_env=False)


def _complete(stack: Stack, upload_id: str) -> httpx.Response:
    return stack.http.post(f"/v1/uploads/{upload_id}/complete")


def _rows(stack: Stack) -> list[dict[str, Any]]:
    with stack.svc.db.read() as conn:
        return [dict(r) for r in conn.execute(sa.select(upload_table)).mappings()]


def _media_rows(stack: Stack) -> int:
    with stack.svc.db.read() as conn:
        return len(conn.execute(sa.select(media_table.c.id)).all())


def _used_bytes(stack: Stack) -> int:
    return int(stack.http.get("/v1/usage").json()["tenant"]["bytes_uploaded"])


def test_a_direct_upload_becomes_a_media_item(make_stack: Callable[..., Stack], clip: Path) -> None:
    """Create, PUT with exactly the headers given, complete: the media item is the file
    (size, sha256, name, type, probe), counted once; a second complete answers the same."""
    stack = make_stack(workers=0)
    data = clip.read_bytes()
    upload = _create(stack, data)
    assert upload["id"].startswith("upl_") and upload["status"] == "pending"
    assert (upload["method"], upload["max_bytes"], upload["media_id"]) == ("PUT", len(data), None)
    assert upload["headers"] == {
        "Content-Type": "video/mp4",
        "Content-Length": str(len(data)),
        "x-amz-checksum-sha256": base64.b64encode(hashlib.sha256(data).digest()).decode(),
    }
    expires = datetime.fromisoformat(upload["expires_at"])
    assert timedelta(minutes=59) < expires - datetime.now(UTC) <= timedelta(hours=1)
    if _on_s3(stack):
        assert upload["upload_url"].startswith(stack.svc.storage.client.meta.endpoint_url)
        assert "X-Amz-Signature=" in upload["upload_url"]
    else:
        assert upload["upload_url"].startswith(
            f"{stack.api_url}/v1/uploads/{upload['id']}/content?"
        )
    assert stack.http.get("/v1/media").json()["data"] == []

    put = _put(upload, data)
    assert put.status_code == 200, put.text
    done = _complete(stack, upload["id"])
    assert done.status_code == 200, done.text
    shown = done.json()
    assert shown["status"] == "complete" and shown["upload_url"] is None
    media_id = shown["media_id"]
    item = stack.http.get(f"/v1/media/{media_id}").json()
    assert (item["status"], item["kind"], item["filename"], item["content_type"]) == (
        "ready", "video", "launch.mp4", "video/mp4",
    )  # fmt: skip
    assert (item["size_bytes"], item["sha256"]) == (len(data), hashlib.sha256(data).hexdigest())
    assert item["duration_seconds"] == pytest.approx(2.0, abs=0.1)
    assert stack.stored_bytes(media_id) == data
    assert _used_bytes(stack) == len(data)

    again = _complete(stack, upload["id"])
    assert again.status_code == 200 and again.json() == shown
    assert stack.http.get(f"/v1/uploads/{upload['id']}").json() == shown
    assert _used_bytes(stack) == len(data) and _media_rows(stack) == 1
    post = stack.http.post("/v1/posts", json={"media_id": media_id, "text": "x",
                                              "targets": ["youtube"]})  # fmt: skip
    assert post.status_code == 201, post.text


def test_idempotency_key_answers_the_same_upload(
    make_stack: Callable[..., Stack], clip: Path
) -> None:
    """The same Idempotency-Key and body answer the same upload (its URL signed afresh,
    never stored); the key with another body is refused."""
    stack = make_stack(workers=0)
    data = clip.read_bytes()
    body = {"filename": "a.mp4", "content_type": "video/mp4", "size": len(data)}
    key = {"Idempotency-Key": "upload-1"}
    first = stack.http.post("/v1/uploads", json=body, headers=key)
    second = stack.http.post("/v1/uploads", json=body, headers=key)
    assert first.status_code == second.status_code == 201, second.text
    assert second.headers["idempotent-replayed"] == "true"
    assert second.json()["id"] == first.json()["id"] and second.json()["upload_url"]
    assert len(_rows(stack)) == 1
    other = stack.http.post("/v1/uploads", json={**body, "size": 5}, headers=key)
    expect_problem(other, 422, "idempotency_key_reused")
    assert _put(second.json(), data).status_code == 200
    assert _complete(stack, first.json()["id"]).json()["status"] == "complete"


def test_creation_refuses_what_cannot_be_uploaded(make_stack: Callable[..., Stack]) -> None:
    """Too large, not media, empty, a malformed sha256, unknown fields, and past the month's
    quota: refused before any URL is handed out."""
    stack = make_stack(workers=0, max_upload_bytes=10_000)
    good = {"filename": "a.mp4", "content_type": "video/mp4", "size": 100}
    expect_problem(stack.http.post("/v1/uploads", json={**good, "size": 10_001}), 413,
                   "upload_too_large")  # fmt: skip
    for wrong in (
        {"content_type": "application/pdf"},
        {"content_type": "video"},
        {"size": 0},
        {"sha256": "abc"},
        {"filename": ""},
        {"expires_in": 10},
        {"bucket": "elsewhere"},
    ):
        expect_problem(stack.http.post("/v1/uploads", json={**good, **wrong}), 422)
    quota = {"metric": "bytes_uploaded", "hard_limit": 50}
    assert stack.http.put("/v1/usage/quotas", json=quota).is_success
    expect_problem(stack.http.post("/v1/uploads", json=good), 402, "quota_exceeded")
    assert _rows(stack) == []


def test_a_put_that_breaks_the_contract_is_refused_and_nothing_kept(
    make_stack: Callable[..., Stack], clip: Path
) -> None:
    """Locally: a wrong type, length or checksum, or none, is refused before a byte is
    kept. On S3 (moto checks none of it) the wrong file is stored, but `complete` finds
    the size or the SHA-256 wrong, deletes it and takes a correct PUT after."""
    stack = make_stack(workers=0)
    data = clip.read_bytes()
    upload = _create(stack, data)
    media_id = _rows(stack)[0]["media_id"]
    other = bytes(reversed(data))
    if not _on_s3(stack):
        refusals = [
            (_put(upload, data, **{"Content-Type": "image/png"}), 400, "content_type_mismatch"),
            (_put(upload, data[:-1], **{"Content-Length": str(len(data) - 1)}), 400,
             "content_length_mismatch"),
            (_put(upload, data + b"x", **{"Content-Length": str(len(data) + 1)}), 413,
             "upload_too_large"),
            (_put(upload, other), 400, "checksum_mismatch"),
            (_put(upload, data, **{"x-amz-checksum-sha256": "bm9wZQ=="}), 400,
             "checksum_mismatch"),
        ]  # fmt: skip
        for answer, status, code in refusals:
            expect_problem(answer, status, code)
            assert not stack.svc.storage.exists(media_id)
        headers = {k: v for k, v in upload["headers"].items() if k != "x-amz-checksum-sha256"}
        bare = httpx.put(upload["upload_url"], content=data, headers=headers, trust_env=False)
        expect_problem(bare, 400, "checksum_missing")
        chunked = httpx.put(upload["upload_url"], content=iter([data]),
                            headers={"Content-Type": "video/mp4"}, trust_env=False)  # fmt: skip
        expect_problem(chunked, 411, "length_required")
        assert stack.stored_everything() == []
    else:
        assert _put(upload, data[:-1], **{"Content-Length": str(len(data) - 1)}).is_success
        expect_problem(_complete(stack, upload["id"]), 409, "upload_size_mismatch")
        assert not stack.svc.storage.exists(media_id)
        assert _put(upload, other).is_success
        expect_problem(_complete(stack, upload["id"]), 409, "checksum_mismatch")
        assert not stack.svc.storage.exists(media_id)
    assert _rows(stack)[0]["status"] == "pending" and _media_rows(stack) == 0
    assert _put(upload, data).status_code == 200
    assert _complete(stack, upload["id"]).json()["media_id"] == media_id
    assert stack.stored_bytes(media_id) == data


def test_a_put_after_completion_is_refused(make_stack: Callable[..., Stack], clip: Path) -> None:
    """Once complete, the upload URL served by crosspost takes no more bytes (S3's own URL
    works until it expires: see docs/direct_uploads.md)."""
    stack = make_stack(workers=0)
    data = clip.read_bytes()
    upload = _create(stack, data)
    assert _put(upload, data).status_code == 200
    media_id = _complete(stack, upload["id"]).json()["media_id"]
    if not _on_s3(stack):
        expect_problem(_put(upload, data), 409, "upload_complete")
    assert stack.stored_bytes(media_id) == data


def test_forged_and_expired_urls(make_stack: Callable[..., Stack], clip: Path) -> None:
    """A changed signature or expiry is refused (locally: the URL is crosspost's); past
    `expires_at` the URL is refused and no longer shown; past `complete_by` completing is
    410 even with the file uploaded."""
    clock = FrozenClock(datetime.now(UTC).replace(microsecond=0))
    stack = make_stack(workers=0, clock=clock)
    data = clip.read_bytes()
    upload = _create(stack, data, expires_in=600)
    assert datetime.fromisoformat(upload["expires_at"]) == clock.now() + timedelta(seconds=600)
    assert datetime.fromisoformat(upload["complete_by"]) == clock.now() + timedelta(
        seconds=600) + direct_uploads.FINISH_GRACE  # fmt: skip
    if not _on_s3(stack):
        parts = urlsplit(upload["upload_url"])
        query = dict(parse_qsl(parts.query))
        for changed in ({"signature": "0" * 64}, {"expires": str(int(query["expires"]) + 3600)}):
            forged = {**upload, "upload_url": parts._replace(
                query=urlencode({**query, **changed})).geturl()}  # fmt: skip
            expect_problem(_put(forged, data), 403, "signature_invalid")
        clock.advance(601)
        expect_problem(_put(upload, data), 403, "url_expired")
        assert stack.stored_everything() == []
    else:
        assert _put(upload, data).is_success
        clock.advance(601)
    shown = stack.http.get(f"/v1/uploads/{upload['id']}").json()
    assert shown["status"] == "pending" and shown["upload_url"] is None
    clock.advance(direct_uploads.FINISH_GRACE.total_seconds())
    expect_problem(_complete(stack, upload["id"]), 410, "upload_expired")
    assert _media_rows(stack) == 0


def test_complete_before_the_file_arrived_is_a_conflict(
    make_stack: Callable[..., Stack], clip: Path
) -> None:
    """409 `upload_incomplete` until the PUT landed; then it completes."""
    stack = make_stack(workers=0)
    data = clip.read_bytes()
    upload = _create(stack, data, sha256=False)
    assert "x-amz-checksum-sha256" not in upload["headers"]
    expect_problem(_complete(stack, upload["id"]), 409, "upload_incomplete")
    assert _put(upload, data).status_code == 200
    assert _complete(stack, upload["id"]).json()["status"] == "complete"


def test_a_file_that_is_no_media_fails(make_stack: Callable[..., Stack], tmp_path: Path) -> None:
    """Probing refuses it: 422 with the probe's code, the upload `failed` with it, its file
    deleted, no media item; completing again answers the same."""
    stack = make_stack(workers=0)
    data = make_corrupt(tmp_path / "bad.mp4").read_bytes()
    upload = _create(stack, data)
    assert _put(upload, data).status_code == 200
    media_id = _rows(stack)[0]["media_id"]
    assert stack.svc.storage.exists(media_id)
    expect_problem(_complete(stack, upload["id"]), 422, "media_unreadable")
    expect_problem(_complete(stack, upload["id"]), 422, "media_unreadable")
    shown = stack.http.get(f"/v1/uploads/{upload['id']}").json()
    assert (shown["status"], shown["error"]["code"], shown["media_id"]) == (
        "failed", "media_unreadable", None,
    )  # fmt: skip
    assert not stack.svc.storage.exists(media_id)
    assert _media_rows(stack) == 0 and _used_bytes(stack) == 0


def test_the_quota_is_checked_again_at_completion(
    make_stack: Callable[..., Stack], clip: Path
) -> None:
    """A quota lowered after the upload was created refuses it at completion (402): the
    upload fails, its file goes, nothing is counted."""
    stack = make_stack(workers=0)
    data = clip.read_bytes()
    upload = _create(stack, data)
    assert _put(upload, data).status_code == 200
    quota = {"metric": "bytes_uploaded", "hard_limit": len(data) - 1}
    assert stack.http.put("/v1/usage/quotas", json=quota).is_success
    expect_problem(_complete(stack, upload["id"]), 402, "quota_exceeded")
    assert _rows(stack)[0]["status"] == "failed"
    assert stack.stored_everything() == [] and _used_bytes(stack) == 0


def test_another_tenants_uploads_are_not_found(
    make_stack: Callable[..., Stack], clip: Path
) -> None:
    """Tenant B can neither read nor complete A's upload (404), and A's is untouched."""
    stack = make_stack(workers=0)
    data = clip.read_bytes()
    upload = _create(stack, data)
    assert _put(upload, data).status_code == 200
    key = stack.other_tenant_key()
    b = {"Authorization": f"Bearer {key}"}
    base = f"{stack.api_url}/v1/uploads/{upload['id']}"
    expect_problem(httpx.get(base, headers=b, trust_env=False), 404, "upload_not_found")
    expect_problem(httpx.post(f"{base}/complete", headers=b, trust_env=False), 404,
                   "upload_not_found")  # fmt: skip
    assert [r["status"] for r in _rows(stack)] == ["pending"]
    assert _complete(stack, upload["id"]).json()["status"] == "complete"


def test_maintenance_deletes_uploads_never_completed(
    make_stack: Callable[..., Stack], clip: Path
) -> None:
    """Past `complete_by` the hourly purge deletes every upload row, and the files of those
    never completed; a completed upload's media item stays."""
    clock = FrozenClock(datetime.now(UTC).replace(microsecond=0))
    stack = make_stack(workers=0, clock=clock)
    data = clip.read_bytes()
    done, sent, never = (_create(stack, data, expires_in=600) for _ in range(3))
    for upload in (done, sent):
        assert _put(upload, data).status_code == 200
    media_id = _complete(stack, done["id"]).json()["media_id"]
    sent_key = next(r["media_id"] for r in _rows(stack) if r["id"] == sent["id"])
    clock.advance(600 + direct_uploads.FINISH_GRACE.total_seconds() - 1)
    assert direct_uploads.purge_expired(stack.svc, clock.now()) == 0
    clock.advance(2)
    assert direct_uploads.purge_expired(stack.svc, clock.now()) == 3
    assert _rows(stack) == []
    assert not stack.svc.storage.exists(sent_key)
    assert stack.stored_bytes(media_id) == data
    assert stack.http.get(f"/v1/media/{media_id}").status_code == 200
    for upload in (done, sent, never):
        expect_problem(stack.http.get(f"/v1/uploads/{upload['id']}"), 404, "upload_not_found")


def test_a_purged_tenant_leaves_no_uploaded_file_behind(
    make_stack: Callable[..., Stack], clip: Path
) -> None:
    """A file PUT but never completed belongs to no media item: purging its tenant still
    deletes it."""
    stack = make_stack(workers=0)
    with stack.svc.db.write() as conn:
        row = tenants.create(stack.svc, conn, name="leaving", actor=Actor.cli())
    _, key = issue_key(stack.svc, tenant_id=row["id"], name="k", mode=Mode.TEST, role=KeyRole.OWNER)
    data = clip.read_bytes()
    created = httpx.post(
        f"{stack.api_url}/v1/uploads",
        headers={"Authorization": f"Bearer {key}"},
        json={"filename": "clip.mp4", "content_type": "video/mp4", "size": len(data)},
        trust_env=False,
    )
    assert created.status_code == 201, created.text
    assert _put(created.json(), data).status_code == 200
    [object_key] = [r["media_id"] for r in _rows(stack) if r["tenant_id"] == row["id"]]
    assert stack.svc.storage.exists(object_key)
    with stack.svc.db.write() as conn:
        tenants.delete(stack.svc, conn, row["id"], Actor.cli(), retention=timedelta(0))
    assert tenants.purge(stack.svc, row["id"]) is not None
    assert not stack.svc.storage.exists(object_key)
    assert object_key not in stack.stored_everything()


def test_crosspost_upload_command(make_stack: Callable[..., Stack], clip: Path) -> None:
    """`crosspost upload FILE --name … --json` does the three steps and prints the upload
    with its media id; `-q` prints the media id alone."""
    stack = make_stack(workers=0)
    env = {"CROSSPOST_API_URL": stack.api_url, "CROSSPOST_API_KEY": stack.key}
    runner = CliRunner()
    ran = runner.invoke(cli_app, ["upload", str(clip), "--name", "cli.mp4", "--json"], env=env)
    assert ran.exit_code == 0, ran.output
    shown = json.loads(ran.stdout)
    assert shown["status"] == "complete"
    item = stack.http.get(f"/v1/media/{shown['media_id']}").json()
    assert (item["filename"], item["sha256"]) == (
        "cli.mp4",
        hashlib.sha256(clip.read_bytes()).hexdigest(),
    )
    quiet = runner.invoke(cli_app, ["upload", str(clip), "-q"], env=env)
    assert quiet.exit_code == 0, quiet.output
    assert stack.stored_bytes(quiet.stdout.strip()) == clip.read_bytes()
    refused = runner.invoke(cli_app, ["upload", str(clip), "--type", "text/plain"], env=env)
    assert refused.exit_code == 1 and "422" in refused.stderr


@pytest.fixture
def media_store(media_store_url: str | None) -> str | None:
    """This suite runs on local disk and on S3 (a real S3-compatible server over HTTP)."""
    return media_store_url
