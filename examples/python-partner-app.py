"""A partner's app on crosspost, with the Python SDK (seed 000's workflow, end to end).

It uploads a recording (resumable), makes a clip studio project of it, finds a highlight,
renders it vertical, learns that the render is ready from a signed webhook its own receiver
verifies, publishes the render to three platforms, follows the post to `published`, and
prints the month's usage. Every step logs; any refusal is printed with its code, what to
change, and the request id.

    pip install ./sdks/python starlette uvicorn
    crosspost serve --sandbox &                 # or any crosspost; test keys reach the fakes
    crosspost sample stream stream.mp4
    CROSSPOST_API_KEY=$(crosspost keys create --name partner -q | tail -1) \
        python examples/python-partner-app.py stream.mp4
"""

from __future__ import annotations

import argparse
import os
import queue
import socket
import sys
import threading
import time
from typing import Any

import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from crosspost_sdk import APIError, Client, CrosspostError, Webhook, WebhookVerificationError

PLATFORMS = ["youtube", "tiktok", "instagram"]


def log(step: str, message: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {step:<10} {message}", flush=True)


class Receiver:
    """A local webhook receiver: every delivery is verified before its event is queued."""

    def __init__(self) -> None:
        self.events: queue.Queue[dict[str, Any]] = queue.Queue()
        self.webhook: Webhook | None = None
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            self.port = probe.getsockname()[1]
        app = Starlette(routes=[Route("/hooks/crosspost", self.receive, methods=["POST"])])
        config = uvicorn.Config(app, host="127.0.0.1", port=self.port, log_level="warning")
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self.server.run, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/hooks/crosspost"

    def start(self) -> None:
        self.thread.start()
        deadline = time.monotonic() + 10
        while not self.server.started:
            if time.monotonic() > deadline:
                raise RuntimeError("the webhook receiver did not start")
            time.sleep(0.05)

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=10)

    async def receive(self, request: Request) -> Response:
        body = await request.body()
        if self.webhook is None:
            return Response(status_code=503)  # not ready: crosspost retries the delivery
        try:
            event = self.webhook.verify(body, dict(request.headers))
        except WebhookVerificationError as refused:
            log("webhook", f"refused a delivery: {refused}")
            return Response(status_code=400)
        log("webhook", f"verified {event['type']}")
        self.events.put(event)
        return Response(status_code=204)

    def wait_for(self, types: set[str], match: dict[str, str], timeout: float) -> dict[str, Any]:
        """The first verified event of one of `types` whose data has the `match` members."""
        deadline = time.monotonic() + timeout
        while (left := deadline - time.monotonic()) > 0:
            try:
                event = self.events.get(timeout=left)
            except queue.Empty:
                break
            data = event.get("data", {})
            if event["type"] in types and all(data.get(k) == v for k, v in match.items()):
                return event
        raise TimeoutError(f"no {' or '.join(sorted(types))} event for {match} in {timeout:.0f} s")


def run(client: Client, video: str, receiver: Receiver) -> None:
    sent = {"last": -1}

    def progress(done: int, total: int) -> None:
        percent = done * 100 // total
        if percent >= sent["last"] + 25 or done == total:
            sent["last"] = percent
            log("upload", f"{percent}% of {total:,} bytes")

    media = client.media.upload(video, resumable=True, progress=progress)
    log("upload", f"media {media.id}: {media.duration_seconds:.0f} s, {media.width}x{media.height}")

    project = client.projects.create({"name": "Partner launch", "source_media_ids": [media.id]})
    log("project", f"{project.id} made from the recording")

    job = client.projects.highlights(project.id, {"min_seconds": 5, "max_seconds": 10, "count": 1})
    log("highlights", f"detection started (job {job.id})")
    job = client.jobs.wait(job.id, timeout=300)
    if job.status != "succeeded":
        raise SystemExit(f"highlight detection failed: {job.error}")
    clips = list(client.projects.clips.list(project.id))
    if not clips:
        raise SystemExit("no highlight found in the recording; try a longer or livelier one")
    clip = clips[0]
    span = f"{clip.start_seconds:.1f}-{clip.end_seconds:.1f} s"
    log("clips", f"{len(clips)} clip(s); rendering {clip.id} ({span})")

    endpoint = client.webhooks.create(
        {"url": receiver.url, "event_types": ["export.ready", "export.failed", "post.published"]}
    )
    receiver.webhook = Webhook(endpoint.secret or "")
    log("webhook", f"endpoint {endpoint.id} registered at {receiver.url}")

    render = client.clips.renders.create(clip.id, {"platform_preset": "tiktok", "captions": False})
    log("render", f"{render.id} queued, 9:16")
    done = receiver.wait_for({"export.ready", "export.failed"}, {"exportId": render.id}, 600)
    if done["type"] == "export.failed":
        raise SystemExit(f"the render failed: {done['data']['error']}")
    log("render", f"ready: {sorted(done['data']['artifacts'])}")

    post = client.posts.create(
        {"render_id": render.id, "text": "Our launch, in 10 seconds #launch", "targets": PLATFORMS}
    )
    log("publish", f"post {post.id} to {', '.join(PLATFORMS)}")
    final = client.posts.wait(
        post.id,
        timeout=600,
        on_update=lambda p: log(
            "publish", ", ".join(f"{t.platform} {t.status}" for t in p.targets)
        ),
    )
    for target in final.targets:
        log("publish", f"{target.platform}: {target.status} {target.external_url or ''}".rstrip())
    if final.status != "published":
        raise SystemExit(
            f"the post ended {final.status}: see its ledger (GET /v1/posts/{post.id}/ledger)"
        )

    usage = client.usage.get()
    log("usage", usage.model_dump_json(exclude_none=True)[:400])
    log("done", "the clip is live on three platforms")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("video", help="a recording to cut a highlight from")
    args = parser.parse_args()
    if not os.environ.get("CROSSPOST_API_KEY"):
        print("set CROSSPOST_API_KEY (crosspost keys create --name partner)", file=sys.stderr)
        return 2
    receiver = Receiver()
    receiver.start()
    try:
        with Client() as client:  # CROSSPOST_API_KEY and CROSSPOST_API_URL
            run(client, args.video, receiver)
    except APIError as refused:
        print(f"crosspost refused: {refused.status} {refused.code}: {refused.detail} "
              f"(request {refused.request_id})", file=sys.stderr)  # fmt: skip
        return 1
    except (CrosspostError, TimeoutError) as failed:
        print(f"stopped: {failed}", file=sys.stderr)
        return 1
    finally:
        receiver.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
