"""The webhook outbox: every state change a receiver hears about leaves an event row in
its own transaction, with a snapshot payload; a refused change leaves none."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import sqlalchemy as sa

from crosspost.store.tables import webhook_events
from crosspost.webhooks.catalogue import validate_payload
from tests.e2e.conftest import Stack


def _events(stack: Stack) -> list[dict[str, Any]]:
    with stack.svc.db.read() as conn:
        rows = conn.execute(sa.select(webhook_events).order_by(webhook_events.c.id)).all()
    return [{**row._mapping, "body": json.loads(row.payload)} for row in rows]


def _final(post: dict[str, Any]) -> bool:
    return post["status"] in {"published", "partially_published", "failed", "cancelled"}


def test_a_publish_leaves_the_events_in_order(stack: Stack, tmp_path: Path) -> None:
    """post.created → target.uploading → target.published (each target) → post.published,
    each a {type, timestamp, data} body with the snapshot of that moment, in test mode."""
    before = len(_events(stack))
    media = stack.upload_video(tmp_path, seconds=1.0)
    post = stack.http.post(
        "/v1/posts", json={"media_id": media["id"], "text": "hi", "targets": ["youtube"]}
    ).json()
    stack.wait_post(post["id"], _final)
    events = _events(stack)[before:]
    types = [e["event_type"] for e in events]
    assert types == ["post.created", "target.uploading", "target.published", "post.published"]
    assert {e["mode"] for e in events} == {"test"}
    assert all(e["body"]["type"] == e["event_type"] for e in events)
    assert all(e["body"]["timestamp"].endswith("Z") for e in events)
    for event in events:  # what the engine emits is what the catalogue documents
        validate_payload(event["body"])
    created, _, published_target, published = (e["body"]["data"] for e in events)
    assert created["post"]["status"] == "publishing" and created["post"]["id"] == post["id"]
    target = published_target["target"]
    assert target["status"] == "published" and target["external_url"] and target["error"] is None
    assert published["post"]["targets"][0]["external_id"] == target["external_id"]


def test_scheduling_cancelling_and_connecting_are_events(stack: Stack, tmp_path: Path) -> None:
    """A scheduled post is post.created + post.scheduled; cancelling it is post.cancelled; an
    imported account is account.connected (reconnected on the second import)."""
    before = len(_events(stack))
    media = stack.upload_video(tmp_path, seconds=1.0)
    post = stack.http.post(
        "/v1/posts",
        json={
            "media_id": media["id"],
            "text": "later",
            "targets": ["tiktok"],
            "publish_at": "2099-01-01T00:00:00Z",
        },
    ).json()
    assert stack.http.post(f"/v1/posts/{post['id']}/cancel").status_code == 200
    minted = stack.fake("x", "accounts", json={"handle": "brand"})
    body = {
        "platform": "x",
        "external_id": minted["external_id"],
        "handle": "brand",
        "access_token": minted["access_token"],
    }
    assert stack.http.post("/v1/accounts", json=body).status_code == 201
    assert stack.http.post("/v1/accounts", json=body).status_code == 200
    events = _events(stack)[before:]
    assert [e["event_type"] for e in events] == [
        "post.created",
        "post.scheduled",
        "post.cancelled",
        "account.connected",
        "account.connected",
    ]
    for event in events:
        validate_payload(event["body"])
    connected = [e["body"]["data"] for e in events[-2:]]
    assert [c["reconnected"] for c in connected] == [False, True]
    assert connected[0]["account"]["handle"] == "brand"
    assert minted["access_token"] not in json.dumps(connected)


def test_a_refused_request_leaves_no_event(stack: Stack) -> None:
    """Validation refusals roll back: nothing reaches the outbox."""
    before = len(_events(stack))
    refused = stack.http.post("/v1/posts", json={"text": "hi", "targets": ["acc_unknown"]})
    assert refused.status_code == 422
    assert len(_events(stack)) == before
