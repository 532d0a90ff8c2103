"""Media by URL over real HTTP: `POST /v1/media {"url": …}` answers 202 `fetching`, a worker
fetches the file from a real server on 127.0.0.1 through the SSRF guard, probes and counts
it, and the item becomes `ready`, or `failed` with the reason: an address inside the network
(at once, after a redirect, or once a name resolves), too large, too slow, a web page posing
as a video, an HTTP error, a quota. Deleting an item still fetching stops the fetch; a
worker SIGKILLed mid-fetch is replaced and the URL ends as exactly one ready item.

The test server listens on 127.0.0.1, which the guard refuses like any private address; the
stacks here allow exactly 127.0.0.1/32 (`media_fetch_allow_cidrs`, the operator's switch),
so 127.0.0.2 and every other internal address stay refused."""

from __future__ import annotations

import contextlib
import hashlib
import signal
import subprocess
import threading
import time
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from crosspost.domain.media_items import MediaStatus
from crosspost.engine import media_fetch, media_library
from crosspost.errors import InvalidInput
from crosspost.media.samples import make_image, make_video
from crosspost.store.tables import jobs
from crosspost.store.tables import media as media_table
from tests.e2e.conftest import Stack, expect_problem

# Fetching from a URL (SSRF rules, streaming, probing) does not depend on the database: SQLite only.
pytestmark = pytest.mark.one_database

ALLOW = ["127.0.0.1/32"]
Route = Callable[[BaseHTTPRequestHandler], None]


class Source:
    """A small HTTP server on 127.0.0.1 serving what each test puts in `routes`; `release`
    frees handlers that stall on purpose; `hits` counts requests per path."""

    def __init__(self) -> None:
        self.routes: dict[str, Route] = {}
        self.hits: dict[str, int] = {}
        self.release = threading.Event()
        source = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_GET(self) -> None:
                path = self.path.split("?")[0]
                source.hits[path] = source.hits.get(path, 0) + 1
                route = source.routes.get(path)
                if route is None:
                    self.send_response(404)
                    self.send_header("Content-Length", "9")
                    self.end_headers()
                    self.wfile.write(b"not found")
                    return
                # The fetcher may go away mid-answer (cancelled, timed out, killed).
                with contextlib.suppress(BrokenPipeError, ConnectionResetError):
                    route(self)

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.port = self.server.server_address[1]
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def url(self, path: str, host: str = "127.0.0.1") -> str:
        """The URL of `path` on this server (through `host`)."""
        return f"http://{host}:{self.port}{path}"

    def stop(self) -> None:
        """Free stalled handlers and stop serving."""
        self.release.set()
        self.server.shutdown()
        self.server.server_close()


def serve(data: bytes, content_type: str, *, length: bool = True, status: int = 200) -> Route:
    """A route answering `data` whole (without Content-Length: until the connection closes)."""

    def route(handler: BaseHTTPRequestHandler) -> None:
        handler.send_response(status)
        handler.send_header("Content-Type", content_type)
        if length:
            handler.send_header("Content-Length", str(len(data)))
        else:
            handler.send_header("Connection", "close")
        handler.end_headers()
        handler.wfile.write(data)
        handler.close_connection = True

    return route


def stall_after(data: bytes, sent: int, release: threading.Event) -> Route:
    """A route that sends the headers and `sent` bytes of `data`, then waits for `release`."""

    def route(handler: BaseHTTPRequestHandler) -> None:
        handler.send_response(200)
        handler.send_header("Content-Type", "video/mp4")
        handler.send_header("Content-Length", str(len(data)))
        handler.end_headers()
        handler.wfile.write(data[:sent])
        handler.wfile.flush()
        release.wait(60)
        handler.close_connection = True

    return route


def redirect(to: str) -> Route:
    """A route answering 302 to `to`."""

    def route(handler: BaseHTTPRequestHandler) -> None:
        handler.send_response(302)
        handler.send_header("Location", to)
        handler.send_header("Content-Length", "0")
        handler.end_headers()

    return route


@pytest.fixture
def source() -> Iterator[Source]:
    """A media source on 127.0.0.1."""
    server = Source()
    yield server
    server.stop()


@pytest.fixture
def clip(tmp_path: Path) -> bytes:
    """A real one-second video."""
    return make_video(tmp_path / "clip.mp4", seconds=1.0).read_bytes()


@pytest.fixture
def stack(make_stack: Callable[..., Stack]) -> Stack:
    """A stack whose jobs run only in the workers a test spawns (`spawn_worker`)."""
    return make_stack(workers=0, media_fetch_allow_cidrs=ALLOW)


def _ask(stack: Stack, url: str, **extra: Any) -> dict[str, Any]:
    answer = stack.http.post("/v1/media", json={"url": url, **extra})
    assert answer.status_code == 202, answer.text
    item: dict[str, Any] = answer.json()
    assert item["status"] == "fetching" and item["kind"] is None, item
    return item


def _wait(
    stack: Stack, media_id: str, done: Callable[[dict[str, Any]], bool], timeout: float = 30.0
) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    item: dict[str, Any] = {}
    while time.monotonic() < deadline:
        item = stack.http.get(f"/v1/media/{media_id}").json()
        if done(item):
            return item
        time.sleep(0.05)
    pytest.fail(f"media {media_id} did not reach the expected state: {item}")


def _settled(stack: Stack, media_id: str, timeout: float = 30.0) -> dict[str, Any]:
    return _wait(stack, media_id, lambda m: m.get("status") != "fetching", timeout)


def _failed(stack: Stack, url: str, code: str, timeout: float = 30.0) -> dict[str, Any]:
    item = _settled(stack, _ask(stack, url)["id"], timeout)
    assert item["status"] == "failed", item
    assert item["error"]["code"] == code, item
    assert item["kind"] is None and item["size_bytes"] is None, item
    return item


def _leftovers(stack: Stack) -> list[str]:
    """Writes of fetches still pending in the media store."""
    return stack.svc.storage.pending("med_")


def _fetch_jobs(stack: Stack) -> int:
    with stack.svc.db.read() as conn:
        query = sa.select(sa.func.count()).select_from(jobs).where(jobs.c.kind == media_fetch.KIND)
        return int(conn.execute(query).scalar_one())


def _fetch_jobs_drain(stack: Stack, timeout: float = 15) -> int:
    """The fetch jobs left once they are gone or `timeout` passed: a worker deletes a
    finished job in a batch shortly after the item it wrote is visible."""
    deadline = time.monotonic() + timeout
    while (left := _fetch_jobs(stack)) and time.monotonic() < deadline:
        time.sleep(0.05)
    return left


# --- fetched -----------------------------------------------------------------------------


def test_a_video_and_an_image_are_fetched_probed_and_counted(
    make_stack: Callable[..., Stack], source: Source, clip: bytes, tmp_path: Path
) -> None:
    stack = make_stack(media_fetch_allow_cidrs=ALLOW)
    image = make_image(tmp_path / "still.jpg").read_bytes()
    source.routes["/media/launch.mp4"] = serve(clip, "video/mp4")
    source.routes["/still"] = serve(image, "image/jpeg", length=False)

    asked = _ask(stack, source.url("/media/launch.mp4?token=s3cr3t"))
    assert asked["filename"] == "launch.mp4"
    assert asked["source_url"] == source.url("/media/launch.mp4?…")
    video = _settled(stack, asked["id"])
    assert video["status"] == "ready" and video["error"] is None, video
    assert (video["kind"], video["container"], video["content_type"]) == (
        "video",
        "mp4",
        "video/mp4",
    )
    assert video["size_bytes"] == len(clip)
    assert video["sha256"] == hashlib.sha256(clip).hexdigest()
    assert video["duration_seconds"] == pytest.approx(1.0, abs=0.1)
    assert video["progress"] == {"bytes_fetched": len(clip), "bytes_total": len(clip)}
    assert "s3cr3t" not in stack.http.get("/v1/media").text

    still = _settled(stack, _ask(stack, source.url("/still"), filename="cover.jpg")["id"])
    assert (still["status"], still["kind"], still["filename"]) == ("ready", "image", "cover.jpg")
    assert still["progress"] == {"bytes_fetched": len(image), "bytes_total": len(image)}

    listed = {m["id"]: m for m in stack.http.get("/v1/media").json()["data"]}
    assert {listed[i]["status"] for i in (video["id"], still["id"])} == {"ready"}
    usage = stack.http.get("/v1/usage").json()["tenant"]
    assert usage["bytes_uploaded"] == len(clip) + len(image)
    # The file is the one served, and a post can use it.
    content = stack.stored_bytes(video["id"])
    assert content == clip
    post = stack.http.post(
        "/v1/posts", json={"media_id": video["id"], "text": "x", "targets": ["youtube"]}
    )
    assert post.status_code == 201, post.text
    assert _leftovers(stack) == []


def test_the_same_idempotency_key_answers_the_same_item(
    make_stack: Callable[..., Stack], source: Source, clip: bytes
) -> None:
    stack = make_stack(workers=0, media_fetch_allow_cidrs=ALLOW)
    body = {"url": source.url("/clip.mp4")}
    headers = {"Idempotency-Key": "fetch-1"}
    first = stack.http.post("/v1/media", json=body, headers=headers)
    again = stack.http.post("/v1/media", json=body, headers=headers)
    assert (first.status_code, again.status_code) == (202, 202), again.text
    assert again.json()["id"] == first.json()["id"]
    assert again.headers.get("idempotent-replayed") == "true"
    other = stack.http.post("/v1/media", json={"url": source.url("/b.mp4")}, headers=headers)
    expect_problem(other, 422, "idempotency_key_reused")
    assert len(stack.http.get("/v1/media").json()["data"]) == 1
    assert _fetch_jobs(stack) == 1


def test_media_not_ready_cannot_be_used_by_a_post() -> None:
    """`check_usable`: the check post creation makes (422 `media_not_ready`)."""
    fetching = {"id": "med_1", "status": "fetching", "fetched_bytes": 10,
                "fetch_total_bytes": 100}  # fmt: skip
    with pytest.raises(InvalidInput) as caught:
        media_library.check_usable(fetching)
    assert caught.value.code == "media_not_ready" and "10 of 100 bytes" in caught.value.detail
    failed = {"id": "med_2", "status": "failed", "error_code": "fetch_http_error",
              "error_message": "HTTP 404"}  # fmt: skip
    with pytest.raises(InvalidInput) as caught:
        media_library.check_usable(failed)
    assert caught.value.code == "media_not_ready" and "HTTP 404" in caught.value.detail
    media_library.check_usable({"id": "med_3", "status": MediaStatus.READY.value})


# --- refused -----------------------------------------------------------------------------


def test_a_url_inside_the_network_is_refused_at_once(
    make_stack: Callable[..., Stack], source: Source, clip: bytes
) -> None:
    """A literal internal address is refused before anything is recorded; a malformed URL
    too."""
    stack = make_stack(workers=0, media_fetch_allow_cidrs=ALLOW)
    source.routes["/clip.mp4"] = serve(clip, "video/mp4")
    for url in (
        source.url("/clip.mp4", "127.0.0.2"),  # loopback, outside the one allowed address
        source.url("/clip.mp4", "[::1]"),
        source.url("/clip.mp4", "2130706434"),  # 127.0.0.2 spelled as one number
        source.url("/clip.mp4", "[::ffff:127.0.0.2]"),
        "http://0.0.0.0/clip.mp4",
    ):
        refused = expect_problem(stack.http.post("/v1/media", json={"url": url}), 422)
        assert refused["code"] == "url_not_allowed", (url, refused)
        assert "public addresses" in refused["detail"], refused
    for url, code in (
        ("ftp://example.com/a.mp4", "invalid_url"),
        ("http://user:pw@example.com/a.mp4", "invalid_url"),
        ("not a url", "invalid_url"),
        ("https:///a.mp4", "invalid_url"),
    ):
        expect_problem(stack.http.post("/v1/media", json={"url": url}), 422, code)
    assert stack.http.get("/v1/media").json()["data"] == []
    assert source.hits == {}


def test_a_redirect_inside_the_network_fails_the_fetch(
    make_stack: Callable[..., Stack], source: Source, clip: bytes
) -> None:
    stack = make_stack(media_fetch_allow_cidrs=ALLOW, media_fetch_max_redirects=2)
    source.routes["/clip.mp4"] = serve(clip, "video/mp4")
    source.routes["/inside"] = redirect(source.url("/clip.mp4", "127.0.0.2"))
    item = _failed(stack, source.url("/inside"), "url_not_allowed")
    assert "127.0.0.2" in item["error"]["message"]
    assert source.hits == {"/inside": 1}
    # Redirects within the limit are followed; past it, refused.
    source.routes["/one"] = redirect("/clip.mp4")
    source.routes["/two"] = redirect("/one")
    source.routes["/three"] = redirect("/two")
    assert _settled(stack, _ask(stack, source.url("/two"))["id"])["status"] == "ready"
    _failed(stack, source.url("/three"), "fetch_too_many_redirects")


def test_a_name_that_resolves_inside_the_network_is_refused_when_connecting(
    make_stack: Callable[..., Stack], source: Source, clip: bytes
) -> None:
    """Without the operator's allow-list, `localhost` passes the look at the URL (it is a
    name) and is refused by the guard once resolved, before any byte is sent."""
    stack = make_stack()
    source.routes["/clip.mp4"] = serve(clip, "video/mp4")
    item = _failed(stack, source.url("/clip.mp4", "localhost"), "url_not_allowed")
    assert "127.0.0.1 is in a loopback range" in item["error"]["message"], item
    assert source.hits == {}


def test_a_file_over_the_upload_limit_is_refused(
    make_stack: Callable[..., Stack], source: Source, clip: bytes
) -> None:
    stack = make_stack(media_fetch_allow_cidrs=ALLOW, max_upload_bytes=len(clip) - 1)
    source.routes["/announced.mp4"] = serve(clip, "video/mp4")
    source.routes["/streamed.mp4"] = serve(clip, "video/mp4", length=False)
    announced = _failed(stack, source.url("/announced.mp4"), "fetch_too_large")
    assert f"announces {len(clip)} bytes" in announced["error"]["message"]
    assert announced["progress"]["bytes_fetched"] == 0
    _failed(stack, source.url("/streamed.mp4"), "fetch_too_large")
    assert _leftovers(stack) == []
    assert not list(stack.svc.storage.keys("med_"))
    assert stack.http.get("/v1/usage").json()["tenant"].get("bytes_uploaded", 0) == 0


def test_a_file_over_the_monthly_quota_is_refused(
    make_stack: Callable[..., Stack], source: Source, clip: bytes
) -> None:
    stack = make_stack(media_fetch_allow_cidrs=ALLOW)
    quota = {"metric": "bytes_uploaded", "hard_limit": len(clip) - 1}
    assert stack.http.put("/v1/usage/quotas", json=quota).is_success
    source.routes["/clip.mp4"] = serve(clip, "video/mp4")
    source.routes["/unannounced.mp4"] = serve(clip, "video/mp4", length=False)
    announced = _failed(stack, source.url("/clip.mp4"), "quota_exceeded")
    assert "bytes_uploaded" in announced["error"]["message"]
    # Unannounced, the size is known only at the end: the count refuses it then.
    _failed(stack, source.url("/unannounced.mp4"), "quota_exceeded")
    assert not list(stack.svc.storage.keys("med_"))


def test_a_source_that_stalls_times_out(
    make_stack: Callable[..., Stack], source: Source, clip: bytes
) -> None:
    stack = make_stack(media_fetch_allow_cidrs=ALLOW, media_fetch_timeout_seconds=1.0)
    source.routes["/midway.mp4"] = stall_after(clip, 1000, source.release)

    def silent(handler: BaseHTTPRequestHandler) -> None:
        source.release.wait(60)  # never answers

    source.routes["/silent.mp4"] = silent
    started = time.monotonic()
    midway = _failed(stack, source.url("/midway.mp4"), "fetch_timeout", timeout=15)
    assert "within 1 s (1000 bytes received)" in midway["error"]["message"], midway
    _failed(stack, source.url("/silent.mp4"), "fetch_timeout", timeout=15)
    assert time.monotonic() - started < 10
    assert _leftovers(stack) == []


def test_a_web_page_posing_as_a_video_is_refused(
    make_stack: Callable[..., Stack], source: Source
) -> None:
    stack = make_stack(media_fetch_allow_cidrs=ALLOW)
    page = b"<!DOCTYPE html><html><body>Sign in to download</body></html>" * 20
    source.routes["/video.mp4"] = serve(page, "video/mp4")
    source.routes["/empty.mp4"] = serve(b"", "video/mp4")
    item = _failed(stack, source.url("/video.mp4"), "unsupported_media")
    assert "said video/mp4, but its bytes are an HTML page" in item["error"]["message"]
    _failed(stack, source.url("/empty.mp4"), "empty_upload")
    assert not list(stack.svc.storage.keys("med_"))


def test_http_errors_are_reported_with_their_status(
    make_stack: Callable[..., Stack], source: Source
) -> None:
    stack = make_stack(media_fetch_allow_cidrs=ALLOW)
    source.routes["/broken.mp4"] = serve(b"oops", "text/plain", status=503)
    missing = _failed(stack, source.url("/gone.mp4?sig=abc"), "fetch_http_error")
    assert "answered HTTP 404 Not Found" in missing["error"]["message"], missing
    assert "sig=abc" not in missing["error"]["message"]
    broken = _failed(stack, source.url("/broken.mp4"), "fetch_http_error")
    assert "HTTP 503" in broken["error"]["message"]


def test_bad_bodies_are_refused(make_stack: Callable[..., Stack]) -> None:
    stack = make_stack(workers=0, media_fetch_allow_cidrs=ALLOW)
    json_type = {"Content-Type": "application/json"}
    for body, status, code in (
        (b"{", 400, "invalid_json"),
        (b"[]", 422, "validation_error"),
        (b"{}", 422, "validation_error"),
        (b'{"url": "https://a.example/x.mp4", "colour": "red"}', 422, "validation_error"),
        (b'{"url": 7}', 422, "validation_error"),
        (b'{"url": "https://a.example/x.mp4", "filename": ""}', 422, "validation_error"),
        (b'{"url": "https://a.example/x.mp4", "filename": "a\\u0000b"}', 422, "nul_character"),
        (b'{"url": "https://a.example/' + b"x" * 3000 + b'"}', 422, "validation_error"),
        (b'{"url": "' + b"x" * 2_000_000 + b'"}', 413, "body_too_large"),
    ):
        answer = stack.http.post("/v1/media", content=body, headers=json_type)
        expect_problem(answer, status, code)
    assert stack.http.get("/v1/media").json()["data"] == []


# --- cancelled, killed -------------------------------------------------------------------


def test_deleting_an_item_still_fetching_stops_the_fetch(
    make_stack: Callable[..., Stack], source: Source, clip: bytes
) -> None:
    stack = make_stack(media_fetch_allow_cidrs=ALLOW)
    source.routes["/slow.mp4"] = stall_after(clip, len(clip) // 2, source.release)
    item = _ask(stack, source.url("/slow.mp4"))
    _wait(stack, item["id"], lambda m: m["progress"]["bytes_fetched"] > 0)
    assert stack.http.delete(f"/v1/media/{item['id']}").status_code == 204
    assert _fetch_jobs_drain(stack) == 0, "the fetch went on after its media was deleted"
    assert _leftovers(stack) == [] and not list(stack.svc.storage.keys("med_"))
    expect_problem(stack.http.get(f"/v1/media/{item['id']}"), 404)
    assert stack.http.get("/v1/media").json()["data"] == []


def test_a_worker_killed_mid_fetch_is_replaced_and_one_item_is_ready(
    stack: Stack,
    source: Source,
    clip: bytes,
    spawn_worker: Callable[..., subprocess.Popen[bytes]],
) -> None:
    """The first request stalls halfway; its worker is SIGKILLed there. Another worker
    takes the job once the lease runs out, fetches the whole file again, and the URL ends
    as exactly one ready media item, with no temp file left."""
    first_release = threading.Event()
    calls: list[int] = []
    whole = serve(clip, "video/mp4")
    half = stall_after(clip, len(clip) // 2, first_release)

    def route(handler: BaseHTTPRequestHandler) -> None:
        calls.append(1)
        (half if len(calls) == 1 else whole)(handler)

    source.routes["/clip.mp4"] = route
    env = {"CROSSPOST_MEDIA_FETCH_ALLOW_CIDRS": '["127.0.0.1/32"]'}
    item = _ask(stack, source.url("/clip.mp4"))
    first = spawn_worker(1, **env)
    # A worker process takes seconds to start on a busy machine.
    _wait(stack, item["id"], lambda m: m["progress"]["bytes_fetched"] > 0, timeout=90)
    if stack.svc.settings.media_store is None:  # S3 holds a first part in memory until full
        assert _leftovers(stack), "the fetch should be writing its temp file"
    first.send_signal(signal.SIGKILL)
    first.wait(timeout=10)
    first_release.set()
    cut = stack.http.get(f"/v1/media/{item['id']}").json()
    assert cut["status"] == "fetching", f"the kill came too late to test anything: {cut}"
    spawn_worker(1, **env)
    ready = _settled(stack, item["id"], timeout=90)
    assert ready["status"] == "ready", ready
    assert ready["sha256"] == hashlib.sha256(clip).hexdigest()
    assert len(calls) == 2
    with stack.svc.db.read() as conn:
        rows = conn.execute(sa.select(media_table.c.id)).all()
    assert [r[0] for r in rows] == [item["id"]]
    assert _leftovers(stack) == []
    assert list(stack.svc.storage.keys("med_")) == [item["id"]]
    assert _fetch_jobs_drain(stack) == 0


def test_a_post_refuses_media_still_fetching_or_failed(
    make_stack: Callable[..., Stack], source: Source
) -> None:
    """Over HTTP: a post (or a cover image) naming media that is not ready is a 422
    `media_not_ready` saying why, never a post that could not publish."""
    stack = make_stack(workers=0, media_fetch_allow_cidrs=ALLOW)
    waiting = _ask(stack, source.url("/later.mp4"))
    body = {"media_id": waiting["id"], "text": "t", "targets": ["youtube"]}
    refused = stack.http.post("/v1/posts", json=body)
    expect_problem(refused, 422, "media_not_ready")
    assert "still being fetched" in refused.json()["detail"], refused.text
    cover = {"text": "t", "targets": ["youtube"], "media_id": waiting["id"],
             "overrides": {"youtube": {"thumbnail_media_id": waiting["id"]}}}  # fmt: skip
    expect_problem(stack.http.post("/v1/posts", json=cover), 422, "media_not_ready")
    assert stack.http.get("/v1/posts").json()["data"] == []

    failing = make_stack(media_fetch_allow_cidrs=ALLOW)
    failed = _failed(failing, source.url("/gone.mp4"), "fetch_http_error")
    answer = failing.http.post(
        "/v1/posts", json={"media_id": failed["id"], "text": "t", "targets": ["x"]}
    )
    expect_problem(answer, 422, "media_not_ready")
    assert "can never be used" in answer.json()["detail"], answer.text


@pytest.fixture
def media_store(media_store_url: str | None) -> str | None:
    """This suite runs on local disk and on S3 (a real S3-compatible server over HTTP)."""
    return media_store_url
