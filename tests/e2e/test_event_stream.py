"""The events feed over real HTTP, on SQLite and PostgreSQL: GET /v1/events pages, the
Server-Sent Events stream (live, resumable, filtered, tenant-tight, freed on disconnect,
ended on shutdown) and POST /v1/events/trigger."""

from __future__ import annotations

import queue
import socket
import threading
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import fastapi.routing
import httpx
import orjson
import pytest
import sqlalchemy as sa
from httpx_sse import ServerSentEvent, connect_sse
from standardwebhooks.webhooks import Webhook
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from crosspost.api.app import create_app
from crosspost.api.streams import ApiServer, EventStreams
from crosspost.domain.enums import KeyRole, Mode
from crosspost.engine.keys import issue_key
from crosspost.engine.sandbox import provision_sandbox_accounts
from crosspost.fakes.server import RunningServer, serve_in_thread
from crosspost.ids import new_id
from crosspost.media.samples import make_video
from crosspost.store.tables import tenants, webhook_events
from crosspost.webhooks.catalogue import EVENT_TYPES, validate_payload
from crosspost_sdk import Client, Retries
from tests.e2e.conftest import Stack

DONE = {"post.published", "post.partially_published", "post.failed"}


def _wait(condition: Callable[[], bool], what: str, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            pytest.fail(f"timed out waiting for {what}")
        time.sleep(0.02)


class Listener:
    """A stream client on its own thread: messages land in a queue; `close()` drops the
    connection as a killed client would."""

    def __init__(self, url: str, key: str, params: dict[str, str] | None = None, **headers: str):
        self.messages: queue.Queue[ServerSentEvent] = queue.Queue()
        self.status: int | None = None
        self.problem: dict[str, Any] | None = None
        self.clean_end = False
        self.failure: BaseException | None = None
        self.ended = threading.Event()
        self._socket: socket.socket | None = None
        self._opened = threading.Event()
        self._client = httpx.Client(
            base_url=url,
            headers={"Authorization": f"Bearer {key}", **headers},
            timeout=httpx.Timeout(10, read=60),
        )
        self._thread = threading.Thread(target=self._run, args=(params or {},), daemon=True)
        self._thread.start()
        assert self._opened.wait(10), "the stream did not answer"

    def _run(self, params: dict[str, str]) -> None:
        try:
            with connect_sse(self._client, "GET", "/v1/events/stream", params=params) as source:
                response = source.response
                self.status = response.status_code
                stream = response.extensions.get("network_stream")
                self._socket = stream.get_extra_info("socket") if stream else None
                self._opened.set()
                if response.status_code != 200:
                    self.problem = orjson.loads(response.read())
                    return
                for message in source.iter_sse():
                    self.messages.put(message)
            self.clean_end = True
        except BaseException as exc:
            self.failure = exc
        finally:
            self._opened.set()
            self.ended.set()

    def events(
        self, until: Callable[[list[dict[str, Any]]], bool], timeout: float = 30.0
    ) -> list[dict[str, Any]]:
        """The events (with data) received until `until(events)` holds."""
        got: list[dict[str, Any]] = []
        deadline = time.monotonic() + timeout
        while not until(got):
            left = deadline - time.monotonic()
            if left <= 0:
                pytest.fail(f"stream gave only {[e['type'] for e in got]}")
            try:
                message = self.messages.get(timeout=left)
            except queue.Empty:
                continue
            if message.data:
                body = orjson.loads(message.data)
                assert message.event == body["type"]
                got.append({"id": message.id, **body})
        return got

    def close(self) -> None:
        """Drop the connection without a goodbye."""
        if self._socket is not None and not self.ended.is_set():
            self._socket.shutdown(socket.SHUT_RDWR)
        self.ended.wait(10)
        self._client.close()


@pytest.fixture
def feed(make_stack: Callable[..., Stack]) -> Stack:
    """A stack whose webhook dispatcher runs (it numbers events for the feed)."""
    return make_stack(dispatcher=True)


@pytest.fixture
def own_api(feed: Stack) -> Iterator[tuple[Any, RunningServer]]:
    """A second API server over the same services, whose app (and streams) tests can see."""
    app = create_app(feed.svc)
    server = serve_in_thread(app, server_class=ApiServer)
    yield app, server
    if server.running:
        server.stop()


def _publish(stack: Stack, tmp_path: Path, *targets: str) -> dict[str, Any]:
    media = stack.upload_video(tmp_path, seconds=1.0)
    # Unique text: X refuses a tweet that repeats an earlier one.
    body = {"media_id": media["id"], "text": f"live {new_id('t')}", "targets": list(targets)}
    response = stack.http.post("/v1/posts", json=body)
    assert response.status_code == 201, response.text
    return dict(response.json())


def _about(event: dict[str, Any]) -> str | None:
    data = event["data"]
    if "post" in data:
        return str(data["post"]["id"])
    if "target" in data:
        return str(data["target"]["post_id"])
    return None


def _finished(post_id: str) -> Callable[[list[dict[str, Any]]], bool]:
    return lambda events: any(e["type"] in DONE and _about(e) == post_id for e in events)


def test_a_client_receives_a_posts_events_as_they_happen(feed: Stack, tmp_path: Path) -> None:
    """A stream opened before the post gets post.created, each target's events and
    post.published, in the feed's order, each with `id:` its event id, `event:` its type and
    `data:` the exact webhook body."""
    listener = Listener(feed.api_url, feed.key)
    try:
        post = _publish(feed, tmp_path, "youtube", "x")
        events = listener.events(_finished(post["id"]))
        types = [e["type"] for e in events if _about(e) == post["id"]]
        assert types[0] == "post.created"
        assert types[-1] == "post.published"
        assert types.count("target.published") == 2
        for event in events:
            validate_payload({k: v for k, v in event.items() if k != "id"})
        listed = feed.http.get("/v1/events", params={"post_id": post["id"]}).json()["data"]
        assert [e["id"] for e in events if _about(e) == post["id"]] == [e["id"] for e in listed]
        assert all(e["test"] is False for e in listed)
    finally:
        listener.close()


def test_resuming_with_last_event_id_has_no_gap_and_no_repeat(feed: Stack, tmp_path: Path) -> None:
    """A client that drops after some events and comes back with Last-Event-ID gets exactly
    the events after it, those emitted while it was away included, and none twice."""
    first = Listener(feed.api_url, feed.key)
    post = _publish(feed, tmp_path, "youtube")
    seen = first.events(_finished(post["id"]))
    first.close()
    resume_after = seen[1]["id"]
    while_away = _publish(feed, tmp_path, "x")
    feed.wait_post(while_away["id"], lambda p: p["status"] in {s.split(".")[1] for s in DONE})
    second = Listener(feed.api_url, feed.key, **{"Last-Event-ID": resume_after})
    try:
        resumed = second.events(_finished(while_away["id"]))
        ids = [e["id"] for e in resumed]
        assert len(ids) == len(set(ids))
        expected = [
            e["id"]
            for e in feed.http.get("/v1/events", params={"after": resume_after}).json()["data"]
        ]
        assert ids == expected[: len(ids)]
        assert ids[: len(seen) - 2] == [e["id"] for e in seen[2:]]
    finally:
        second.close()


def test_a_stream_from_now_resumes_even_before_its_first_event(feed: Stack, tmp_path: Path) -> None:
    """A stream without a cursor first sends the newest event's id alone, so a client that
    reconnects with it misses nothing emitted in between."""
    post = _publish(feed, tmp_path, "x")
    _wait(
        lambda: _finished(post["id"])(_feed(feed)),
        "the post's last event",
    )
    newest = _feed(feed)[-1]["id"]
    listener = Listener(feed.api_url, feed.key)
    try:
        opening = listener.messages.get(timeout=10)
        assert opening.id == newest and opening.data == ""
    finally:
        listener.close()


def test_filters_by_type_and_post(feed: Stack, tmp_path: Path) -> None:
    """`types` and `post_id` narrow the stream (and the list) to what they name; with
    `post_id` and no cursor the stream starts at that post's first event."""
    other = _publish(feed, tmp_path, "x")
    post = _publish(feed, tmp_path, "youtube", "x")
    feed.wait_post(post["id"], lambda p: p["status"] == "published")
    params = {"post_id": post["id"], "types": "target.*,post.published"}
    listener = Listener(feed.api_url, feed.key, params)
    try:
        events = listener.events(_finished(post["id"]))
        assert {_about(e) for e in events} == {post["id"]}
        assert {e["type"] for e in events} <= {"post.published"} | {
            n for n in EVENT_TYPES if n.startswith("target.")
        }
        assert sum(e["type"] == "target.published" for e in events) == 2
    finally:
        listener.close()
    listed = feed.http.get("/v1/events", params={"types": "post.created"}).json()["data"]
    assert {_about(e) for e in listed} >= {other["id"], post["id"]}
    assert {e["type"] for e in listed} == {"post.created"}


def test_another_tenants_events_never_appear(feed: Stack, tmp_path: Path) -> None:
    """Tenant B's post publishes while tenant A listens: A's stream shows none of it (A's
    own triggered marker, sent after B's events, arrives alone), and B's event ids are no
    cursor for A."""
    tenant_b = new_id("ten")
    with feed.svc.db.write() as conn:
        conn.execute(
            tenants.insert(),
            {"id": tenant_b, "name": "b", "is_default": False, "created_at": datetime.now(UTC)},
        )
    provision_sandbox_accounts(feed.svc, tenant_b)
    _, key_b = issue_key(feed.svc, tenant_id=tenant_b, name="b", mode=Mode.TEST)
    as_b = httpx.Client(base_url=feed.api_url, headers={"Authorization": f"Bearer {key_b}"})
    listener = Listener(feed.api_url, feed.key)
    try:
        media = as_b.post(
            "/v1/media",
            content=_video(tmp_path),
            headers={"Content-Type": "video/mp4"},
        ).json()
        post_b = as_b.post(
            "/v1/posts", json={"media_id": media["id"], "text": "tenant b", "targets": ["x"]}
        ).json()
        _wait(
            lambda: any(
                e["type"] == "post.published" for e in as_b.get("/v1/events").json()["data"]
            ),
            "tenant B's post",
        )
        marker = feed.http.post("/v1/events/trigger", json={"type": "usage.threshold"}).json()
        events = listener.events(lambda got: any(e["id"] == marker["event_id"] for e in got))
        assert [e["id"] for e in events] == [marker["event_id"]]
        b_event = as_b.get("/v1/events").json()["data"][0]["id"]
        refused = feed.http.get("/v1/events", params={"after": b_event})
        assert refused.status_code == 422
        assert refused.json()["code"] == "unknown_event"
        assert post_b["id"] not in feed.http.get("/v1/events").text
    finally:
        listener.close()
        as_b.close()


def _video(tmp_path: Path) -> bytes:
    return make_video(tmp_path / "b.mp4", seconds=1.0).read_bytes()


def test_a_client_that_disconnects_frees_the_server(
    feed: Stack, own_api: tuple[Any, RunningServer]
) -> None:
    """A client that drops its connection ends its stream on the server at once: the
    stream unregisters (its task unwound) well before any heartbeat would have noticed."""
    app, server = own_api
    streams: EventStreams = app.state.event_streams
    listeners = [Listener(server.url, feed.key) for _ in range(3)]
    _wait(lambda: streams.open_count == 3, "three open streams", timeout=10)
    for listener in listeners:
        listener.close()
    _wait(lambda: streams.open_count == 0, "the streams to end", timeout=5)


def test_the_stream_ends_cleanly_when_the_server_shuts_down(
    feed: Stack, own_api: tuple[Any, RunningServer]
) -> None:
    """Shutting the server down ends open streams with a complete response, at once rather
    than after the graceful-shutdown timeout (5 s here) cuts them off."""
    app, server = own_api
    listener = Listener(server.url, feed.key)
    _wait(lambda: app.state.event_streams.open_count == 1, "the stream to open", timeout=10)
    started = time.monotonic()
    server.stop()
    assert time.monotonic() - started < 3
    assert listener.ended.wait(5)
    assert listener.clean_end, listener.failure
    listener.close()


def test_a_quiet_stream_sends_heartbeats(
    feed: Stack, own_api: tuple[Any, RunningServer], monkeypatch: pytest.MonkeyPatch
) -> None:
    """While nothing happens the stream sends `: ping` comments (every 15 s; shortened here)
    so proxies and clients know it is alive."""
    monkeypatch.setattr(fastapi.routing, "_PING_INTERVAL", 0.2)
    _, server = own_api
    headers = {"Authorization": f"Bearer {feed.key}"}
    with httpx.stream("GET", f"{server.url}/v1/events/stream", headers=headers, timeout=10) as r:
        assert r.status_code == 200
        assert r.headers["content-type"].startswith("text/event-stream")
        pings = 0
        for line in r.iter_lines():
            pings += line.startswith(": ping")
            if pings == 2:
                break
    assert pings == 2


def test_the_list_pages_oldest_first_after_a_cursor(feed: Stack, tmp_path: Path) -> None:
    """GET /v1/events pages in feed order: `next_cursor` is the last id, a `Link` header
    points at the next page while there is one, and the pages join into the whole feed."""
    post = _publish(feed, tmp_path, "youtube", "x")
    feed.wait_post(post["id"], lambda p: p["status"] == "published")
    _wait(
        lambda: any(
            e["type"] == "post.published" for e in feed.http.get("/v1/events").json()["data"]
        ),
        "post.published in the feed",
    )
    everything = feed.http.get("/v1/events").json()["data"]
    paged: list[dict[str, Any]] = []
    after: str | None = None
    while True:
        response = feed.http.get(
            "/v1/events", params={"limit": 2, **({"after": after} if after else {})}
        )
        page = response.json()
        paged += page["data"]
        after = page["next_cursor"]
        assert after == page["data"][-1]["id"]
        if not page["has_more"]:
            assert "Link" not in response.headers
            break
        assert f"after={after}" in response.headers["Link"]
    assert paged == everything
    assert _feed(feed, limit=3) == everything
    tail = feed.http.get("/v1/events", params={"after": after}).json()
    assert tail == {"data": [], "has_more": False, "next_cursor": after}


@pytest.mark.parametrize(
    ("params", "status", "code"),
    [
        ({"types": "post.nope"}, 422, "invalid_event_types"),
        ({"after": "msg_unknown"}, 422, "unknown_event"),
        ({"types": "endpoint.*"}, 403, "insufficient_scope"),
    ],
)
def test_bad_filters_are_problems_not_broken_streams(
    feed: Stack, params: dict[str, str], status: int, code: str
) -> None:
    """A bad filter or cursor, or events the key may not read, is refused before the stream
    starts, with the same problem the list gives."""
    _, viewer = issue_key(
        feed.svc, tenant_id=feed.tenant_id, name="v", mode=Mode.TEST, role=KeyRole.VIEWER
    )
    listener = Listener(feed.api_url, viewer, params)
    listener.ended.wait(10)
    assert listener.status == status
    assert listener.problem is not None and listener.problem["code"] == code
    as_viewer = {"Authorization": f"Bearer {viewer}"}
    listed = feed.http.get("/v1/events", params=params, headers=as_viewer)
    assert (listed.status_code, listed.json()["code"]) == (status, code)


def test_a_viewer_key_reads_post_events_but_not_endpoint_events(feed: Stack) -> None:
    """Events about webhook endpoints need `webhooks:write`: a viewer's feed leaves them out."""
    feed.http.post("/v1/events/trigger", json={"type": "endpoint.disabled"})
    last = feed.http.post("/v1/events/trigger", json={"type": "post.published"}).json()
    _wait(
        lambda: last["event_id"] in feed.http.get("/v1/events", params={"types": "*"}).text,
        "both events",
    )
    _, viewer = issue_key(
        feed.svc, tenant_id=feed.tenant_id, name="v", mode=Mode.TEST, role=KeyRole.VIEWER
    )
    seen = httpx.get(
        f"{feed.api_url}/v1/events", headers={"Authorization": f"Bearer {viewer}"}
    ).json()["data"]
    assert "post.published" in {e["type"] for e in seen}
    assert "endpoint.disabled" not in {e["type"] for e in seen}


def test_trigger_delivers_the_example_to_matching_endpoints_and_the_stream(feed: Stack) -> None:
    """POST /v1/events/trigger sends the catalogue's example, marked `"test": true`, signed to
    every endpoint whose filter matches (not to others) and onto the stream."""
    received: list[dict[str, Any]] = []

    async def hook(request: Request) -> JSONResponse:
        received.append({"body": await request.body(), "headers": dict(request.headers)})
        return JSONResponse({"ok": True})

    receiver = serve_in_thread(Starlette(routes=[Route("/{name}", hook, methods=["POST"])]))
    listener = Listener(feed.api_url, feed.key)
    try:
        wanted = feed.http.post(
            "/v1/webhooks", json={"url": f"{receiver.url}/a", "event_types": ["post.*"]}
        ).json()
        other = feed.http.post(
            "/v1/webhooks", json={"url": f"{receiver.url}/b", "event_types": ["target.*"]}
        ).json()
        response = feed.http.post("/v1/events/trigger", json={"type": "post.published"})
        assert response.status_code == 202, response.text
        event_id = response.json()["event_id"]
        streamed = listener.events(lambda got: any(e["id"] == event_id for e in got))[-1]
        assert streamed["test"] is True
        assert streamed["data"] == EVENT_TYPES["post.published"].example_payload()["data"]
        _wait(lambda: len(received) >= 1, "the delivery")
        delivered = Webhook(wanted["secret"]).verify(received[0]["body"], received[0]["headers"])
        assert delivered["test"] is True and delivered["type"] == "post.published"
        assert received[0]["headers"]["webhook-id"] == event_id
        assert [r["headers"]["webhook-id"] for r in received] == [event_id]
        # Fan-out made every delivery of the event at once: the other filter got none.
        skipped = feed.http.get(f"/v1/webhooks/{other['id']}/deliveries").json()["data"]
        assert skipped == []
    finally:
        listener.close()
        receiver.stop()


def test_trigger_refuses_what_it_cannot_send(feed: Stack) -> None:
    """An unknown type is a 422 listing the catalogue's types; webhook.test points at the
    per-endpoint test; a live key is refused (it would reach production receivers)."""
    unknown = feed.http.post("/v1/events/trigger", json={"type": "post.exploded"})
    assert unknown.status_code == 422
    assert unknown.json()["code"] == "unknown_event_type"
    assert "post.published" in unknown.json()["valid_event_types"]
    test = feed.http.post("/v1/events/trigger", json={"type": "webhook.test"})
    assert test.status_code == 422 and "/test" in test.json()["detail"]
    _, live = issue_key(feed.svc, tenant_id=feed.tenant_id, name="l", mode=Mode.LIVE)
    refused = httpx.post(
        f"{feed.api_url}/v1/events/trigger",
        json={"type": "post.published"},
        headers={"Authorization": f"Bearer {live}"},
    )
    assert refused.status_code == 403
    assert refused.json()["code"] == "trigger_needs_test_key"


def test_trigger_honours_idempotency_keys(feed: Stack) -> None:
    """The same Idempotency-Key and body answer the same event, emitted once."""
    headers = {"Idempotency-Key": "trigger-once"}
    first = feed.http.post("/v1/events/trigger", json={"type": "export.ready"}, headers=headers)
    again = feed.http.post("/v1/events/trigger", json={"type": "export.ready"}, headers=headers)
    assert first.status_code == again.status_code == 202
    assert first.json() == again.json()
    assert again.headers["Idempotent-Replayed"] == "true"
    with feed.svc.db.read() as conn:
        emitted: list[str] = list(
            conn.execute(
                sa.select(webhook_events.c.id).where(webhook_events.c.event_type == "export.ready")
            ).scalars()
        )
    assert emitted == [first.json()["event_id"]]


def _feed(feed: Stack, **params: Any) -> list[dict[str, Any]]:
    """Every event of the feed from the oldest kept, page after page, through the SDK."""
    with Client(feed.key, base_url=feed.api_url) as client:
        events = client.events.list(**params)
        return [event.model_dump(mode="json", exclude_unset=True) for event in events]


def test_the_sdk_stream_reconnects_after_a_server_restart(feed: Stack) -> None:
    """`client.events.stream` rides over the server going away and coming back on the same
    port, resuming after the last event it yielded: every triggered event once, in order."""
    app = create_app(feed.svc)
    server = serve_in_thread(app, server_class=ApiServer)
    port = server.port
    client = Client(feed.key, base_url=server.url, retries=Retries(max_retries=0))
    got: queue.Queue[dict[str, Any]] = queue.Queue()
    done = threading.Event()

    def consume() -> None:
        # Ended by closing the client: a stream left running would reconnect to whatever
        # server takes this port next, inside another test.
        try:
            for event in client.events.stream(retry_seconds=0.05, max_retry_seconds=0.2):
                got.put(event)
        except Exception:
            if not done.is_set():
                raise

    consumer = threading.Thread(target=consume, daemon=True)
    consumer.start()
    _wait(lambda: app.state.event_streams.open_count == 1, "the SDK's stream")
    sent = [feed.http.post("/v1/events/trigger", json={"type": "post.created"}).json()["event_id"]]
    assert got.get(timeout=10)["id"] == sent[0]
    server.stop()
    sent.append(
        feed.http.post("/v1/events/trigger", json={"type": "post.failed"}).json()["event_id"]
    )
    restarted = serve_in_thread(create_app(feed.svc), port=port, server_class=ApiServer)
    try:
        sent.append(
            feed.http.post("/v1/events/trigger", json={"type": "post.cancelled"}).json()["event_id"]
        )
        assert [got.get(timeout=10)["id"] for _ in range(2)] == sent[1:]
        assert got.empty()
    finally:
        done.set()
        client.close()
        restarted.stop()
        consumer.join(timeout=10)
    assert not consumer.is_alive()


@pytest.mark.parametrize(
    ("fault", "status"),
    [
        (("faults", {"quota_exhausted": True}), "waiting"),
        (("reset", {}), "needs_reauth"),
    ],
)
def test_a_follower_hears_when_a_target_stops_by_itself(
    feed: Stack, tmp_path: Path, fault: tuple[str, dict[str, Any]], status: str
) -> None:
    """A target that waits for a quota day or needs its account reconnected does not end by
    itself: the stream says so (target.waiting with when, target.needs_reauth with why), so
    a follower can stop and tell the user instead of waiting in silence."""
    media = feed.upload_video(tmp_path, seconds=1.0)
    feed.fake("youtube", fault[0], json=fault[1])
    post = feed.http.post(
        "/v1/posts", json={"media_id": media["id"], "text": "stuck", "targets": ["youtube"]}
    ).json()
    listener = Listener(feed.api_url, feed.key, {"post_id": post["id"]})
    try:
        events = listener.events(lambda got: any(e["type"] == f"target.{status}" for e in got))
        stuck = events[-1]["data"]["target"]
        validate_payload({k: v for k, v in events[-1].items() if k != "id"})
        assert stuck["status"] == status and stuck["error"]["code"]
        assert (stuck["next_attempt_at"] is not None) == (status == "waiting")
    finally:
        listener.close()


def test_an_event_is_read_by_its_id(stack: Stack) -> None:
    """GET /v1/events/{id}: the body its deliveries carry; 404 for an unknown id and for
    another tenant's event."""
    made = stack.http.post("/v1/events/trigger", json={"type": "post.published"})
    assert made.status_code == 202, made.text
    event_id = made.json()["event_id"]
    event = stack.http.get(f"/v1/events/{event_id}")
    assert event.status_code == 200, event.text
    assert event.json()["type"] == "post.published" and event.json()["test"] is True
    missing = stack.http.get("/v1/events/msg_nope")
    assert missing.status_code == 404 and missing.json()["code"] == "event_not_found"
    other = stack.http.get(f"/v1/events/{event_id}", headers={
        "Authorization": f"Bearer {stack.other_tenant_key()}"})  # fmt: skip
    assert other.status_code == 404
