"""/v1/events: the tenant's webhook events as a feed, a page at a time or live as
Server-Sent Events, and events triggered by hand to try a receiver.

The feed holds what the webhook endpoints of the key's mode are sent (whether or not any
endpoint exists), in the order the dispatcher fans them out, for as long as their bodies are
kept (`webhook_payload_retention_days`). Its cursor is the event id: the `webhook-id` of a
delivery, a stream's `id:` and `next_cursor` are one and the same.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import datetime
from typing import Annotated, Any

import orjson
from fastapi import APIRouter, Depends, Header, Query, Request, Response
from fastapi.sse import EventSourceResponse, ServerSentEvent
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy.engine import Connection

from crosspost.api.auth import Principal
from crosspost.api.deps import PostsReadDep, ServicesDep, WebhooksWriteDep
from crosspost.api.errors import problem_responses
from crosspost.api.idempotency import IdempotencyKey, accept_idempotently
from crosspost.api.pagination import next_link
from crosspost.api.routes.webhooks import EventAccepted
from crosspost.api.streams import EventStreams
from crosspost.domain.bounds import PageLimit
from crosspost.domain.models import Page
from crosspost.engine.services import Services
from crosspost.errors import Conflict, Gone, InvalidInput, NotFound
from crosspost.store import event_feed
from crosspost.store.rows import Row
from crosspost.webhooks import feed
from crosspost.webhooks.catalogue import MAX_PATTERNS

router = APIRouter(prefix="/v1/events", tags=["events"])
_ERRORS = problem_responses(401, 403, 409, 422)
_STREAM_PAGE = 100
# How long a quiet stream waits before looking anyway, in case a wake-up was lost: short on
# SQLite, whose other processes (`crosspost worker`) cannot wake this one.
_RECHECK_SECONDS = 15.0
_SQLITE_RECHECK_SECONDS = 1.0

_TYPES_DOC = (
    "Comma-separated event types: exact names (`post.published`), `*`, or prefix wildcards "
    "(`target.*`); default all the key may read."
)
_AFTER_DOC = (
    "An event id (`msg_…`): answer the events after it. Default: from the oldest kept "
    "(the list), from now (the stream), or from the post's first event (with `post_id`)."
)


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class EventPublic(BaseModel):
    """One event: its id and the body its webhook deliveries carry."""

    id: str = Field(description="`msg_…`: the `webhook-id` of its deliveries; a feed cursor.")
    type: str = Field(examples=["target.published"])
    timestamp: datetime = Field(description="When it happened (UTC).")
    data: dict[str, Any] = Field(description="As documented per type in the catalogue.")
    test: bool = Field(
        default=False,
        description="True for an event sent by hand with example data (trigger, webhooks test).",
    )


class TriggerRequest(_Strict):
    """Which event to send."""

    type: str = Field(
        max_length=64,
        description="An event type of the catalogue (GET /v1/webhooks/event-types).",
        examples=["post.published"],
    )


@dataclass(frozen=True)
class FeedQuery:
    """What a caller asked of the feed, checked: where to start and what to show."""

    tenant_id: str
    mode: str
    types: list[str]
    post_id: str | None
    start: int | None  # None: from now


def _types(raw: str | None) -> list[str]:
    names = [part.strip() for part in (raw or "").split(",") if part.strip()]
    return names[: MAX_PATTERNS + 1]  # one more than allowed, so the limit is reported


def _start(conn: Connection, principal: Principal, event_id: str) -> int:
    found = event_feed.position(
        conn, tenant_id=principal.tenant_id, mode=principal.mode.value, event_id=event_id
    )
    if found is None:
        raise InvalidInput(
            f"no event {event_id!r} to start after (ids are msg_…, of this key's mode); "
            "leave it out to start from the beginning, or from now on the stream",
            code="unknown_event",
        )
    if found["seq"] is None:
        raise Conflict(
            f"event {event_id!r} is not in the feed yet (it is being fanned out); retry in a "
            "moment",
            code="event_not_in_feed_yet",
            headers={"Retry-After": "1"},
        )
    return int(found["seq"])


def _query(
    svc: Services,
    principal: Principal,
    *,
    after: str | None,
    types: str | None,
    post_id: str | None,
    default: int | None,
) -> FeedQuery:
    allowed = feed.readable_types(principal.holds, _types(types))
    start = default
    if after:
        with svc.db.read() as conn:
            start = _start(conn, principal, after.strip())
    elif post_id:
        start = 0
    return FeedQuery(principal.tenant_id, principal.mode.value, allowed, post_id, start)


def _page(svc: Services, query: FeedQuery, after: int, limit: int) -> list[Row]:
    with svc.db.read() as conn:
        return event_feed.page(
            conn,
            tenant_id=query.tenant_id,
            mode=query.mode,
            after=after,
            types=query.types,
            post_id=query.post_id,
            limit=limit,
        )


def _public(row: Row) -> EventPublic:
    return EventPublic.model_validate({"id": row["id"], **orjson.loads(row["payload"])})


AfterParam = Annotated[str | None, Query(max_length=64, description=_AFTER_DOC)]
TypesParam = Annotated[
    str | None, Query(max_length=4096, description=_TYPES_DOC, examples=["post.*,target.failed"])
]
PostParam = Annotated[
    str | None, Query(max_length=64, description="Only the events of this post (`post_…`).")
]


@router.get("", response_model=Page[EventPublic], responses=_ERRORS)
async def list_events(
    request: Request,
    response: Response,
    svc: ServicesDep,
    principal: PostsReadDep,
    after: AfterParam = None,
    types: TypesParam = None,
    post_id: PostParam = None,
    limit: Annotated[PageLimit, Query()] = 100,
) -> Page[EventPublic]:
    """A page of events, oldest first. Poll it with `after=<next_cursor>`: `next_cursor` is
    the last event's id (the `after` given when the page is empty), `has_more` says whether
    to ask again at once. Needs `posts:read` (and `usage:read` or `webhooks:write` for the
    usage and endpoint events)."""
    query = await svc.db.run(
        _query, svc, principal, after=after, types=types, post_id=post_id, default=0
    )
    assert query.start is not None
    rows = await svc.db.run(_page, svc, query, query.start, limit + 1)
    page, has_more = rows[:limit], len(rows) > limit
    cursor = page[-1]["id"] if page else after
    if has_more and cursor is not None:
        response.headers["Link"] = next_link(request.url, cursor, param="after")
    return Page[EventPublic](data=[_public(r) for r in page], has_more=has_more, next_cursor=cursor)


async def _stream_query(
    svc: ServicesDep,
    principal: PostsReadDep,
    after: AfterParam = None,
    types: TypesParam = None,
    post_id: PostParam = None,
    last_event_id: Annotated[
        str | None,
        Header(
            alias="Last-Event-ID",
            max_length=64,
            description="Sent by SSE clients when they reconnect: resume after this event "
            "(it wins over `after`).",
        ),
    ] = None,
) -> FeedQuery:
    # A dependency, so a bad filter or cursor is a problem answer, not a broken stream.
    return await svc.db.run(
        _query,
        svc,
        principal,
        after=last_event_id or after,
        types=types,
        post_id=post_id,
        default=None,
    )


@router.get(
    "/stream",
    response_class=EventSourceResponse,
    responses={
        **_ERRORS,
        200: {
            "description": "A stream of events: `id:` the event id, `event:` its type, "
            "`data:` the body its webhook deliveries carry; a `: ping` comment every 15 s "
            "while quiet.",
            "content": {
                "text/event-stream": {
                    "example": "id: msg_01JQ3Z6A1B2C3D4E5F6G7H8J9K\nevent: target.published\n"
                    'data: {"type":"target.published","timestamp":"2026-03-01T12:00:05.120Z",'
                    '"data":{"target":{"id":"tgt_…","status":"published"}}}\n\n'
                }
            },
        },
    },
)
async def stream_events(
    request: Request,
    svc: ServicesDep,
    query: Annotated[FeedQuery, Depends(_stream_query)],
) -> AsyncIterator[ServerSentEvent]:
    """Events as they happen, as Server-Sent Events (`text/event-stream`), with the list's
    filters; reconnect with `Last-Event-ID` to resume without a gap or a repeat. Without a
    cursor it starts now (with `post_id`: at the post's first event), first sending the
    newest event's id alone, so a client that reconnects resumes from there. The server ends
    it when it shuts down; clients reconnect."""
    streams: EventStreams = request.app.state.event_streams
    recheck = _SQLITE_RECHECK_SECONDS if svc.db.is_sqlite else _RECHECK_SECONDS
    with streams.opened(query.tenant_id) as waiter:
        # Read after subscribing: an event numbered in between wakes this stream.
        position = query.start
        if position is None:
            newest = await svc.db.run(_newest, svc, query)
            position = 0
            if newest is not None:
                position = int(newest["seq"])
                # An id without data: the client's Last-Event-ID from the start, so a
                # reconnection resumes here even if nothing was sent yet.
                yield ServerSentEvent(id=newest["id"])
        while not streams.closed:
            rows = await svc.db.run(_page, svc, query, position, _STREAM_PAGE)
            for row in rows:
                yield ServerSentEvent(
                    raw_data=row["payload"], event=row["event_type"], id=row["id"]
                )
                position = int(row["seq"])
            if len(rows) < _STREAM_PAGE:
                await waiter.wait(recheck)


def _newest(svc: Services, query: FeedQuery) -> Row | None:
    with svc.db.read() as conn:
        return event_feed.last(conn, tenant_id=query.tenant_id, mode=query.mode)


@router.post("/trigger", status_code=202, response_model=EventAccepted, responses=_ERRORS)
async def trigger_event(
    request: Request,
    body: TriggerRequest,
    svc: ServicesDep,
    principal: WebhooksWriteDep,
    idempotency_key: IdempotencyKey = None,
) -> Response:
    """Send the catalogue's example event of a type, marked `"test": true`, to every
    endpoint of the key's mode that it matches, as any event is (signed, retried, logged),
    and to the feed. Test keys only. Honors `Idempotency-Key` for 24 h."""

    def create(conn: Connection) -> tuple[bytes, bytes]:
        event_id = feed.trigger(
            conn,
            tenant_id=principal.tenant_id,
            mode=principal.mode,
            event_type=body.type.strip(),
            now=svc.clock.now(),
        )
        answer = EventAccepted(event_id=event_id).model_dump_json().encode()
        return answer, answer

    return await accept_idempotently(svc, principal, request, idempotency_key, create)


@router.get(
    "/{event_id}", response_model=EventPublic, responses=problem_responses(401, 403, 404, 410)
)
async def get_event(event_id: str, svc: ServicesDep, principal: PostsReadDep) -> EventPublic:
    """One event: the body each of its deliveries carried (as `webhook-id: msg_…`). 410
    once the payload retention removed its body; 404 for an event of a type the key may not
    read, or of another mode."""

    def read() -> Row | None:
        with svc.db.read() as conn:
            return event_feed.get(
                conn, tenant_id=principal.tenant_id, mode=principal.mode.value, event_id=event_id
            )

    row = await svc.db.run(read)
    if row is None or row["event_type"] not in feed.readable_types(principal.holds, []):
        raise NotFound(f"no event {event_id!r} of this key's mode", code="event_not_found")
    if row["payload_expired"]:
        raise Gone(
            f"event {event_id!r}'s body is past the payload retention "
            "(webhook_payload_retention_days); only its deliveries' record is kept",
            code="event_gone",
        )
    return _public(row)
