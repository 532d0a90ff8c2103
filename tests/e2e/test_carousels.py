"""Posts of several media (`media_ids`) over real HTTP against the fakes: X's up to four
images in one post, Instagram carousels; each platform's limits checked up front."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from crosspost.fakes.app import create_sandbox_app
from crosspost.fakes.base import FakeConfig, Faults
from crosspost.fakes.server import RunningServer, serve_in_thread
from crosspost.media.samples import make_image
from tests.e2e.conftest import Stack

FINAL = {"published", "partially_published", "failed", "cancelled"}


def _images(stack: Stack, tmp_path: Path, count: int) -> list[str]:
    ids = []
    for i in range(count):
        path = make_image(tmp_path / f"still{i}.jpg", width=320 + 16 * i, height=320)
        made = stack.http.post(
            "/v1/media", content=path.read_bytes(), headers={"Content-Type": "image/jpeg"}
        )
        assert made.status_code == 201, made.text
        ids.append(made.json()["id"])
    return ids


def test_x_posts_up_to_four_images_in_one_post(
    make_stack: Callable[..., Stack], tmp_path: Path
) -> None:
    stack = make_stack()
    ids = _images(stack, tmp_path, 3)
    made = stack.http.post("/v1/posts", json={"media_ids": ids, "text": "three", "targets": ["x"]})
    assert made.status_code == 201, made.text
    assert made.json()["media_ids"] == ids and made.json()["media_id"] == ids[0]
    done = stack.wait_post(made.json()["id"], lambda p: p["status"] in FINAL)
    assert done["status"] == "published", done
    state = stack.fake("x", "state")
    [post] = state["posts"]
    assert len(post["media_ids"]) == 3, post
    uploaded = {m["id"]: m["sha256"] for m in state["media"]}
    stored = [stack.http.get(f"/v1/media/{m}").json()["sha256"] for m in ids]
    assert [uploaded[m] for m in post["media_ids"]] == stored
    # Media a post of several still names cannot be deleted while it is to publish.
    later = stack.http.post(
        "/v1/posts",
        json={
            "media_ids": ids[:2],
            "text": "later",
            "targets": ["x"],
            "publish_at": "2099-01-01T00:00:00Z",
        },
    )
    assert later.status_code == 201, later.text
    in_use = stack.http.delete(f"/v1/media/{ids[1]}")
    assert (in_use.status_code, in_use.json()["code"]) == (409, "media_in_use"), in_use.text


@pytest.mark.parametrize(
    ("body", "status", "code"),
    [
        ({"targets": ["x"], "count": 5}, 422, "too_many_media"),
        ({"targets": ["youtube"], "count": 2}, 422, "unsupported_post_type"),
        ({"targets": ["soundcloud"], "count": 2}, 422, "unsupported_post_type"),
        ({"targets": ["x"], "count": 1}, 422, "validation_error"),
        ({"targets": ["x"], "count": 2, "twice": True}, 422, "validation_error"),
        ({"targets": ["x"], "count": 2, "media_id": True}, 422, "media_conflict"),
        ({"targets": ["x"], "count": 2, "missing": True}, 422, "media_not_found"),
    ],
)
def test_posts_of_several_media_the_platforms_cannot_take_are_refused(
    make_stack: Callable[..., Stack], tmp_path: Path, body: dict[str, Any], status: int, code: str
) -> None:
    stack = make_stack(workers=0)
    ids = _images(stack, tmp_path, body["count"])
    if body.get("twice"):
        ids[1] = ids[0]
    if body.get("missing"):
        ids[1] = "med_01NOPE00000000000000000000"
    request: dict[str, Any] = {"media_ids": ids, "text": "t", "targets": body["targets"]}
    if body.get("media_id"):
        request["media_id"] = ids[0]
    answer = stack.http.post("/v1/posts", json=request)
    assert (answer.status_code, answer.json()["code"]) == (status, code), answer.text
    assert stack.http.get("/v1/posts").json()["data"] == []


def test_a_video_among_x_images_is_refused_naming_the_item(
    make_stack: Callable[..., Stack], tmp_path: Path
) -> None:
    stack = make_stack(workers=0)
    ids = [*_images(stack, tmp_path, 1), stack.upload_video(tmp_path, seconds=1.0)["id"]]
    answer = stack.http.post("/v1/posts", json={"media_ids": ids, "text": "t", "targets": ["x"]})
    assert (answer.status_code, answer.json()["code"]) == (422, "unsupported_carousel_item")
    assert "item 2 is a video" in answer.json()["detail"], answer.text


def test_an_instagram_carousel_of_images_and_a_video(
    make_stack: Callable[..., Stack], tmp_path: Path
) -> None:
    """Child containers first (each fetched by Meta from its signed URL and waited for),
    then the CAROUSEL container naming them, then one publish."""
    stack = make_stack()
    ids = _images(stack, tmp_path, 2)
    ids.append(stack.upload_video(tmp_path, seconds=3.0, width=720, height=1280)["id"])
    body = {"media_ids": ids, "text": "album #bts", "targets": ["instagram"]}
    made = stack.http.post("/v1/posts", json=body)
    assert made.status_code == 201, made.text
    done = stack.wait_post(made.json()["id"], lambda p: p["status"] in FINAL, timeout=60)
    assert done["status"] == "published", done
    state = stack.fake("instagram", "state")
    [post] = state["posts"]
    assert (post["media_type"], post["caption"]) == ("CAROUSEL", "album #bts")
    children = {c["id"]: c for c in state["containers"] if c["id"] in post["children"]}
    assert [children[c]["media_type"] for c in post["children"]] == ["IMAGE", "IMAGE", "VIDEO"]
    stored = [stack.http.get(f"/v1/media/{m}").json()["sha256"] for m in ids]
    assert [children[c]["sha256"] for c in post["children"]] == stored
    assert state["calls"]["media_publish"] == 1


def test_an_instagram_carousel_over_ten_items_is_refused(
    make_stack: Callable[..., Stack], tmp_path: Path
) -> None:
    stack = make_stack(workers=0)
    ids = _images(stack, tmp_path, 11)
    ok = stack.http.post(
        "/v1/posts/validate", json={"media_ids": ids[:10], "text": "t", "targets": ["instagram"]}
    )
    assert ok.status_code == 200 and ok.json()["valid"], ok.text
    over = stack.http.post(
        "/v1/posts", json={"media_ids": ids, "text": "t", "targets": ["instagram"]}
    )
    assert (over.status_code, over.json()["code"]) == (422, "too_many_media"), over.text
    assert "at most 10" in over.json()["detail"]
    assert stack.http.get("/v1/posts").json()["data"] == []


def test_linkedin_image_posts_one_image_and_several(
    make_stack: Callable[..., Stack], tmp_path: Path
) -> None:
    """Images API for each image (initializeUpload, PUT, AVAILABLE), then one post naming
    them: `content.media` for one image, `content.multiImage` for several."""
    stack = make_stack()
    ids = _images(stack, tmp_path, 3)
    several = stack.http.post(
        "/v1/posts", json={"media_ids": ids, "text": "gallery", "targets": ["linkedin"]}
    )
    assert several.status_code == 201, several.text
    one = stack.http.post(
        "/v1/posts", json={"media_id": ids[0], "text": "one image", "targets": ["linkedin"]}
    )
    assert one.status_code == 201, one.text
    for made in (several, one):
        done = stack.wait_post(made.json()["id"], lambda p: p["status"] in FINAL)
        assert done["status"] == "published", done
    state = stack.fake("linkedin", "state")
    by_text = {p["text"]: p for p in state["posts"]}
    assert len(by_text["gallery"]["images"]) == 3 and len(by_text["one image"]["images"]) == 1
    held = {i["id"]: i["sha256"] for i in state["images"]}
    stored = [stack.http.get(f"/v1/media/{m}").json()["sha256"] for m in ids]
    assert [held[i] for i in by_text["gallery"]["images"]] == stored
    assert all(i["status"] == "AVAILABLE" for i in state["images"]), state["images"]


@pytest.fixture
def verified_fakes() -> Iterator[RunningServer]:
    """Fakes whose TikTok has this machine's URLs verified (it fetches only from those)."""
    config = FakeConfig(
        faults=Faults(processing_seconds=0.05), tiktok_verified_url_prefixes=("http://127.0.0.1:",)
    )
    server = serve_in_thread(create_sandbox_app(config))
    yield server
    server.stop()


def test_tiktok_photo_posts_one_photo_and_several(
    make_stack: Callable[..., Stack], tmp_path: Path, verified_fakes: RunningServer
) -> None:
    """One `content/init` (media_type PHOTO, PULL_FROM_URL) naming every photo's signed URL;
    TikTok fetches them, then the post is polled to PUBLISH_COMPLETE like a video. TikTok
    fetches only from verified URL prefixes: here, this machine's."""
    stack = make_stack(on=verified_fakes)
    ids = _images(stack, tmp_path, 3)
    text = "Three frames\nfrom the shoot"
    several = stack.http.post(
        "/v1/posts", json={"media_ids": ids, "text": text, "targets": ["tiktok"]}
    )
    assert several.status_code == 201, several.text
    one = stack.http.post(
        "/v1/posts", json={"media_id": ids[0], "text": "one photo", "targets": ["tiktok"]}
    )
    assert one.status_code == 201, one.text
    for made in (several, one):
        done = stack.wait_post(made.json()["id"], lambda p: p["status"] in FINAL)
        assert done["status"] == "published", [t["last_error"] for t in done["targets"]]
    posts = {p["title"]: p for p in stack.fake("tiktok", "state")["posts"]}
    stored = [stack.http.get(f"/v1/media/{m}").json()["sha256"] for m in ids]
    assert posts["Three frames"]["photos"] == stored
    assert posts["Three frames"]["description"] == text
    assert posts["one photo"]["photos"] == stored[:1]
