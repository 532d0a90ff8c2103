"""Lists of posts and of targets over real HTTP: narrowed by status, platform, account,
media and time, in either order, page by page; bad filters refused."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from tests.e2e.conftest import Stack

FINAL = {"published", "partially_published", "failed", "cancelled"}


def _post(stack: Stack, **body: Any) -> dict[str, Any]:
    made = stack.http.post("/v1/posts", json={"text": "a post", **body})
    assert made.status_code == 201, made.text
    return dict(made.json())


def _ids(answer: Any) -> list[str]:
    assert answer.status_code == 200, answer.text
    return [item["id"] for item in answer.json()["data"]]


def test_posts_and_targets_are_narrowed_ordered_and_paged(
    make_stack: Callable[..., Stack], tmp_path: Path
) -> None:
    stack = make_stack(workers=0)
    media = stack.upload_video(tmp_path, seconds=1.0)
    on_x = _post(stack, targets=["x"])
    on_both = _post(stack, targets=["x", "linkedin"])
    later = _post(stack, targets=["linkedin"], publish_at="2099-01-01T00:00:00Z")
    with_video = _post(stack, targets=["youtube"], media_id=media["id"])
    x_account = on_x["targets"][0]["account_id"]
    get = stack.http.get

    assert _ids(get("/v1/posts")) == [with_video["id"], later["id"], on_both["id"], on_x["id"]]
    assert _ids(get("/v1/posts", params={"order": "oldest"}))[0] == on_x["id"]
    assert _ids(get("/v1/posts", params={"platform": "linkedin"})) == [later["id"], on_both["id"]]
    assert _ids(get("/v1/posts", params={"account_id": x_account})) == [on_both["id"], on_x["id"]]
    assert _ids(get("/v1/posts", params={"media_id": media["id"]})) == [with_video["id"]]
    assert _ids(get("/v1/posts", params={"scheduled_since": "2098-01-01T00:00:00Z"})) == [
        later["id"]
    ]
    assert _ids(get("/v1/posts", params={"status": "scheduled", "platform": "x"})) == []
    assert _ids(get("/v1/posts", params={"created_until": "2000-01-01T00:00:00Z"})) == []
    # Oldest first, one by one: the cursor walks forwards.
    seen, cursor = [], None
    while True:
        params: dict[str, Any] = {
            "order": "oldest",
            "limit": 1,
            **({"cursor": cursor} if cursor else {}),
        }
        page = get("/v1/posts", params=params).json()
        seen += [p["id"] for p in page["data"]]
        cursor = page["next_cursor"]
        if not cursor:
            break
    assert seen == [on_x["id"], on_both["id"], later["id"], with_video["id"]]

    targets = _ids(get("/v1/targets", params={"platform": "x"}))
    assert targets == [on_both["targets"][0]["id"], on_x["targets"][0]["id"]]
    assert _ids(get("/v1/targets", params={"status": "scheduled"})) == [later["targets"][0]["id"]]
    assert _ids(get("/v1/targets", params={"post_id": on_both["id"], "order": "oldest"})) == [
        t["id"] for t in on_both["targets"]
    ]
    assert _ids(get("/v1/targets", params={"status": "failed"})) == []
    for path, params in (
        ("/v1/posts", {"platform": "myspace"}),
        ("/v1/posts", {"order": "sideways"}),
        ("/v1/posts", {"created_since": "2026-01-01T00:00:00"}),
        ("/v1/targets", {"status": "lost"}),
        ("/v1/targets", {"cursor": "nope"}),
        ("/v1/targets", {"account_id": "a" * 41}),
    ):
        answer = get(path, params=params)
        assert answer.status_code == 422, (path, params, answer.text)


def test_targets_published_in_a_window(stack: Stack) -> None:
    post = _post(stack, targets=["x"])
    done = stack.wait_post(post["id"], lambda p: p["status"] in FINAL)
    assert done["status"] == "published", done
    published = stack.http.get(
        "/v1/targets", params={"status": "published", "published_since": "2000-01-01T00:00:00Z"}
    )
    assert _ids(published) == [done["targets"][0]["id"]]
    assert (
        _ids(stack.http.get("/v1/posts", params={"published_until": "2000-01-01T00:00:00Z"})) == []
    )
    assert _ids(
        stack.http.get("/v1/posts", params={"published_since": "2000-01-01T00:00:00Z"})
    ) == [post["id"]]


def test_lists_walk_back_with_prev_cursor(make_stack: Callable[..., Stack]) -> None:
    stack = make_stack(workers=0)
    made = [_post(stack, targets=["x"])["id"] for _ in range(5)]
    newest_first = list(reversed(made))
    pages, cursor = [], None
    while True:
        answer = stack.http.get(
            "/v1/posts", params={"limit": 2, **({"cursor": cursor} if cursor else {})}
        )
        page = answer.json()
        pages.append(page)
        cursor = page["next_cursor"]
        if not cursor:
            break
    assert [[p["id"] for p in pg["data"]] for pg in pages] == [
        newest_first[0:2],
        newest_first[2:4],
        newest_first[4:5],
    ]
    assert pages[0]["prev_cursor"] is None and pages[1]["prev_cursor"]
    # Back from the last page: the middle page again, then the first (with no prev).
    back = stack.http.get("/v1/posts", params={"limit": 2, "cursor": pages[2]["prev_cursor"]})
    assert [p["id"] for p in back.json()["data"]] == newest_first[2:4]
    assert 'rel="prev"' in back.headers["link"] and 'rel="next"' in back.headers["link"]
    first = stack.http.get("/v1/posts", params={"limit": 2, "cursor": back.json()["prev_cursor"]})
    assert [p["id"] for p in first.json()["data"]] == newest_first[0:2]
    assert first.json()["prev_cursor"] is None and first.json()["next_cursor"]
    # The same on targets, oldest first.
    forward = stack.http.get("/v1/targets", params={"limit": 3, "order": "oldest"}).json()
    onward = stack.http.get(
        "/v1/targets", params={"limit": 3, "order": "oldest", "cursor": forward["next_cursor"]}
    ).json()
    returned = stack.http.get(
        "/v1/targets", params={"limit": 3, "order": "oldest", "cursor": onward["prev_cursor"]}
    ).json()
    assert [t["id"] for t in returned["data"]] == [t["id"] for t in forward["data"]]
