"""A failed target retried over real HTTP: queued again with a fresh budget, published once,
and the retries that make no sense refused with what to do instead."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from tests.e2e.conftest import Stack

FINAL = {"published", "partially_published", "failed", "cancelled"}


def test_a_failed_target_is_retried_and_published_once(
    make_stack: Callable[..., Stack], tmp_path: Path
) -> None:
    stack = make_stack(target_max_transient_errors=2)
    media = stack.upload_video(tmp_path, seconds=1.0)
    stack.fake("youtube", "faults", json={"failure_rate": 1.0})
    made = stack.http.post(
        "/v1/posts", json={"media_id": media["id"], "text": "retry me", "targets": ["youtube"]}
    )
    assert made.status_code == 201, made.text
    post_id = made.json()["id"]
    failed = stack.wait_post(post_id, lambda p: p["status"] in FINAL)
    assert failed["status"] == "failed", failed
    [target] = failed["targets"]
    assert target["last_error"]["kind"] == "transient"
    retry = f"/v1/posts/{post_id}/targets/{target['id']}/retry"

    stack.fake("youtube", "faults", json={"failure_rate": 0.0})
    again = stack.http.post(retry)
    assert again.status_code == 200, again.text
    assert again.json()["attempts"] == 0 and again.json()["last_error"] is None
    # A second retry finds it queued (or already on its way): nothing to retry.
    twice = stack.http.post(retry)
    assert (twice.status_code, twice.json()["code"]) == (409, "not_retryable"), twice.text
    done = stack.wait_post(post_id, lambda p: p["status"] in FINAL)
    assert done["status"] == "published", done
    assert len(stack.fake("youtube", "state")["posts"]) == 1
    events = [e["event_type"] for e in stack.http.get(f"/v1/posts/{post_id}/ledger").json()]
    assert events.count("publish_retry_requested") == 1
    assert events.index("publish_failed") < events.index("publish_retry_requested")
    assert events[-1] in ("publish_successful", "post_published"), events
    # Published: no retry.
    late = stack.http.post(retry)
    assert (late.status_code, late.json()["code"]) == (409, "not_retryable")
    assert "published" in late.json()["detail"]


def test_retry_refuses_unknown_and_mismatched_targets(
    make_stack: Callable[..., Stack],
) -> None:
    stack = make_stack(workers=0)
    first = stack.http.post("/v1/posts", json={"text": "one", "targets": ["x"]}).json()
    second = stack.http.post("/v1/posts", json={"text": "two", "targets": ["x"]}).json()
    target_id = first["targets"][0]["id"]
    for path in (
        f"/v1/posts/{first['id']}/targets/tgt_nope/retry",
        f"/v1/posts/{second['id']}/targets/{target_id}/retry",
        f"/v1/posts/pst_nope/targets/{target_id}/retry",
    ):
        answer = stack.http.post(path)
        assert answer.status_code == 404, (path, answer.text)
    queued = stack.http.post(f"/v1/posts/{first['id']}/targets/{target_id}/retry")
    assert (queued.status_code, queued.json()["code"]) == (409, "not_retryable")
    assert "queued" in queued.json()["detail"]
