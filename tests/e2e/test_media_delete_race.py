"""A post created with a media item while the item is deleted: one of the two wins, never
both (a post naming deleted media would fail at publish time, after being accepted)."""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx

from crosspost.media.samples import make_image
from tests.e2e.conftest import Stack


def test_a_post_and_a_deletion_of_its_media_never_both_succeed(
    make_stack: Callable[..., Stack], tmp_path: Path
) -> None:
    stack = make_stack(workers=0)
    image = make_image(tmp_path / "still.png")
    outcomes: list[tuple[int, int]] = []
    with ThreadPoolExecutor(max_workers=2) as pool:
        for i in range(16):
            item = stack.http.post(
                "/v1/media", content=image.read_bytes(), headers={"Content-Type": "image/png"}
            ).json()
            body = {
                "media_id": item["id"],
                "text": f"race {i}",
                "targets": ["x"],
                "publish_at": "2099-01-01T00:00:00Z",
            }
            # A client of its own per side: the two requests go out at the same time.
            with httpx.Client(base_url=stack.api_url, headers=stack.http.headers) as other:
                post = pool.submit(stack.http.post, "/v1/posts", json=body)
                gone = pool.submit(other.delete, f"/v1/media/{item['id']}")
                made, deleted = post.result(), gone.result()
            outcomes.append((made.status_code, deleted.status_code))
            if made.status_code == 201:
                assert deleted.status_code == 409, f"post {i} accepted and its media deleted"
                assert deleted.json()["code"] == "media_in_use", deleted.text
                assert stack.http.get(f"/v1/media/{item['id']}").status_code == 200
            else:
                assert (made.status_code, made.json()["code"]) == (422, "media_not_found")
                assert deleted.status_code == 204, deleted.text
    assert set(outcomes) <= {(201, 409), (422, 204)}, outcomes
