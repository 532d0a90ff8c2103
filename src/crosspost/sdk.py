"""A small Python client for the crosspost API (what the CLI uses)."""

from __future__ import annotations

import hashlib
import json
import os
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

import httpx
from httpx_sse import SSEError, connect_sse

from crosspost import __version__
from crosspost_sdk.ratelimit import Pacer, RateLimit
from crosspost_sdk.signing import BODY_SHA256, HmacAuth

TERMINAL_POST = {"published", "partially_published", "failed", "cancelled", "deleted"}
TERMINAL_JOB = {"succeeded", "failed"}
TERMINAL_EXPORT = {"ready", "failed", "expired"}


class ApiError(Exception):
    """A problem+json answer from the API."""

    def __init__(
        self, status: int, problem: dict[str, Any], headers: Mapping[str, str] | None = None
    ) -> None:
        self.status = status
        self.problem = problem
        self.code = str(problem.get("code", "http_error"))
        self.headers: Mapping[str, str] = headers or {}
        super().__init__(f"{status} {self.code}: {problem.get('detail') or problem.get('title')}")

    @property
    def retry_after(self) -> float | None:
        """Seconds the API asked to wait before the next request (429, 503), if it said."""
        value = self.headers.get("Retry-After", "")
        return float(value) if value.isdigit() else None


class Client:
    """Talks to one crosspost API with one API key (signing each request when given the
    key's signing secret)."""

    def __init__(
        self,
        base_url: str,
        api_key: str,
        *,
        timeout: float = 60.0,
        signing_secret: str | None = None,
        signing_key_id: str | None = None,
    ) -> None:
        self.signing = signing_secret is not None
        # The key's rate-limit state after the last answer (None: unlimited or not yet known).
        self.rate_limit: RateLimit | None = None
        self.http = httpx.Client(
            base_url=base_url.rstrip("/"),
            timeout=timeout,
            headers={
                "Authorization": f"Bearer {api_key}",
                "User-Agent": f"crosspost-sdk/{__version__}",
            },
            auth=HmacAuth(api_key, signing_secret, signing_key_id) if signing_secret else None,
        )

    def close(self) -> None:
        """Close the connection pool."""
        self.http.close()

    def _check(self, response: httpx.Response) -> Any:
        self.rate_limit = RateLimit.from_headers(response.headers) or self.rate_limit
        if response.status_code >= 400:
            try:
                problem = response.json()
            except ValueError:
                problem = {"detail": response.text}
            raise ApiError(response.status_code, problem, response.headers)
        return response.json()

    def me(self) -> dict[str, Any]:
        """GET /v1/me: the tenant, mode, role and scopes of this client's key, and the key's
        public view (one cheap call that checks the key)."""
        return dict(self._check(self.http.get("/v1/me")))

    def upload_media(
        self,
        path: Path,
        *,
        content_type: str = "application/octet-stream",
        progress: Callable[[int], None] | None = None,
        piece: int = 1024 * 1024,
    ) -> dict[str, Any]:
        """Stream a file to POST /v1/media; `progress` is called with each piece's size."""

        def body() -> Iterator[bytes]:
            with path.open("rb") as fh:
                while data := fh.read(piece):
                    if progress:
                        progress(len(data))
                    yield data

        headers = {
            "Content-Type": content_type,
            "X-Filename": path.name,
            "Content-Length": str(os.path.getsize(path)),
        }
        # A signed upload needs the body's hash up front: one extra read of the file, never
        # the whole file in memory.
        extensions = {BODY_SHA256: _file_sha256(path, piece)} if self.signing else None
        response = self.http.post(
            "/v1/media", content=body(), headers=headers, timeout=None, extensions=extensions
        )
        return dict(self._check(response))

    def create_post(
        self, body: dict[str, Any], *, idempotency_key: str | None = None
    ) -> dict[str, Any]:
        """POST /v1/posts."""
        headers = {"Idempotency-Key": idempotency_key} if idempotency_key else {}
        return dict(self._check(self.http.post("/v1/posts", json=body, headers=headers)))

    def connect_account(self, platform: str, *, return_to: str | None = None) -> dict[str, Any]:
        """Start an OAuth connection: `{authorize_url, expires_at}`."""
        body = {"platform": platform, **({"return_to": return_to} if return_to else {})}
        result: dict[str, Any] = self._check(self.http.post("/v1/accounts/connect", json=body))
        return result

    def get_post(self, post_id: str) -> dict[str, Any]:
        """GET /v1/posts/{id}."""
        return dict(self._check(self.http.get(f"/v1/posts/{post_id}")))

    def list_posts(self, *, status: str | None = None, limit: int = 20) -> dict[str, Any]:
        """GET /v1/posts: one page, newest first (`{data, has_more, next_cursor}`)."""
        params: dict[str, str | int] = {"limit": limit}
        if status:
            params["status"] = status
        return dict(self._check(self.http.get("/v1/posts", params=params)))

    def list_accounts(self) -> list[dict[str, Any]]:
        """GET /v1/accounts: the connected social accounts of this key's mode."""
        return list(self._check(self.http.get("/v1/accounts")))

    def get_account(self, account_id: str) -> dict[str, Any]:
        """GET /v1/accounts/{id}: one account's health (never its tokens)."""
        return dict(self._check(self.http.get(f"/v1/accounts/{account_id}")))

    def ledger(self, post_id: str) -> list[dict[str, Any]]:
        """GET /v1/posts/{id}/ledger."""
        return list(self._check(self.http.get(f"/v1/posts/{post_id}/ledger")))

    def edit_post(self, post_id: str, changes: dict[str, Any]) -> dict[str, Any]:
        """PATCH /v1/posts/{id}: `{post, changed, edited, added, removed, left_alone}`."""
        return dict(self._check(self.http.patch(f"/v1/posts/{post_id}", json=changes)))

    def cancel(self, post_id: str) -> dict[str, Any]:
        """POST /v1/posts/{id}/cancel."""
        return dict(self._check(self.http.post(f"/v1/posts/{post_id}/cancel")))

    def disconnect_account(self, account_id: str) -> dict[str, Any]:
        """DELETE /v1/accounts/{id}: what the disconnect did."""
        return dict(self._check(self.http.delete(f"/v1/accounts/{account_id}")))

    def call(
        self,
        method: str,
        path: str,
        *,
        json: Any = None,
        params: dict[str, Any] | None = None,
        idempotency_key: str | None = None,
        content: bytes | None = None,
        content_type: str | None = None,
    ) -> Any:
        """Any API operation (a JSON body, or raw `content` of `content_type`): its JSON
        answer (None for 204), or ApiError."""
        headers = {"Idempotency-Key": idempotency_key} if idempotency_key else {}
        if content_type:
            headers["Content-Type"] = content_type
        response = self.http.request(
            method, path, json=json, params=params, headers=headers, content=content
        )
        if response.status_code == 204:
            return None
        return self._check(response)

    def list_media(self, *, kind: str | None = None, limit: int = 50) -> dict[str, Any]:
        """GET /v1/media: one page of the library, newest first."""
        params: dict[str, str | int] = {"limit": limit}
        if kind:
            params["kind"] = kind
        return dict(self._check(self.http.get("/v1/media", params=params)))

    def delete_media(self, media_id: str) -> None:
        """DELETE /v1/media/{id}."""
        response = self.http.delete(f"/v1/media/{media_id}")
        if response.status_code != 204:
            self._check(response)

    def retry_target(self, post_id: str, target_id: str) -> dict[str, Any]:
        """POST /v1/posts/{id}/targets/{target_id}/retry."""
        path = f"/v1/posts/{post_id}/targets/{target_id}/retry"
        return dict(self._check(self.http.post(path)))

    def delete_remote(self, post_id: str) -> dict[str, Any]:
        """DELETE /v1/posts/{id}/remote: every published target taken down on its platform
        (`{post, targets: [{target_id, outcome, code, detail, target}]}`)."""
        return dict(self._check(self.http.delete(f"/v1/posts/{post_id}/remote")))

    def delete_target_remote(self, post_id: str, target_id: str) -> dict[str, Any]:
        """DELETE /v1/posts/{id}/targets/{target_id}/remote: one target taken down."""
        path = f"/v1/posts/{post_id}/targets/{target_id}/remote"
        return dict(self._check(self.http.delete(path)))

    def post_metrics(self, post_id: str) -> dict[str, Any]:
        """GET /v1/posts/{id}/metrics: each target's latest counts, series and schedule."""
        return dict(self._check(self.http.get(f"/v1/posts/{post_id}/metrics")))

    def create_webhook(self, body: dict[str, Any]) -> dict[str, Any]:
        """POST /v1/webhooks: `{url, event_types?, description?, headers?, …}`; the answer
        holds the signing secret, shown this once."""
        return dict(self._check(self.http.post("/v1/webhooks", json=body)))

    def list_webhooks(self) -> list[dict[str, Any]]:
        """Every webhook endpoint of this key's mode (all pages)."""
        found: list[dict[str, Any]] = []
        cursor: str | None = None
        while True:
            params: dict[str, str | int] = {"limit": 100}
            if cursor:
                params["cursor"] = cursor
            page = self._check(self.http.get("/v1/webhooks", params=params))
            found.extend(page["data"])
            cursor = page.get("next_cursor")
            if not page.get("has_more") or not cursor:
                return found

    def webhook_action(self, endpoint_id: str, action: str) -> dict[str, Any]:
        """POST /v1/webhooks/{id}/{action}: `test`, `rotate-secret`, `disable` or `enable`."""
        return dict(self._check(self.http.post(f"/v1/webhooks/{endpoint_id}/{action}")))

    def create_export(
        self,
        *,
        kind: str = "posts",
        format: str = "jsonl",
        since: str | None = None,
        until: str | None = None,
        idempotency_key: str | None = None,
    ) -> dict[str, Any]:
        """POST /v1/exports: start an export of posts or the ledger (ISO 8601 bounds)."""
        body: dict[str, Any] = {"kind": kind, "format": format}
        body.update({k: v for k, v in (("since", since), ("until", until)) if v is not None})
        headers = {"Idempotency-Key": idempotency_key} if idempotency_key else {}
        return dict(self._check(self.http.post("/v1/exports", json=body, headers=headers)))

    def get_export(self, export_id: str) -> dict[str, Any]:
        """GET /v1/exports/{id}: status and progress."""
        return dict(self._check(self.http.get(f"/v1/exports/{export_id}")))

    def download_export(self, export: dict[str, Any], path: Path) -> int:
        """Save a ready export's file to `path`, checking its SHA-256; returns its size."""
        digest = hashlib.sha256()
        partial = path.with_name(path.name + ".part")
        with self.http.stream("GET", export["download_url"], timeout=None) as response:
            if response.status_code >= 400:
                response.read()
                self._check(response)
            with partial.open("wb") as fh:
                for chunk in response.iter_bytes():
                    digest.update(chunk)
                    fh.write(chunk)
        if digest.hexdigest() != export["sha256"]:
            partial.unlink(missing_ok=True)
            raise ValueError(f"export {export['id']} downloaded with the wrong SHA-256; retry")
        partial.replace(path)
        return path.stat().st_size

    def follow(
        self,
        post_id: str,
        *,
        timeout: float = 600.0,
        interval: float = 0.5,
        on_update: Callable[[dict[str, Any]], None] | None = None,
    ) -> dict[str, Any]:
        """Poll a post until it reaches a final status (or `timeout` seconds pass), backing
        off while nothing changes and sparing the key's rate limit (see `Pacer`)."""
        return _poll(
            lambda: self.get_post(post_id),
            TERMINAL_POST,
            timeout,
            interval,
            on_update,
            lambda: self.rate_limit,
        )

    def follow_export(
        self,
        export_id: str,
        *,
        timeout: float = 600.0,
        interval: float = 0.5,
        on_update: Callable[[dict[str, Any]], None] | None = None,
    ) -> dict[str, Any]:
        """Poll an export until it is ready, failed or expired (or `timeout` seconds pass),
        backing off as `follow` does."""
        return _poll(
            lambda: self.get_export(export_id),
            TERMINAL_EXPORT,
            timeout,
            interval,
            on_update,
            lambda: self.rate_limit,
        )

    def follow_job(
        self,
        job_id: str,
        *,
        timeout: float = 600.0,
        interval: float = 0.5,
        on_update: Callable[[dict[str, Any]], None] | None = None,
    ) -> dict[str, Any]:
        """Poll a job (`/v1/jobs/{id}`: highlight detection, a render) until it succeeded or
        failed (or `timeout` seconds pass), backing off as `follow` does."""
        return _poll(
            lambda: dict(self.call("GET", f"/v1/jobs/{job_id}")),
            TERMINAL_JOB,
            timeout,
            interval,
            on_update,
            lambda: self.rate_limit,
        )

    # --- checking a post before the upload, the events feed and stream, triggered events --

    def validate_post(
        self, body: dict[str, Any], *, media_path: Path | None = None
    ) -> dict[str, Any]:
        """POST /v1/posts/validate: what create would do with `body`, creating nothing
        (`{valid, publish_at, targets}`); ApiError with every problem in
        `problem["errors"]` when create would refuse it. With `media_path`, that local file
        is probed and described in place of `media_id`, so it is checked before its upload."""
        payload = dict(body)
        if media_path is not None:
            # Imported here: PyAV is needed only when a file is described.
            from crosspost.media.describe import describe  # noqa: PLC0415

            payload["media"] = describe(media_path).model_dump(mode="json")
        return dict(self._check(self.http.post("/v1/posts/validate", json=payload)))

    def events(
        self,
        *,
        after: str | None = None,
        types: Sequence[str] | None = None,
        post_id: str | None = None,
        limit: int = 100,
    ) -> Iterator[dict[str, Any]]:
        """GET /v1/events page after page: every event after the event id `after` (from
        the oldest kept when None), oldest first, up to the newest there is now. Each is
        `{id, type, timestamp, data, test}`; the last one's id is where to resume."""
        while True:
            params = _feed_params(after, types, post_id)
            params["limit"] = limit
            page = self._check(self.http.get("/v1/events", params=params))
            yield from page["data"]
            after = page.get("next_cursor") or after
            if not page["has_more"]:
                return

    def stream_events(
        self,
        *,
        after: str | None = None,
        types: Sequence[str] | None = None,
        post_id: str | None = None,
        retry_seconds: float = 0.5,
        max_retry_seconds: float = 30.0,
        idle_timeout: float = 45.0,
        on_open: Callable[[str | None], None] | None = None,
        on_drop: Callable[[str, float], None] | None = None,
    ) -> Iterator[dict[str, Any]]:
        """GET /v1/events/stream: events as they happen, each as `events` gives them, for as
        long as the caller iterates. Starts after the event id `after`, else now (with
        `post_id`: at that post's first event). A dropped connection, a server restart or
        `idle_timeout` seconds without even a heartbeat reconnect with `Last-Event-ID`
        (waiting `retry_seconds`, doubling up to `max_retry_seconds`), so nothing is missed
        or repeated; a refusal (bad filter, revoked key) raises ApiError.

        `on_open(resumed_after)` is called each time the stream is open (the event id it
        resumes after, None at first without `after`); `on_drop(why, seconds)` each time it
        is lost, before waiting that long to reconnect. Either may raise to stop."""
        last = after
        delay = retry_seconds
        timeout = httpx.Timeout(self.http.timeout.connect, read=idle_timeout)
        while True:
            headers = {"Last-Event-ID": last} if last else {}
            params = _feed_params(None, types, post_id)
            try:
                with connect_sse(
                    self.http,
                    "GET",
                    "/v1/events/stream",
                    params=params,
                    headers=headers,
                    timeout=timeout,
                ) as source:
                    if source.response.status_code >= 400:
                        source.response.read()
                        if source.response.status_code not in _RETRIED:
                            self._check(source.response)
                        raise httpx.TransportError(f"{source.response.status_code} answer")
                    if on_open is not None:
                        on_open(last)
                    for message in source.iter_sse():
                        delay = retry_seconds
                        if message.id:
                            last = message.id
                        if message.data:
                            yield {"id": message.id, **json.loads(message.data)}
                why = "the server ended the stream"
            except (httpx.TransportError, SSEError) as err:
                # Dropped or refused for now: resume after the last event seen.
                why = str(err) or type(err).__name__
            if on_drop is not None:
                on_drop(why, delay)
            time.sleep(delay)
            delay = min(delay * 2, max_retry_seconds)

    def event_types(self) -> list[dict[str, Any]]:
        """GET /v1/webhooks/event-types: every event type, `{type, description, schema,
        example}`."""
        return list(self._check(self.http.get("/v1/webhooks/event-types"))["data"])

    def trigger_event(
        self, event_type: str, *, idempotency_key: str | None = None
    ) -> dict[str, Any]:
        """POST /v1/events/trigger: send the catalogue's example `event_type` event, marked
        `"test": true`, to every matching endpoint and the feed (test keys); `{event_id}`."""
        headers = {"Idempotency-Key": idempotency_key} if idempotency_key else {}
        response = self.http.post("/v1/events/trigger", json={"type": event_type}, headers=headers)
        return dict(self._check(response))


# Answers after which a stream is opened again later rather than given up.
_RETRIED = frozenset({429, 502, 503, 504})


def _feed_params(
    after: str | None, types: Sequence[str] | None, post_id: str | None
) -> dict[str, str | int]:
    params: dict[str, str | int] = {}
    if after:
        params["after"] = after
    if types:
        params["types"] = ",".join(types)
    if post_id:
        params["post_id"] = post_id
    return params


def _poll(
    read: Callable[[], dict[str, Any]],
    final: set[str],
    timeout: float,
    interval: float,
    on_update: Callable[[dict[str, Any]], None] | None,
    rate: Callable[[], RateLimit | None] = lambda: None,
) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    pacer = Pacer(first=interval)
    last: dict[str, Any] | None = None
    while True:
        seen = read()
        if on_update:
            on_update(seen)
        left = deadline - time.monotonic()
        if seen["status"] in final or left <= 0:
            return seen
        changed, last = seen != last, seen
        time.sleep(min(left, pacer.next(changed, rate())))


def _file_sha256(path: Path, piece: int) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        while data := fh.read(piece):
            digest.update(data)
    return digest.hexdigest()
