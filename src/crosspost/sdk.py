"""A small Python client for the crosspost API (what the CLI uses)."""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx

from crosspost import __version__

TERMINAL_POST = {"published", "partially_published", "failed", "cancelled"}


class ApiError(Exception):
    """A problem+json answer from the API."""

    def __init__(self, status: int, problem: dict[str, Any]) -> None:
        self.status = status
        self.problem = problem
        self.code = str(problem.get("code", "http_error"))
        super().__init__(f"{status} {self.code}: {problem.get('detail') or problem.get('title')}")


class Client:
    """Talks to one crosspost API with one API key."""

    def __init__(self, base_url: str, api_key: str, *, timeout: float = 60.0) -> None:
        self.http = httpx.Client(
            base_url=base_url.rstrip("/"),
            timeout=timeout,
            headers={
                "Authorization": f"Bearer {api_key}",
                "User-Agent": f"crosspost-sdk/{__version__}",
            },
        )

    def close(self) -> None:
        """Close the connection pool."""
        self.http.close()

    def _check(self, response: httpx.Response) -> Any:
        if response.status_code >= 400:
            try:
                problem = response.json()
            except ValueError:
                problem = {"detail": response.text}
            raise ApiError(response.status_code, problem)
        return response.json()

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
        return dict(
            self._check(self.http.post("/v1/media", content=body(), headers=headers, timeout=None))
        )

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

    def ledger(self, post_id: str) -> list[dict[str, Any]]:
        """GET /v1/posts/{id}/ledger."""
        return list(self._check(self.http.get(f"/v1/posts/{post_id}/ledger")))

    def cancel(self, post_id: str) -> dict[str, Any]:
        """POST /v1/posts/{id}/cancel."""
        return dict(self._check(self.http.post(f"/v1/posts/{post_id}/cancel")))

    def follow(
        self,
        post_id: str,
        *,
        timeout: float = 600.0,
        interval: float = 0.5,
        on_update: Callable[[dict[str, Any]], None] | None = None,
    ) -> dict[str, Any]:
        """Poll a post until it reaches a final status (or `timeout` seconds pass)."""
        deadline = time.monotonic() + timeout
        while True:
            post = self.get_post(post_id)
            if on_update:
                on_update(post)
            if post["status"] in TERMINAL_POST or time.monotonic() >= deadline:
                return post
            time.sleep(interval)
