"""Forwarding streamed events to a receiver under development, as crosspost delivers them:
the event's body, signed the Standard Webhooks way (`webhook-id`, `webhook-timestamp`,
`webhook-signature` v1) with one secret, a redirect answered but never followed."""

from __future__ import annotations

import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import httpx
import orjson

from crosspost.webhooks.signing import signature_headers

# As long as a real delivery waits for an answer (README: Webhooks, Delivery).
TIMEOUT_SECONDS = 15.0


class BadTarget(ValueError):
    """A --forward-to that is not an http(s) URL."""


def check_target(url: str) -> str:
    """`url` when it is an http:// or https:// URL with a host (localhost is fine: it is the
    point); BadTarget saying what to write otherwise."""
    scheme, sep, _ = url.partition("://")
    if not sep:
        raise BadTarget(f"--forward-to {url}: give a whole URL, e.g. http://{url.lstrip('/')}")
    if scheme.lower() not in ("http", "https"):
        raise BadTarget(
            f"--forward-to {url}: only http:// and https:// receivers can be forwarded to "
            "(e.g. http://localhost:4242/hooks)"
        )
    try:
        host = httpx.URL(url).host
    except httpx.InvalidURL as err:
        raise BadTarget(f"--forward-to {url}: {err}") from None
    if not host:
        raise BadTarget(f"--forward-to {url}: the URL has no host, e.g. http://localhost:4242/")
    return url


def body_of(event: Mapping[str, Any]) -> bytes:
    """The body a delivery of `event` carries: `{type, timestamp, data[, test]}`, compact,
    as the server stores it (the stream's `id:` is the `webhook-id` header, not a member)."""
    return orjson.dumps({k: v for k, v in event.items() if k != "id"})


@dataclass(frozen=True)
class Answer:
    """What the receiver did with one event: its status code (None: no answer), how long it
    took, and why there was no answer or where a redirect pointed."""

    status: int | None
    millis: int
    detail: str = ""


class Forwarder:
    """POSTs events to one URL, each signed with `secret`; one connection reused."""

    def __init__(self, url: str, secret: str, *, timeout: float = TIMEOUT_SECONDS) -> None:
        self.url = url
        self.secret = secret
        # A proxy from the environment would carry a localhost receiver's traffic away from
        # it; redirects are not followed, as crosspost's own deliveries do not follow them.
        self.http = httpx.Client(timeout=timeout, follow_redirects=False, trust_env=False)

    def send(self, event: Mapping[str, Any]) -> Answer:
        """Deliver one event; never raises for the receiver's or the network's trouble."""
        body = body_of(event)
        headers = signature_headers(
            str(event["id"]),
            int(time.time()),
            body.decode(),
            [self.secret],
            event_type=str(event.get("type")),
        )
        started = time.monotonic()
        try:
            response = self.http.post(self.url, content=body, headers=headers)
        except httpx.HTTPError as err:
            return Answer(None, _since(started), str(err) or type(err).__name__)
        location = response.headers.get("location")
        detail = f"redirect to {location} not followed" if response.is_redirect else ""
        return Answer(response.status_code, _since(started), detail)

    def close(self) -> None:
        """Close the connection."""
        self.http.close()


def _since(started: float) -> int:
    return round((time.monotonic() - started) * 1000)
