"""The media library over real HTTP: listed newest first with filters, cursors and usage;
deleted with its file, but never while a post still to publish uses it."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from crosspost.engine import media_library, tenants
from crosspost.identity.audit import Actor
from crosspost.media.samples import make_image
from crosspost.store import media as media_rows
from tests.e2e.conftest import Stack

FINAL = {"published", "partially_published", "failed", "cancelled"}


def _image(stack: Stack, tmp_path: Path) -> dict[str, Any]:
    path = make_image(tmp_path / "still.jpg")
    headers = {"Content-Type": "image/jpeg", "X-Filename": "still.jpg"}
    answer = stack.http.post("/v1/media", content=path.read_bytes(), headers=headers)
    assert answer.status_code == 201, answer.text
    return dict(answer.json())


def test_the_library_lists_newest_first_with_filters_cursors_and_usage(
    make_stack: Callable[..., Stack], tmp_path: Path
) -> None:
    stack = make_stack(workers=0)
    video = stack.upload_video(tmp_path, seconds=1.0)
    image = _image(stack, tmp_path)
    post = stack.http.post("/v1/posts", json={"media_id": video["id"], "text": "x",
                                              "targets": ["youtube"]})  # fmt: skip
    assert post.status_code == 201, post.text
    listed = stack.http.get("/v1/media").json()
    assert [m["id"] for m in listed["data"]] == [image["id"], video["id"]]
    assert [m["used_by"] for m in listed["data"]] == [0, 1]
    assert listed["data"][1]["size_bytes"] == video["size_bytes"]
    only = stack.http.get("/v1/media", params={"kind": "video"}).json()["data"]
    assert [m["id"] for m in only] == [video["id"]]
    first = stack.http.get("/v1/media", params={"limit": 1})
    assert first.json()["has_more"] is True and 'rel="next"' in first.headers["link"]
    cursor = first.json()["next_cursor"]
    second = stack.http.get("/v1/media", params={"limit": 1, "cursor": cursor})
    assert [m["id"] for m in second.json()["data"]] == [video["id"]]
    later = stack.http.get("/v1/media", params={"since": "2999-01-01T00:00:00Z"}).json()
    assert later["data"] == []
    for params, code in (
        ({"cursor": "garbage"}, "invalid_cursor"),
        ({"kind": "hologram"}, "validation_error"),
        ({"since": "2026-01-01T00:00:00"}, "validation_error"),
        ({"limit": 0}, "validation_error"),
    ):
        answer = stack.http.get("/v1/media", params=params)
        assert answer.status_code == 422, (params, answer.text)
        assert answer.json()["code"] == code, (params, answer.text)


def test_media_in_use_is_kept_and_deleted_media_is_gone_with_its_file(
    make_stack: Callable[..., Stack], tmp_path: Path
) -> None:
    stack = make_stack(workers=0)
    video = stack.upload_video(tmp_path, seconds=1.0)
    scheduled = stack.http.post("/v1/posts", json={
        "media_id": video["id"], "text": "later", "targets": ["youtube"],
        "publish_at": "2099-01-01T00:00:00Z",
    })  # fmt: skip
    assert scheduled.status_code == 201, scheduled.text
    refused = stack.http.delete(f"/v1/media/{video['id']}")
    assert (refused.status_code, refused.json()["code"]) == (409, "media_in_use"), refused.text
    assert scheduled.json()["id"] in refused.json()["detail"]
    assert stack.http.get(f"/v1/media/{video['id']}").status_code == 200

    assert stack.http.post(f"/v1/posts/{scheduled.json()['id']}/cancel").status_code == 200
    with stack.svc.db.read() as conn:
        key = media_rows.get_media(conn, stack.tenant_id, video["id"])["storage_key"]  # type: ignore[index]
    assert stack.svc.storage.exists(key)
    gone = stack.http.delete(f"/v1/media/{video['id']}")
    assert gone.status_code == 204, gone.text
    assert not stack.svc.storage.exists(key)
    assert stack.http.get(f"/v1/media/{video['id']}").status_code == 404
    assert stack.http.delete(f"/v1/media/{video['id']}").status_code == 404
    assert stack.http.get("/v1/media").json()["data"] == []
    # The cancelled post still names it; a new post cannot use it.
    assert stack.http.get(f"/v1/posts/{scheduled.json()['id']}").json()["media_id"] == video["id"]
    reuse = stack.http.post("/v1/posts", json={"media_id": video["id"], "text": "again",
                                               "targets": ["youtube"]})  # fmt: skip
    assert reuse.status_code in (404, 422), reuse.text
    audited = stack.http.get("/v1/audit", params={"action": "media.deleted"}).json()["data"]
    assert [e["target_id"] for e in audited] == [video["id"]]


def test_the_media_of_a_published_post_can_be_deleted(stack: Stack, tmp_path: Path) -> None:
    video = stack.upload_video(tmp_path, seconds=1.0)
    made = stack.http.post("/v1/posts", json={"media_id": video["id"], "text": "now",
                                              "targets": ["youtube"]})  # fmt: skip
    post = stack.wait_post(made.json()["id"], lambda p: p["status"] in FINAL)
    assert post["status"] == "published", post
    assert stack.http.delete(f"/v1/media/{video['id']}").status_code == 204
    assert stack.http.get(f"/v1/posts/{post['id']}").json()["status"] == "published"


def test_a_cover_image_of_a_post_still_to_publish_is_in_use(
    make_stack: Callable[..., Stack], tmp_path: Path
) -> None:
    stack = make_stack(workers=0)
    video = stack.upload_video(tmp_path, seconds=1.0)
    cover = _image(stack, tmp_path)
    post = stack.http.post("/v1/posts", json={
        "media_id": video["id"], "text": "with a cover", "targets": ["youtube"],
        "publish_at": "2099-01-01T00:00:00Z",
        "overrides": {"youtube": {"thumbnail_media_id": cover["id"]}},
    })  # fmt: skip
    assert post.status_code == 201, post.text
    listed = {m["id"]: m["used_by"] for m in stack.http.get("/v1/media").json()["data"]}
    assert listed == {video["id"]: 1, cover["id"]: 1}
    refused = stack.http.delete(f"/v1/media/{cover['id']}")
    assert (refused.status_code, refused.json()["code"]) == (409, "media_in_use"), refused.text


def test_media_no_post_uses_expires_after_the_tenants_retention(
    make_stack: Callable[..., Stack], tmp_path: Path
) -> None:
    stack = make_stack(workers=0)
    used = stack.upload_video(tmp_path, seconds=1.0)
    unused = _image(stack, tmp_path)
    post = stack.http.post("/v1/posts", json={"media_id": used["id"], "text": "kept",
                                              "targets": ["youtube"]})  # fmt: skip
    assert post.status_code == 201, post.text
    svc, now = stack.svc, stack.svc.clock.now()
    with svc.db.read() as conn:
        key = media_rows.get_media(conn, stack.tenant_id, unused["id"])["storage_key"]  # type: ignore[index]
    assert media_library.purge_unused(svc, now + timedelta(days=29)) == 0
    assert media_library.purge_unused(svc, now + timedelta(days=31)) == 1
    assert stack.http.get(f"/v1/media/{unused['id']}").status_code == 404
    assert not svc.storage.exists(key)
    assert stack.http.get(f"/v1/media/{used['id']}").status_code == 200
    # A tenant that keeps unused media until it deletes it.
    with svc.db.write() as conn:
        tenants.update(svc, conn, stack.tenant_id, {"media_retention_days": 0}, Actor.cli())
    kept = _image(stack, tmp_path)
    assert media_library.purge_unused(svc, now + timedelta(days=4000)) == 0
    assert stack.http.get(f"/v1/media/{kept['id']}").status_code == 200


def test_media_a_project_or_a_brand_kit_uses_is_kept_past_the_retention(
    make_stack: Callable[..., Stack], tmp_path: Path
) -> None:
    """A project's source and a brand kit's logo are in use although no post names them:
    the retention purge keeps them, and takes them once they are let go."""
    stack = make_stack(workers=0)
    source = stack.upload_video(tmp_path, seconds=1.0)
    logo = _image(stack, tmp_path)
    project = stack.http.post(
        "/v1/projects", json={"name": "p", "source_media_ids": [source["id"]]}
    )
    assert project.status_code == 201, project.text
    kit = stack.http.post("/v1/brand-kits", json={"name": "k", "logo_media_id": logo["id"]})
    assert kit.status_code == 201, kit.text
    svc, now = stack.svc, stack.svc.clock.now()
    assert media_library.purge_unused(svc, now + timedelta(days=31)) == 0
    assert stack.http.delete(f"/v1/projects/{project.json()['id']}").status_code == 204
    assert stack.http.delete(f"/v1/brand-kits/{kit.json()['id']}").status_code == 204
    assert media_library.purge_unused(svc, now + timedelta(days=31)) == 2


def test_a_tenant_may_let_the_media_of_finished_posts_go(
    make_stack: Callable[..., Stack], tmp_path: Path
) -> None:
    """By default a finished post keeps its media; a tenant with
    `published_media_retention_days` has it deleted that long after the last post using it
    finished, while media a post still to publish uses stays."""
    stack = make_stack()
    svc = stack.svc
    done_with = _image(stack, tmp_path)
    waiting_on = _image(stack, tmp_path)
    made = stack.http.post(
        "/v1/posts", json={"media_id": done_with["id"], "text": "done", "targets": ["x"]}
    )
    later = stack.http.post("/v1/posts", json={
        "media_id": waiting_on["id"], "text": "later", "targets": ["x"],
        "publish_at": "2099-01-01T00:00:00Z",
    })  # fmt: skip
    assert made.status_code == later.status_code == 201, (made.text, later.text)
    final = {"published", "partially_published", "failed"}
    assert stack.wait_post(made.json()["id"], lambda p: p["status"] in final)["status"] == (
        "published"
    )
    now = svc.clock.now()
    assert media_library.purge_unused(svc, now + timedelta(days=4000)) == 0
    with svc.db.write() as conn:
        tenants.update(
            svc, conn, stack.tenant_id, {"published_media_retention_days": 7}, Actor.cli()
        )
    assert media_library.purge_unused(svc, now + timedelta(days=6)) == 0
    assert media_library.purge_unused(svc, now + timedelta(days=8)) == 1
    assert stack.http.get(f"/v1/media/{done_with['id']}").status_code == 404
    assert stack.http.get(f"/v1/media/{waiting_on['id']}").status_code == 200
    post = stack.http.get(f"/v1/posts/{made.json()['id']}").json()
    assert (post["status"], post["media_id"]) == ("published", done_with["id"])


@pytest.fixture
def media_store(media_store_url: str | None) -> str | None:
    """This suite runs on local disk and on S3 (a real S3-compatible server over HTTP)."""
    return media_store_url
