"""GitHub's webhook deliveries to a pipeline: verified, taken once, and kept as events.

A delivery carries no API key: it is GitHub's, and its `X-Hub-Signature-256` (HMAC-SHA256
of the raw body under the pipeline's webhook secret, compared in constant time) is what
proves it. Its `X-GitHub-Delivery` id is recorded with what it brought in one transaction,
so the same delivery arriving again (a replay, or a redelivery of one already taken) is
refused and changes nothing.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import Mapping
from datetime import datetime

from crosspost.domain.pipeline import DeliveryReceipt
from crosspost.engine.services import Services
from crosspost.errors import BadRequest, Conflict, NotFound, Unauthorized
from crosspost.ids import new_id
from crosspost.pipeline import pipelines
from crosspost.pipeline.github_events import Event, read_delivery
from crosspost.store import pipelines as rows

_HEADERS = ("X-GitHub-Event", "X-GitHub-Delivery", "X-Hub-Signature-256")
MAX_DELIVERY_ID = 64


def signature_of(secret: str, body: bytes) -> str:
    """The `X-Hub-Signature-256` value GitHub sends for `body` signed with `secret`."""
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def receive(
    svc: Services, pipeline_id: str, headers: Mapping[str, str], body: bytes
) -> DeliveryReceipt:
    """Verify a delivery, then keep its events; the receipt says what was taken."""
    values = [headers.get(name.lower(), "") for name in _HEADERS]
    event, delivery, signature = values
    missing = [name for name, value in zip(_HEADERS, values, strict=True) if not value]
    if missing:
        raise BadRequest(
            f"a GitHub delivery carries {', '.join(missing)}; point a GitHub webhook at this "
            "URL rather than calling it yourself",
            code="github_header_missing",
        )
    if len(delivery) > MAX_DELIVERY_ID:
        raise BadRequest(
            f"X-GitHub-Delivery is {len(delivery)} characters; GitHub's are GUIDs",
            code="github_header_invalid",
        )
    with svc.db.read() as conn:
        pipeline = rows.find_pipeline(conn, pipeline_id)
    if pipeline is None:
        raise NotFound(f"no pipeline {pipeline_id}", code="pipeline_not_found")
    expected = signature_of(pipelines.webhook_secret(svc.keyring, pipeline), body)
    if not hmac.compare_digest(expected.encode(), signature.encode("utf-8", "replace")):
        raise Unauthorized(
            "X-Hub-Signature-256 does not match the body signed with this pipeline's webhook "
            "secret: set the webhook's Secret to the one shown when the pipeline was created "
            "or its secret last rotated",
            code="github_signature_invalid",
        )
    try:
        payload = json.loads(body)
    except ValueError:
        raise BadRequest(
            "the delivery's body is not JSON: set the webhook's Content type to application/json",
            code="github_payload_invalid",
        ) from None
    repository, events = read_delivery(event, payload)
    ignored = _ignored(event, repository, events, pipeline["repositories"])
    if ignored:
        events = []
    now = svc.clock.now()
    with svc.db.write() as conn:
        taken = rows.take_delivery(
            conn,
            {
                "pipeline_id": pipeline_id,
                "delivery_id": delivery,
                "tenant_id": pipeline["tenant_id"],
                "event": event[:40],
                "received_at": now,
            },
        )
        if not taken:
            raise Conflict(
                f"delivery {delivery} was already taken; a delivery is kept once",
                code="github_delivery_replayed",
            )
        stored = rows.add_events(conn, [event_row(pipeline, e, "webhook", now) for e in events])
    return DeliveryReceipt(
        delivery=delivery,
        event=event,
        stored=stored,
        already_held=len(events) - stored,
        ignored=ignored,
    )


def event_row(
    pipeline: Mapping[str, object], event: Event, source: str, now: datetime
) -> dict[str, object]:
    """The `github_events` row of one event of a pipeline (`source`: webhook or backfill)."""
    return {
        "id": new_id("ghe"),
        "tenant_id": pipeline["tenant_id"],
        "pipeline_id": pipeline["id"],
        "repository": event.repository,
        "kind": event.kind,
        "ref": event.ref,
        "action": event.action,
        "title": event.title,
        "url": event.url,
        "author": event.author,
        "occurred_at": event.occurred_at,
        "source": source,
        "detail": event.detail,
        "created_at": now,
    }


def _ignored(
    event: str, repository: str | None, events: list[Event], repositories: list[str]
) -> str | None:
    """Why a verified delivery brings nothing, if it does not."""
    if event == "ping":
        return "a ping: the webhook reaches this pipeline"
    if repository is not None and repository.lower() not in {r.lower() for r in repositories}:
        return f"{repository} is not one of this pipeline's repositories"
    if not events:
        return f"nothing of a {event} delivery with this action is kept"
    return None
