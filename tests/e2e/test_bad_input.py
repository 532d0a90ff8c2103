"""Bad input gets a problem+json with a stable code, and leaves no partial rows behind."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest
import sqlalchemy as sa

from crosspost.media.samples import make_corrupt
from crosspost.store.idempotency import try_insert
from crosspost.store.tables import idempotency_keys, jobs, media, posts, targets
from tests.e2e.conftest import Stack, expect_problem

# Bad input is refused by validation before the store is asked: SQLite only.
pytestmark = pytest.mark.one_database


def _counts(stack: Stack) -> dict[str, int]:
    with stack.svc.db.read() as conn:
        return {
            t.name: conn.execute(sa.select(sa.func.count()).select_from(t)).scalar_one()
            for t in (posts, targets, jobs, media, idempotency_keys)
        }


@pytest.mark.parametrize(
    ("body", "code"),
    [
        ({"media_id": "med_nope", "targets": ["youtube"]}, "media_not_found"),
        ({"text": "hi", "targets": []}, "validation_error"),
        ({"text": "hi", "targets": ["myspace"]}, "unsupported_platform"),
        ({"text": "hi", "targets": ["acc_unknown"]}, "account_not_found"),
        ({"text": "hi", "targets": ["youtube", "youtube"]}, "duplicate_target"),
        ({"targets": ["youtube"]}, "empty_post"),
        (
            {"text": "hi", "targets": ["youtube"], "publish_at": "2030-01-01T10:00"},
            "timezone_required",
        ),
        ({"text": "hi", "targets": ["youtube"], "timezone": "Mars/Olympus"}, "invalid_timezone"),
        (
            {"text": "hi", "targets": ["youtube"], "publish_at": "2001-01-01T00:00:00Z"},
            "publish_at_in_past",
        ),
        ({"text": "hi", "targets": ["youtube"], "surprise": 1}, "validation_error"),
        ({"text": "hi", "targets": ["youtube"], "overrides": {"myspace": {}}}, "invalid_overrides"),
    ],
)
def test_bad_post_bodies(stack: Stack, body: dict, code: str) -> None:
    """Each refused body names what to change and writes nothing."""
    before = _counts(stack)
    expect_problem(stack.http.post("/v1/posts", json=body), 422, code)
    assert _counts(stack) == before


def test_text_only_post_to_video_platforms_is_refused(stack: Stack) -> None:
    """YouTube and TikTok have no text-only posts: refused with each platform's reason."""
    before = _counts(stack)
    problem = expect_problem(
        stack.http.post("/v1/posts", json={"text": "hello", "targets": ["youtube", "tiktok"]}),
        422,
        "unsupported_post_type",
    )
    assert "YouTube's API offers no community posts" in problem["detail"]
    assert "TikTok has no text-only posts" in problem["detail"]
    assert _counts(stack) == before


def test_authentication_errors(stack: Stack) -> None:
    """Missing, malformed, mistyped and unknown keys all answer 401 problem+json."""
    url = f"{stack.api_url}/v1/posts"
    expect_problem(httpx.get(url), 401, "missing_api_key")
    expect_problem(
        httpx.get(url, headers={"Authorization": "Basic abc"}), 401, "invalid_auth_scheme"
    )
    expect_problem(
        httpx.get(url, headers={"Authorization": "Bearer cp_test_short"}), 401, "invalid_api_key"
    )
    flipped = stack.key[:-1] + ("A" if stack.key[-1] != "A" else "B")
    expect_problem(
        httpx.get(url, headers={"Authorization": f"Bearer {flipped}"}), 401, "invalid_api_key"
    )
    from crosspost.domain.enums import Mode
    from crosspost.vault.apikeys import generate_key

    expect_problem(
        httpx.get(url, headers={"Authorization": f"Bearer {generate_key(Mode.TEST)}"}),
        401,
        "invalid_api_key",
    )


def test_not_found_and_bad_cursor(stack: Stack) -> None:
    """Unknown ids answer 404; a cursor we did not issue answers 422."""
    expect_problem(stack.http.get("/v1/posts/post_nope"), 404, "not_found")
    expect_problem(stack.http.get("/v1/posts/post_nope/ledger"), 404, "not_found")
    expect_problem(stack.http.post("/v1/posts/post_nope/cancel"), 404, "not_found")
    expect_problem(stack.http.get("/v1/media/med_nope"), 404, "not_found")
    expect_problem(
        stack.http.get("/v1/posts", params={"cursor": "!!garbage"}), 422, "invalid_cursor"
    )
    expect_problem(stack.http.get("/v1/posts", params={"limit": 1000}), 422, "validation_error")
    expect_problem(stack.http.get("/v1/nothing-here"), 404, "not_found")


def test_json_content_type_required(stack: Stack) -> None:
    """A post body that is not declared as JSON is refused with 415."""
    response = stack.http.post(
        "/v1/posts",
        content=b'{"text":"x","targets":["youtube"]}',
        headers={"Content-Type": "text/plain"},
    )
    assert response.status_code in (415, 422)
    assert response.headers["content-type"].startswith("application/problem+json")


def test_corrupt_and_empty_and_wrong_type_uploads(stack: Stack, tmp_path: Path) -> None:
    """Undecodable, empty and non-media uploads are refused and nothing is stored."""
    bad = tmp_path / "bad.mp4"
    make_corrupt(bad)
    before = _counts(stack)
    expect_problem(
        stack.http.post(
            "/v1/media", content=bad.read_bytes(), headers={"Content-Type": "video/mp4"}
        ),
        422,
        "media_unreadable",
    )
    expect_problem(
        stack.http.post("/v1/media", content=b"", headers={"Content-Type": "video/mp4"}),
        400,
        "empty_upload",
    )
    expect_problem(
        stack.http.post("/v1/media", content=b"{}", headers={"Content-Type": "text/plain"}),
        415,
        "unsupported_upload_type",
    )
    # JSON names a URL to fetch (tests/e2e/test_media_by_url.py): without one it is refused.
    expect_problem(
        stack.http.post("/v1/media", content=b"{}", headers={"Content-Type": "application/json"}),
        422,
        "validation_error",
    )
    expect_problem(
        stack.http.post("/v1/media", files={"other": ("a.mp4", b"x")}), 422, "file_part_missing"
    )
    assert _counts(stack) == before
    assert list(stack.svc.settings.resolved_media_dir.glob("*.mp4")) == []


def test_oversize_upload(make_stack, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    """An upload over the configured limit answers 413, whether declared or streamed."""
    stack = make_stack(max_upload_bytes=100_000)
    before = _counts(stack)
    expect_problem(
        stack.http.post(
            "/v1/media", content=b"\0" * 200_000, headers={"Content-Type": "video/mp4"}
        ),
        413,
        "media_too_large",
    )

    def chunks():  # no Content-Length: the limit must hold while streaming
        for _ in range(20):
            yield b"\0" * 10_000

    expect_problem(
        stack.http.post("/v1/media", content=chunks(), headers={"Content-Type": "video/mp4"}),
        413,
        "payload_too_large",
    )
    assert _counts(stack) == before


def test_multipart_upload_is_probed(stack: Stack, tmp_path: Path) -> None:
    """A multipart upload is streamed, hashed and probed like a raw one."""
    from crosspost.media.samples import make_video

    path = tmp_path / "v.mp4"
    make_video(path, seconds=1.0, width=360, height=640)
    response = stack.http.post(
        "/v1/media", files={"file": ("v.mp4", path.read_bytes(), "video/mp4")}
    )
    assert response.status_code == 201, response.text
    body = response.json()
    import hashlib

    assert body["sha256"] == hashlib.sha256(path.read_bytes()).hexdigest()
    assert body["kind"] == "video" and body["width"] == 360 and body["height"] == 640
    assert body["duration_seconds"] == pytest.approx(1.0, abs=0.2)
    assert body["filename"] == "v.mp4"


def test_idempotency_key(stack: Stack, tmp_path: Path) -> None:
    """Same key + same body → same response; different body → 422; in flight → 409."""
    media = stack.upload_video(tmp_path, seconds=1.0)
    body = {"media_id": media["id"], "targets": ["youtube"], "publish_at": "2099-01-01T00:00:00Z"}
    headers = {"Idempotency-Key": "k-123"}
    first = stack.http.post("/v1/posts", json=body, headers=headers)
    second = stack.http.post("/v1/posts", json=body, headers=headers)
    assert first.status_code == second.status_code == 201
    assert first.json() == second.json()
    assert second.headers.get("idempotent-replayed") == "true"
    expect_problem(
        stack.http.post("/v1/posts", json={**body, "text": "changed"}, headers=headers),
        422,
        "idempotency_key_reused",
    )
    with stack.svc.db.write() as conn:
        try_insert(
            conn,
            tenant_id=stack.tenant_id,
            key="k-busy",
            method="POST",
            path="/v1/posts",
            fingerprint="x",
            now=stack.svc.clock.now(),
        )
    expect_problem(
        stack.http.post("/v1/posts", json=body, headers={"Idempotency-Key": "k-busy"}),
        422,
        "idempotency_key_reused",
    )
    import hashlib

    raw = stack.http.build_request("POST", "/v1/posts", json=body).content
    fingerprint = hashlib.sha256(b"\n".join([b"POST", b"/v1/posts", raw])).hexdigest()
    with stack.svc.db.write() as conn:
        try_insert(
            conn,
            tenant_id=stack.tenant_id,
            key="k-flight",
            method="POST",
            path="/v1/posts",
            fingerprint=fingerprint,
            now=stack.svc.clock.now(),
        )
    expect_problem(
        stack.http.post("/v1/posts", json=body, headers={"Idempotency-Key": "k-flight"}),
        409,
        "idempotency_request_in_flight",
    )
    # A refused request does not burn its key: fix the body, retry with the same key.
    expect_problem(
        stack.http.post(
            "/v1/posts",
            json={"targets": ["myspace"], "text": "x"},
            headers={"Idempotency-Key": "k-fix"},
        ),
        422,
        "unsupported_platform",
    )
    fixed = stack.http.post(
        "/v1/posts", json=body | {"text": "fixed"}, headers={"Idempotency-Key": "k-fix"}
    )
    assert fixed.status_code == 201
    posts_total = stack.http.get("/v1/posts", params={"limit": 100}).json()["data"]
    assert len(posts_total) == 2


def test_key_cache_trusts_a_key_for_its_ttl_and_forgets_revoked_keys(stack: Stack) -> None:
    """A cached key skips the look-up until its TTL; `forget` makes a revocation immediate."""
    from crosspost.api.auth import KeyCache, authenticate
    from crosspost.errors import Unauthorized
    from crosspost.store import tenants

    header = f"Bearer {stack.key}"
    cache = KeyCache(ttl=3600)
    principal = authenticate(stack.svc, header, cache)
    with stack.svc.db.write() as conn:
        assert tenants.revoke_api_key(
            conn, stack.tenant_id, principal.key_id, stack.svc.clock.now()
        )
    assert authenticate(stack.svc, header, cache) == principal  # served from the cache
    with pytest.raises(Unauthorized, match="Invalid API key"):
        authenticate(stack.svc, header, KeyCache(ttl=0))  # no cache: revoked at once
    cache.forget(principal.key_id)
    with pytest.raises(Unauthorized, match="Invalid API key"):
        authenticate(stack.svc, header, cache)


def test_bad_thumbnails_are_refused_and_write_nothing(stack: Stack, tmp_path: Path) -> None:
    """Unknown, non-image, or on a platform without thumbnails: 422 with the reason."""
    video = stack.upload_video(tmp_path, seconds=1.0)
    before = _counts(stack)

    def post(platform: str, cover: str) -> httpx.Response:
        return stack.http.post(
            "/v1/posts",
            json={
                "media_id": video["id"],
                "text": "x",
                "targets": [platform],
                "overrides": {platform: {"thumbnail_media_id": cover}},
            },
        )

    expect_problem(post("youtube", "med_nope"), 422, "thumbnail_not_found")
    expect_problem(post("youtube", video["id"]), 422, "thumbnail_not_image")
    expect_problem(post("tiktok", video["id"]), 422, "thumbnail_unsupported")
    assert _counts(stack) == before
