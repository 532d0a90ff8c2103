"""End to end over real HTTP: API → workers → platform fakes, on SQLite and PostgreSQL."""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime, timedelta
from pathlib import Path

from crosspost.platforms.registry import supported_platforms
from tests.e2e.conftest import Stack

FINAL = {"published", "partially_published", "failed", "cancelled"}


def _final(post: dict) -> bool:
    return post["status"] in FINAL


def test_publish_video_to_youtube_and_tiktok(stack: Stack, tmp_path: Path) -> None:
    """A clip reaches both platforms once, with URLs, a full ledger and intact bytes."""
    media = stack.upload_video(tmp_path, seconds=1.0)
    created = stack.http.post(
        "/v1/posts",
        json={"media_id": media["id"], "text": "first #clip", "targets": ["youtube", "tiktok"]},
    )
    assert created.status_code == 201, created.text
    post = stack.wait_post(created.json()["id"], _final)
    assert post["status"] == "published", post
    for target in post["targets"]:
        assert target["status"] == "published"
        assert target["external_id"] and target["external_url"].startswith("https://")
    digest = hashlib.sha256(stack.stored_bytes(media["id"])).hexdigest()
    for platform in ("youtube", "tiktok"):
        posts = stack.fake(platform, "state")["posts"]
        assert len(posts) == 1, posts
        assert posts[0]["sha256"] == digest
    events = [e["event_type"] for e in stack.http.get(f"/v1/posts/{post['id']}/ledger").json()]
    for expected in (
        "post_created",
        "publish_started",
        "publish_provider_ready",
        "publish_successful",
        "post_published",
    ):
        assert expected in events, events
    assert events.count("publish_successful") == 2


def test_scheduled_post_waits_for_its_time(stack: Stack, tmp_path: Path) -> None:
    """A post scheduled in the future stays scheduled (nothing sent) until then."""
    media = stack.upload_video(tmp_path, seconds=1.0)
    when = datetime.now(UTC) + timedelta(seconds=3)
    created = stack.http.post(
        "/v1/posts",
        json={
            "media_id": media["id"],
            "text": "later",
            "targets": ["youtube"],
            "publish_at": when.replace(tzinfo=None).isoformat(),
            "timezone": "UTC",
        },
    )
    assert created.status_code == 201, created.text
    body = created.json()
    assert body["status"] == "scheduled"
    assert body["targets"][0]["next_attempt_at"] is not None
    # Just before the time: nothing may have reached the platform.
    while datetime.now(UTC) < when - timedelta(seconds=1):
        assert stack.fake("youtube", "state")["posts"] == []
        assert stack.http.get(f"/v1/posts/{body['id']}").json()["status"] == "scheduled"
    post = stack.wait_post(body["id"], _final)
    assert post["status"] == "published"
    published_at = datetime.fromisoformat(post["targets"][0]["published_at"])
    assert published_at >= when


def test_schedule_in_a_named_time_zone(stack: Stack, tmp_path: Path) -> None:
    """A naive time is read in the given IANA zone (DST-aware) and stored in UTC."""
    media = stack.upload_video(tmp_path, seconds=1.0)
    created = stack.http.post(
        "/v1/posts",
        json={
            "media_id": media["id"],
            "targets": ["youtube"],
            "publish_at": "2099-12-01T18:00",
            "timezone": "Europe/Paris",
        },
    )
    assert created.status_code == 201, created.text
    body = created.json()
    assert datetime.fromisoformat(body["publish_at"]) == datetime(2099, 12, 1, 17, 0, tzinfo=UTC)
    assert body["timezone"] == "Europe/Paris"


def test_cancel_scheduled_post(stack: Stack, tmp_path: Path) -> None:
    """Cancelling a scheduled post cancels every target; nothing is ever published."""
    media = stack.upload_video(tmp_path, seconds=1.0)
    created = stack.http.post(
        "/v1/posts",
        json={
            "media_id": media["id"],
            "targets": ["youtube", "tiktok"],
            "publish_at": (datetime.now(UTC) + timedelta(hours=1)).isoformat(),
        },
    ).json()
    cancelled = stack.http.post(f"/v1/posts/{created['id']}/cancel")
    assert cancelled.status_code == 200, cancelled.text
    assert cancelled.json()["status"] == "cancelled"
    assert {t["status"] for t in cancelled.json()["targets"]} == {"cancelled"}
    again = stack.http.post(f"/v1/posts/{created['id']}/cancel")
    assert again.status_code == 200
    finished = stack.http.post(
        "/v1/posts", json={"media_id": media["id"], "targets": ["youtube"]}
    ).json()
    stack.wait_post(finished["id"], _final)
    refused = stack.http.post(f"/v1/posts/{finished['id']}/cancel")
    assert refused.status_code == 409
    assert refused.json()["code"] == "not_cancellable"


def test_one_platform_refuses_the_media_the_other_publishes(stack: Stack, tmp_path: Path) -> None:
    """TikTok refuses a 320x240 clip (sides ≥ 360 px) with a precise reason; YouTube goes on."""
    media = stack.upload_video(tmp_path, seconds=1.0, width=320, height=240)
    created = stack.http.post(
        "/v1/posts",
        json={"media_id": media["id"], "text": "small", "targets": ["youtube", "tiktok"]},
    )
    assert created.status_code == 201, created.text
    post = stack.wait_post(created.json()["id"], _final)
    assert post["status"] == "partially_published"
    tiktok = next(t for t in post["targets"] if t["platform"] == "tiktok")
    assert tiktok["status"] == "failed"
    assert tiktok["last_error"]["kind"] == "permanent"
    assert tiktok["last_error"]["code"] == "resolution_not_allowed"
    assert "360" in tiktok["last_error"]["message"]
    assert stack.fake("tiktok", "state")["posts"] == []


def test_target_detail_and_listing_with_cursor(stack: Stack, tmp_path: Path) -> None:
    """Target detail shows attempts and external ids; the list pages with cursors and Link."""
    media = stack.upload_video(tmp_path, seconds=1.0)
    ids = [
        stack.http.post(
            "/v1/posts",
            json={
                "media_id": media["id"],
                "targets": ["youtube"],
                "publish_at": "2099-01-01T00:00:00Z",
            },
        ).json()["id"]
        for _ in range(3)
    ]
    page = stack.http.get("/v1/posts", params={"limit": 2})
    assert page.status_code == 200
    body = page.json()
    assert [p["id"] for p in body["data"]] == ids[::-1][:2]
    assert body["has_more"] is True
    assert 'rel="next"' in page.headers["link"]
    rest = stack.http.get("/v1/posts", params={"limit": 2, "cursor": body["next_cursor"]}).json()
    assert [p["id"] for p in rest["data"]] == [ids[0]]
    assert rest["has_more"] is False and rest["next_cursor"] is None
    scheduled = stack.http.get("/v1/posts", params={"status": "scheduled"}).json()
    assert len(scheduled["data"]) == 3
    post = stack.http.get(f"/v1/posts/{ids[0]}").json()
    target = stack.http.get(f"/v1/posts/{ids[0]}/targets/{post['targets'][0]['id']}").json()
    assert target["status"] == "scheduled" and target["attempts"] == 0
    assert stack.http.get(f"/v1/posts/{ids[1]}/targets/{target['id']}").status_code == 404


def test_accounts_listing_and_tenant_isolation(stack: Stack, tmp_path: Path) -> None:
    """A key sees its tenant's accounts; another tenant's post and account answer 404."""
    listed = stack.http.get("/v1/accounts").json()
    assert sorted(a["platform"] for a in listed) == sorted(p.value for p in supported_platforms())
    assert len(listed) == 6
    assert all(a["mode"] == "test" and a["status"] == "active" for a in listed)
    assert "credentials" not in listed[0] and "access_token" not in str(listed)
    one = stack.http.get(f"/v1/accounts/{listed[0]['id']}")
    assert one.status_code == 200 and one.json()["id"] == listed[0]["id"]
    youtube = next(a for a in listed if a["platform"] == "youtube")
    media = stack.upload_video(tmp_path, seconds=1.0)
    post = stack.http.post(
        "/v1/posts",
        json={
            "media_id": media["id"],
            "targets": [youtube["id"]],
            "publish_at": "2099-01-01T00:00:00Z",
        },
    ).json()
    import httpx

    from crosspost.domain.enums import Mode
    from crosspost.engine.keys import issue_key
    from crosspost.ids import new_id
    from crosspost.store.tables import tenants

    other = new_id("ten")
    with stack.svc.db.write() as conn:
        conn.execute(
            tenants.insert(),
            {
                "id": other,
                "name": "other",
                "is_default": False,
                "created_at": stack.svc.clock.now(),
            },
        )
    _, key = issue_key(stack.svc, tenant_id=other, name="other", mode=Mode.TEST)
    with httpx.Client(base_url=stack.api_url, headers={"Authorization": f"Bearer {key}"}) as them:
        assert them.get(f"/v1/posts/{post['id']}").status_code == 404
        assert them.get(f"/v1/posts/{post['id']}/ledger").status_code == 404
        assert them.post(f"/v1/posts/{post['id']}/cancel").status_code == 404
        assert them.get(f"/v1/accounts/{youtube['id']}").status_code == 404
        assert them.get(f"/v1/media/{media['id']}").status_code == 404
        assert them.get("/v1/posts").json()["data"] == []
        assert them.get("/v1/accounts").json() == []
        refused = them.post("/v1/posts", json={"media_id": media["id"], "targets": ["youtube"]})
        assert refused.status_code == 422 and refused.json()["code"] == "media_not_found"


def test_cancel_is_refused_once_the_post_exists_upstream(stack: Stack, tmp_path: Path) -> None:
    """After the final chunk the video exists on YouTube: cancelling is refused, not faked."""
    media = stack.upload_video(tmp_path, seconds=1.0)
    stack.fake("youtube", "faults", json={"processing_seconds": 1.5})
    post_id = stack.http.post(
        "/v1/posts", json={"media_id": media["id"], "targets": ["youtube"]}
    ).json()["id"]
    stack.wait_post(
        post_id,
        lambda p: (
            p["targets"][0]["status"] == "publishing"
            and len(stack.fake("youtube", "state")["posts"]) == 1
        ),
    )
    refused = stack.http.post(f"/v1/posts/{post_id}/cancel")
    assert refused.status_code == 409, refused.text
    assert refused.json()["code"] == "not_cancellable"
    post = stack.wait_post(post_id, lambda p: p["status"] in FINAL)
    assert post["status"] == "published"
    assert len(stack.fake("youtube", "state")["posts"]) == 1


def test_publish_to_all_six_platforms(stack: Stack, tmp_path: Path) -> None:
    """A clip reaches the five video platforms and a track reaches SoundCloud, once each."""
    from crosspost.media.samples import make_audio

    video = stack.upload_video(tmp_path, seconds=4.0, width=720, height=1280)
    audio_path = make_audio(tmp_path / "track.mp3", seconds=3.0)
    audio = stack.http.post(
        "/v1/media",
        content=audio_path.read_bytes(),
        headers={"Content-Type": "audio/mpeg", "X-Filename": "track.mp3"},
    ).json()
    video_targets = ["youtube", "tiktok", "instagram", "x", "linkedin"]
    posts = [
        stack.http.post(
            "/v1/posts",
            json={"media_id": video["id"], "text": "everywhere #clip", "targets": video_targets},
        ),
        stack.http.post(
            "/v1/posts",
            json={"media_id": audio["id"], "text": "a track", "targets": ["soundcloud"]},
        ),
    ]
    for created, media in zip(posts, (video, audio), strict=True):
        assert created.status_code == 201, created.text
        post = stack.wait_post(created.json()["id"], _final, timeout=60)
        assert post["status"] == "published", post
        digest = hashlib.sha256(stack.stored_bytes(media["id"])).hexdigest()
        for target in post["targets"]:
            assert target["external_id"], target
            held = stack.fake(target["platform"], "state")["posts"]
            assert len(held) == 1, (target["platform"], held)
            assert held[0]["sha256"] == digest, (target["platform"], held[0])


def test_youtube_custom_thumbnail_from_an_uploaded_image(stack: Stack, tmp_path: Path) -> None:
    """`overrides.youtube.thumbnail_media_id` sets the video's thumbnail to that image."""
    from crosspost.media.samples import make_image

    video = stack.upload_video(tmp_path, seconds=1.0)
    cover_path = make_image(tmp_path / "cover.png", width=1280, height=720)
    cover = stack.http.post(
        "/v1/media", content=cover_path.read_bytes(), headers={"Content-Type": "image/png"}
    ).json()
    created = stack.http.post(
        "/v1/posts",
        json={
            "media_id": video["id"],
            "text": "with a cover",
            "targets": ["youtube"],
            "overrides": {"youtube": {"thumbnail_media_id": cover["id"]}},
        },
    )
    assert created.status_code == 201, created.text
    post = stack.wait_post(created.json()["id"], _final)
    assert post["status"] == "published", post
    held = stack.fake("youtube", "state")["posts"]
    assert held[0]["thumbnail_sha256"] == hashlib.sha256(cover_path.read_bytes()).hexdigest()
    events = [e["event_type"] for e in stack.http.get(f"/v1/posts/{post['id']}/ledger").json()]
    assert "thumbnail_set" in events


def test_instagram_image_post_is_fetched_through_a_signed_url(stack: Stack, tmp_path: Path) -> None:
    """Instagram pulls images by URL: the fake fetches crosspost's signed media URL."""
    from crosspost.media.samples import make_image

    path = make_image(tmp_path / "photo.jpg", width=1080, height=1080)
    image = stack.http.post(
        "/v1/media", content=path.read_bytes(), headers={"Content-Type": "image/jpeg"}
    ).json()
    created = stack.http.post(
        "/v1/posts", json={"media_id": image["id"], "text": "a photo", "targets": ["instagram"]}
    )
    assert created.status_code == 201, created.text
    post = stack.wait_post(created.json()["id"], _final)
    assert post["status"] == "published", post
    [held] = stack.fake("instagram", "state")["posts"]
    assert held["sha256"] == hashlib.sha256(path.read_bytes()).hexdigest()


def test_signed_media_urls_open_one_file_until_they_expire(stack: Stack, tmp_path: Path) -> None:
    """A signed URL serves the bytes without an API key; tampered or expired, it is refused."""
    import time as _time

    import httpx

    from crosspost.media import signed_urls

    video = stack.upload_video(tmp_path, seconds=1.0)
    key = stack.svc.hash_key
    later = int(_time.time()) + 600
    url = signed_urls.sign(stack.api_url, video["id"], key, later)
    served = httpx.get(url)
    assert served.status_code == 200
    assert served.content == stack.stored_bytes(video["id"])
    assert served.headers["content-type"].startswith("video/mp4")
    assert httpx.get(url, headers={"Range": "bytes=0-9"}).content == served.content[:10]

    def problem(response: httpx.Response) -> tuple[int, str]:
        return response.status_code, response.json()["code"]

    tampered = url.replace(f"expires={later}", f"expires={later + 1}")
    assert problem(httpx.get(tampered)) == (403, "signature_invalid")
    expired = signed_urls.sign(stack.api_url, video["id"], key, int(_time.time()) - 1)
    assert problem(httpx.get(expired)) == (403, "url_expired")
    other = signed_urls.sign(stack.api_url, "med_nope", key, later)
    assert problem(httpx.get(other)) == (404, "not_found")
    assert problem(httpx.get(url.split("?")[0])) == (422, "validation_error")


def test_import_existing_tokens_then_publish_and_reimport(stack: Stack, tmp_path: Path) -> None:
    """Tokens the customer holds become an account (201, tokens never echoed); a post
    through it publishes; importing the same user again is a reconnection (200)."""
    minted = stack.fake("youtube", "accounts", json={"handle": "brand_channel"})
    body = {
        "platform": "youtube",
        "external_id": minted["external_id"],
        "handle": "brand_channel",
        "access_token": minted["access_token"],
        "refresh_token": minted["refresh_token"],
        "expires_in": minted["expires_in"],
        "scopes": minted["scopes"],
    }
    created = stack.http.post("/v1/accounts", json=body)
    assert created.status_code == 201, created.text
    account = created.json()
    assert account["status"] == "active" and account["mode"] == "test"
    assert minted["access_token"] not in created.text
    assert minted["refresh_token"] not in created.text
    media = stack.upload_video(tmp_path, seconds=1.0)
    post = stack.http.post(
        "/v1/posts",
        json={"media_id": media["id"], "text": "imported", "targets": [account["id"]]},
    ).json()
    assert stack.wait_post(post["id"], _final)["status"] == "published"
    again = stack.http.post("/v1/accounts", json=body)
    assert again.status_code == 200 and again.json()["id"] == account["id"]
    keyed = {"Idempotency-Key": "import-1"}
    first = stack.http.post("/v1/accounts", json=body, headers=keyed)
    replay = stack.http.post("/v1/accounts", json=body, headers=keyed)
    assert replay.headers.get("idempotent-replayed") == "true"
    assert (replay.status_code, replay.json()) == (first.status_code, first.json())
    other = stack.http.post("/v1/accounts", json={**body, "handle": "renamed"}, headers=keyed)
    assert (other.status_code, other.json()["code"]) == (422, "idempotency_key_reused")


def test_satellites_need_a_main_parent_on_the_same_platform(stack: Stack) -> None:
    """A satellite names its main account; a wrong or missing parent is refused with why."""
    listed = stack.http.get("/v1/accounts").json()
    youtube = next(a for a in listed if a["platform"] == "youtube")
    tiktok = next(a for a in listed if a["platform"] == "tiktok")
    base = {
        "platform": "youtube",
        "handle": "second_channel",
        "access_token": "at",
        "role": "satellite",
    }

    def code(**extra: object) -> tuple[int, str | None]:
        response = stack.http.post("/v1/accounts", json={**base, **extra})
        return response.status_code, response.json().get("code")

    assert code(external_id="UCsat1") == (422, "parent_required")
    assert code(external_id="UCsat2", parent_id=tiktok["id"]) == (422, "invalid_parent")
    assert code(external_id="UCsat3", parent_id="acc_nope") == (422, "invalid_parent")
    assert code(external_id="UCsat4", parent_id=youtube["id"], extra="x") == (
        422,
        "validation_error",
    )
    ok = stack.http.post(
        "/v1/accounts", json={**base, "external_id": "UCsat5", "parent_id": youtube["id"]}
    )
    assert ok.status_code == 201, ok.text
    assert ok.json()["role"] == "satellite" and ok.json()["parent_id"] == youtube["id"]


def test_account_health_shows_missing_scopes(stack: Stack) -> None:
    """Sandbox accounts hold every scope crosspost asks for; an imported token granted less
    shows what is missing; unknown grants show null."""
    listed = stack.http.get("/v1/accounts").json()
    assert all(a["scopes_missing"] in ([], None) for a in listed), listed
    base = {"platform": "x", "handle": "narrow", "access_token": "at"}
    narrow = stack.http.post(
        "/v1/accounts", json={**base, "external_id": "42", "scopes": ["tweet.read"]}
    ).json()
    assert (
        "tweet.write" in narrow["scopes_missing"] and "tweet.read" not in narrow["scopes_missing"]
    )
    unknown = stack.http.post("/v1/accounts", json={**base, "external_id": "43"}).json()
    assert unknown["scopes_missing"] is None
