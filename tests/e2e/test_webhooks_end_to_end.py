"""The whole path over real HTTP: an endpoint made through the API, a post published by the
workers, and its events delivered, signed, by the dispatcher to a receiver that verifies
them with the standardwebhooks library."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import pytest
from standardwebhooks.webhooks import Webhook
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from crosspost.fakes.server import serve_in_thread
from crosspost.webhooks.dispatcher import WebhookDispatcher
from tests.e2e.conftest import Stack


def test_a_published_post_reaches_the_receiver_signed(stack: Stack, tmp_path: Path) -> None:
    """post.* and target.* events arrive once each, verified with the endpoint's secret; the
    delivery log and the event's attempts show the 2xx."""
    received: list[dict[str, Any]] = []

    async def hook(request: Request) -> JSONResponse:
        received.append({"body": await request.body(), "headers": dict(request.headers)})
        return JSONResponse({"ok": True})

    receiver = serve_in_thread(Starlette(routes=[Route("/hook", hook, methods=["POST"])]))
    dispatcher = WebhookDispatcher(stack.svc, poll_seconds=0.05)
    dispatcher.start()
    try:
        made = stack.http.post(
            "/v1/webhooks",
            json={"url": f"{receiver.url}/hook", "event_types": ["post.*", "target.published"]},
        )
        assert made.status_code == 201, made.text
        endpoint = made.json()
        media = stack.upload_video(tmp_path, seconds=1.0)
        post = stack.http.post(
            "/v1/posts", json={"media_id": media["id"], "text": "hooked", "targets": ["youtube"]}
        ).json()
        wanted = {"post.created", "target.published", "post.published"}
        deadline = time.monotonic() + 30
        while {r["headers"].get("x-event") for r in received} != wanted:
            if time.monotonic() > deadline:
                pytest.fail(f"deliveries seen: {[r['headers'].get('x-event') for r in received]}")
            time.sleep(0.05)
        verifier = Webhook(endpoint["secret"])
        events = [verifier.verify(r["body"], r["headers"]) for r in received]
        assert {e["type"] for e in events} == wanted
        assert all(e["data"].get("post", e["data"].get("target", {})).get("id") for e in events)
        ids = [r["headers"]["webhook-id"] for r in received]
        assert len(ids) == len(set(ids)) == 3
        assert all(r["headers"]["user-agent"].startswith("crosspost/") for r in received)
        published = next(e for e in events if e["type"] == "post.published")
        assert published["data"]["post"]["id"] == post["id"]
        # Results are settled in batches, just after the receiver has answered.
        while True:
            deliveries = stack.http.get(f"/v1/webhooks/{endpoint['id']}/deliveries").json()
            if {d["status"] for d in deliveries["data"]} == {"succeeded"}:
                break
            assert time.monotonic() < deadline, deliveries
            time.sleep(0.05)
        assert len(deliveries["data"]) == 3
        attempts = stack.http.get(f"/v1/events/{ids[0]}/attempts").json()["data"]
        assert [a["status_code"] for a in attempts] == [200]
    finally:
        dispatcher.stop(timeout=10)
        receiver.stop()
