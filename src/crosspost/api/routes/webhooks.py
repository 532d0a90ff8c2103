"""/v1/webhooks: endpoints (create, list, read, change, delete, rotate, disable, enable,
test), their deliveries, resend and recovery; /v1/events/{id}/attempts; and the event
catalogue at /v1/webhooks/event-types and in the OpenAPI document's `webhooks`.

Every route but the catalogue needs the `webhooks:write` scope, reads included: an
endpoint's custom headers often carry the receiver's credentials and the attempt log holds
its responses, which a read-only (viewer) key should not see. A key sees only the
endpoints of its own mode.
"""

from __future__ import annotations

import functools
import inspect
from collections.abc import Callable
from datetime import datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Body, FastAPI, Query, Request, Response
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy.engine import Connection

from crosspost.api.auth import Principal
from crosspost.api.deps import PrincipalDep, ServicesDep, WebhooksWriteDep
from crosspost.api.errors import problem_responses
from crosspost.api.idempotency import IdempotencyKey, accept_idempotently, create_idempotently
from crosspost.api.openapi_extend import amend_document
from crosspost.api.pagination import decode_cursor, paginate
from crosspost.domain.bounds import Instant, PageLimit, Range
from crosspost.domain.enums import Mode
from crosspost.domain.models import Page
from crosspost.engine.services import Services
from crosspost.errors import InvalidInput, NotFound
from crosspost.store import webhook_deliveries as deliveries
from crosspost.store import webhook_endpoints as endpoint_rows
from crosspost.store.rows import Row
from crosspost.webhooks import endpoints
from crosspost.webhooks.catalogue import EVENT_TYPES, MAX_PATTERNS, EventType

router = APIRouter(tags=["webhooks"])
_ERRORS = problem_responses(401, 403, 404, 409, 422)
_PREFIX = "/v1/webhooks"


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


DeliveryStatus = Literal["pending", "sending", "succeeded", "failed"]
Throttle = Annotated[int, Range(endpoints.MIN_THROTTLE, endpoints.MAX_THROTTLE)]
Concurrency = Annotated[int, Range(endpoints.MIN_CONCURRENCY, endpoints.MAX_CONCURRENCY)]


_URL_DOC = (
    "Where events are POSTed. Live mode: https:// and a public address only; test mode "
    "may use http:// and private or loopback addresses."
)
_TYPES_DOC = (
    "Which events to send: exact names (`post.published`), `*`, or a prefix wildcard "
    "(`post.*`); empty = every event. See GET /v1/webhooks/event-types."
)
_HEADERS_DOC = (
    "Extra headers sent with every delivery (at most 20), e.g. Authorization. They are "
    "stored encrypted and answers show them masked (`…` and at most the last four "
    "characters). Names used "
    "by crosspost itself (webhook-*, svix-*, X-Webhook-ID, X-Event, User-Agent, "
    "Content-Type, Host, …) are refused."
)


class WebhookCreate(_Strict):
    """A new endpoint."""

    url: str = Field(
        min_length=1,
        max_length=endpoints.MAX_URL,
        description=_URL_DOC,
        examples=["https://hooks.example.com/crosspost"],
    )
    description: str = Field(default="", max_length=endpoints.MAX_DESCRIPTION)
    event_types: list[str] = Field(
        default_factory=list,
        max_length=MAX_PATTERNS,
        description=_TYPES_DOC,
        examples=[["post.*", "target.failed"]],
    )
    headers: dict[str, str] = Field(default_factory=dict, description=_HEADERS_DOC, repr=False)
    throttle_per_second: Throttle | None = Field(
        default=None,
        description="At most this many deliveries per second to the endpoint; null: no limit.",
    )
    max_concurrency: Concurrency = Field(
        default=endpoints.DEFAULT_CONCURRENCY,
        description="At most this many deliveries in flight at once to the endpoint.",
    )


class WebhookUpdate(_Strict):
    """Changes to an endpoint: only the members given change (`headers` and
    `event_types` are replaced whole). `active` true or false enables or disables it."""

    url: str | None = Field(default=None, max_length=endpoints.MAX_URL, description=_URL_DOC)
    description: str | None = Field(default=None, max_length=endpoints.MAX_DESCRIPTION)
    event_types: list[str] | None = Field(
        default=None, max_length=MAX_PATTERNS, description=_TYPES_DOC
    )
    headers: dict[str, str] | None = Field(default=None, description=_HEADERS_DOC, repr=False)
    throttle_per_second: Throttle | None = Field(
        default=None, description="null removes the throttle."
    )
    max_concurrency: Concurrency | None = None
    active: bool | None = None


class WebhookEndpointPublic(BaseModel):
    """An endpoint as listed (never its secrets)."""

    id: str
    mode: Mode = Field(description="The mode of the key that created it; it hears that mode.")
    url: str
    description: str
    event_types: list[str]
    headers: dict[str, str]
    active: bool
    disabled_reason: str | None = Field(description="Why it is disabled (null while active).")
    throttle_per_second: int | None
    max_concurrency: int
    failing_since: datetime | None = Field(description="When the current failing streak began.")
    consecutive_failures: int
    has_previous_secret: bool = Field(
        description="True while the secret replaced by the last rotation still signs too."
    )
    previous_expires_at: datetime | None = Field(
        description="When the previous secret stops signing (null: none)."
    )
    created_at: datetime
    updated_at: datetime


class WebhookEndpointCreated(WebhookEndpointPublic):
    """A new endpoint with its signing secret (shown once: a replay answers null)."""

    secret: str | None = Field(
        description="`whsec_…`: verify deliveries with it (Standard Webhooks). Store it now.",
        repr=False,
    )


class SecretRotated(BaseModel):
    """A new signing secret (shown once: a replay answers null)."""

    secret: str | None = Field(repr=False)
    previous_expires_at: datetime = Field(
        description="Until then deliveries are signed with both the new and the old secret."
    )


class WebhookDisable(_Strict):
    """Why the endpoint is being disabled (optional)."""

    reason: str | None = Field(default=None, max_length=endpoints.MAX_DESCRIPTION)


class WebhookTest(_Strict):
    """What the test event says (optional)."""

    message: str | None = Field(default=None, max_length=endpoints.MAX_DESCRIPTION)


class EventAccepted(BaseModel):
    """An event was written; it is delivered shortly."""

    event_id: str = Field(description="The event's id: its `webhook-id` header on delivery.")


class ResendAccepted(BaseModel):
    """The event is queued for another delivery to the endpoint."""

    event_id: str
    endpoint_id: str
    delivery_id: str
    status: DeliveryStatus = Field(
        description="pending (sent shortly), or sending when an attempt was already under way."
    )


class RecoverRequest(_Strict):
    """Send again every event that failed to reach the endpoint in a time window."""

    since: Instant = Field(description="Start of the window (with a UTC offset).")
    until: Instant | None = Field(default=None, description="End of the window; default now.")


class Recovered(BaseModel):
    """How many deliveries were queued again: failed ones, and events the endpoint missed."""

    recovered: int


class WebhookDeliveryPublic(BaseModel):
    """One event's delivery to one endpoint."""

    id: str
    event_id: str
    endpoint_id: str
    event_type: str
    event_created_at: datetime
    status: DeliveryStatus
    attempts: int
    next_attempt_at: datetime | None = Field(description="When it is tried next (pending).")
    last_status_code: int | None
    last_error: str | None
    created_at: datetime
    updated_at: datetime
    completed_at: datetime | None


class WebhookAttemptPublic(BaseModel):
    """One HTTP attempt to deliver an event."""

    id: int
    delivery_id: str
    event_id: str
    endpoint_id: str
    attempt: int
    trigger: Literal["scheduled", "manual", "test"]
    status_code: int | None
    latency_ms: float
    response_headers: dict[str, Any] | None
    response_body: str | None = Field(description="The first 4 KiB of the response body.")
    error: str | None = Field(description="What stood in for a response (timeout, refused…).")
    created_at: datetime


class EventTypePublic(BaseModel):
    """One event type of the catalogue."""

    type: str
    description: str
    schema_: dict[str, Any] = Field(
        alias="schema", description="JSON Schema (2020-12) of the whole body."
    )
    example: dict[str, Any] = Field(description="An example body.")

    model_config = ConfigDict(populate_by_name=True, serialize_by_alias=True)


class EventTypeList(BaseModel):
    """Every event type a webhook endpoint can receive."""

    data: list[EventTypePublic]


def _public(row: Row, now: datetime) -> WebhookEndpointPublic:
    return WebhookEndpointPublic.model_validate(_fields(row, now))


def _fields(row: Row, now: datetime) -> dict[str, Any]:
    expires = row["previous_expires_at"]
    live_previous = row["previous_secret"] is not None and expires is not None and expires > now
    return {
        **{k: v for k, v in row.items() if k not in ("secret", "previous_secret")},
        "has_previous_secret": live_previous,
        "previous_expires_at": expires if live_previous else None,
    }


def _created(row: Row, secret: str | None, now: datetime) -> bytes:
    return (
        WebhookEndpointCreated.model_validate({**_fields(row, now), "secret": secret})
        .model_dump_json()
        .encode()
    )


async def _change(
    svc: Services,
    principal: Principal,
    endpoint_id: str,
    change: Callable[..., Row],
    **options: Any,
) -> WebhookEndpointPublic:
    """Apply one change to an endpoint in a write transaction; answer it as it now is."""

    def write() -> Row:
        with svc.db.write() as conn:
            return change(
                conn,
                tenant_id=principal.tenant_id,
                mode=principal.mode,
                endpoint_id=endpoint_id,
                now=svc.clock.now(),
                **options,
            )

    return _public(await svc.db.run(write), svc.clock.now())


def _allow(svc: Services) -> list[str]:
    return list(svc.settings.webhook_allow_cidrs)


@router.get(
    f"{_PREFIX}/event-types",
    response_model=EventTypeList,
    responses=problem_responses(401),
)
async def list_event_types(principal: PrincipalDep) -> EventTypeList:
    """Every event type, with the JSON Schema of its body and an example (any valid key)."""
    return _catalogue()


@functools.cache
def _catalogue() -> EventTypeList:
    # Built once: the schemas never change while the process runs.
    return EventTypeList(
        data=[
            EventTypePublic(
                type=t.name,
                description=t.description,
                schema_=t.json_schema(),
                example=t.example_payload(),
            )
            for t in EVENT_TYPES.values()
        ]
    )


@router.post(_PREFIX, status_code=201, response_model=WebhookEndpointCreated, responses=_ERRORS)
async def create_webhook(
    request: Request,
    body: WebhookCreate,
    svc: ServicesDep,
    principal: WebhooksWriteDep,
    idempotency_key: IdempotencyKey = None,
) -> Response:
    """Create an endpoint in the key's mode; its `secret` is in this answer only."""
    spec = endpoints.endpoint_spec(
        mode=principal.mode.value,
        url=body.url,
        description=body.description,
        event_types=body.event_types,
        headers=body.headers,
        throttle_per_second=body.throttle_per_second,
        max_concurrency=body.max_concurrency,
        allow_cidrs=_allow(svc),
    )

    def create(conn: Connection) -> tuple[bytes, bytes]:
        now = svc.clock.now()
        made = endpoints.create_endpoint(
            conn,
            svc.keyring,
            tenant_id=principal.tenant_id,
            mode=principal.mode,
            spec=spec,
            now=now,
            max_endpoints=svc.settings.webhook_max_endpoints,
        )
        # A replay answers the endpoint without its secret: no secret rests in plain text.
        return _created(made.row, made.secret, now), _created(made.row, None, now)

    return await create_idempotently(svc, principal, request, idempotency_key, create)


@router.get(_PREFIX, response_model=Page[WebhookEndpointPublic], responses=_ERRORS)
async def list_webhooks(
    request: Request,
    response: Response,
    svc: ServicesDep,
    principal: WebhooksWriteDep,
    limit: Annotated[PageLimit, Query()] = 20,
    cursor: str | None = None,
) -> Page[WebhookEndpointPublic]:
    """A page of the endpoints of the key's mode, newest first."""
    before = decode_cursor(cursor) if cursor else None

    def read() -> list[Row]:
        with svc.db.read() as conn:
            return endpoints.list_endpoints(
                conn,
                tenant_id=principal.tenant_id,
                mode=principal.mode,
                before_id=before,
                limit=limit + 1,
            )

    rows = await svc.db.run(read)
    now = svc.clock.now()
    return paginate(rows, limit, request, response, lambda r: _public(r, now))


@router.get(f"{_PREFIX}/{{endpoint_id}}", response_model=WebhookEndpointPublic, responses=_ERRORS)
async def get_webhook(
    endpoint_id: str, svc: ServicesDep, principal: WebhooksWriteDep
) -> WebhookEndpointPublic:
    """One endpoint."""

    def read() -> Row:
        with svc.db.read() as conn:
            return endpoints.get_endpoint(
                conn, tenant_id=principal.tenant_id, mode=principal.mode, endpoint_id=endpoint_id
            )

    return _public(await svc.db.run(read), svc.clock.now())


@router.patch(f"{_PREFIX}/{{endpoint_id}}", response_model=WebhookEndpointPublic, responses=_ERRORS)
async def update_webhook(
    endpoint_id: str, body: WebhookUpdate, svc: ServicesDep, principal: WebhooksWriteDep
) -> WebhookEndpointPublic:
    """Change an endpoint; members not given stay as they are."""
    changes = endpoints.endpoint_changes(
        mode=principal.mode.value,
        changes=body.model_dump(exclude_unset=True),
        allow_cidrs=_allow(svc),
    )
    change = functools.partial(endpoints.update_endpoint, sealer=svc.keyring)
    return await _change(svc, principal, endpoint_id, change, changes=changes)


@router.delete(f"{_PREFIX}/{{endpoint_id}}", status_code=204, responses=_ERRORS)
async def delete_webhook(
    endpoint_id: str, svc: ServicesDep, principal: WebhooksWriteDep
) -> Response:
    """Delete an endpoint: nothing more is sent to it, including deliveries still pending.
    Its attempt log stays readable through GET /v1/events/{event_id}/attempts."""

    def write() -> None:
        with svc.db.write() as conn:
            endpoints.delete_endpoint(
                conn, tenant_id=principal.tenant_id, mode=principal.mode, endpoint_id=endpoint_id
            )

    await svc.db.run(write)
    return Response(status_code=204)


@router.post(
    f"{_PREFIX}/{{endpoint_id}}/rotate-secret",
    response_model=SecretRotated,
    responses=_ERRORS,
)
async def rotate_webhook_secret(
    endpoint_id: str,
    request: Request,
    svc: ServicesDep,
    principal: WebhooksWriteDep,
    idempotency_key: IdempotencyKey = None,
) -> Response:
    """Give the endpoint a new secret (in this answer only). For 24 h deliveries carry
    signatures by both the new and the previous secret, so receivers can switch at leisure;
    rotating again within that window ends the older secret at once."""

    def create(conn: Connection) -> tuple[bytes, bytes]:
        rotated = endpoints.rotate_secret(
            conn,
            svc.keyring,
            tenant_id=principal.tenant_id,
            mode=principal.mode,
            endpoint_id=endpoint_id,
            now=svc.clock.now(),
        )
        expires = rotated.previous_expires_at
        return (
            SecretRotated(secret=rotated.secret, previous_expires_at=expires)
            .model_dump_json()
            .encode(),
            SecretRotated(secret=None, previous_expires_at=expires).model_dump_json().encode(),
        )

    return await create_idempotently(svc, principal, request, idempotency_key, create, status=200)


@router.post(
    f"{_PREFIX}/{{endpoint_id}}/disable",
    response_model=WebhookEndpointPublic,
    responses=_ERRORS,
)
async def disable_webhook(
    endpoint_id: str,
    svc: ServicesDep,
    principal: WebhooksWriteDep,
    body: WebhookDisable | None = None,
) -> WebhookEndpointPublic:
    """Stop deliveries to the endpoint until it is enabled (events meanwhile are not sent
    to it; recover them after enabling)."""
    reason = body.reason if body else None
    return await _change(svc, principal, endpoint_id, endpoints.disable_endpoint, reason=reason)


@router.post(
    f"{_PREFIX}/{{endpoint_id}}/enable",
    response_model=WebhookEndpointPublic,
    responses=_ERRORS,
)
async def enable_webhook(
    endpoint_id: str, svc: ServicesDep, principal: WebhooksWriteDep
) -> WebhookEndpointPublic:
    """Resume deliveries to the endpoint and clear its failure record."""
    return await _change(svc, principal, endpoint_id, endpoints.enable_endpoint)


@router.post(
    f"{_PREFIX}/{{endpoint_id}}/test",
    status_code=202,
    response_model=EventAccepted,
    responses=_ERRORS,
)
async def send_test_event(
    endpoint_id: str,
    request: Request,
    svc: ServicesDep,
    principal: WebhooksWriteDep,
    body: WebhookTest | None = None,
    idempotency_key: IdempotencyKey = None,
) -> Response:
    """Send a `webhook.test` event to this endpoint only; follow it with
    GET /v1/events/{event_id}/attempts."""

    def create(conn: Connection) -> tuple[bytes, bytes]:
        event_id = endpoints.send_test(
            conn,
            tenant_id=principal.tenant_id,
            mode=principal.mode,
            endpoint_id=endpoint_id,
            now=svc.clock.now(),
            message=body.message if body else None,
        )
        answer = EventAccepted(event_id=event_id).model_dump_json().encode()
        return answer, answer

    return await accept_idempotently(svc, principal, request, idempotency_key, create)


@router.get(
    f"{_PREFIX}/{{endpoint_id}}/deliveries",
    response_model=Page[WebhookDeliveryPublic],
    responses=_ERRORS,
)
async def list_webhook_deliveries(
    endpoint_id: str,
    request: Request,
    response: Response,
    svc: ServicesDep,
    principal: WebhooksWriteDep,
    status: DeliveryStatus | None = None,
    limit: Annotated[PageLimit, Query()] = 20,
    cursor: str | None = None,
) -> Page[WebhookDeliveryPublic]:
    """A page of the endpoint's deliveries, newest first, optionally of one status."""
    before = decode_cursor(cursor) if cursor else None

    def read() -> list[Row]:
        with svc.db.read() as conn:
            _endpoint(conn, principal, endpoint_id)
            return deliveries.list_deliveries(
                conn,
                principal.tenant_id,
                endpoint_id,
                status=status,
                before_id=before,
                limit=limit + 1,
            )

    rows = await svc.db.run(read)
    return paginate(rows, limit, request, response, WebhookDeliveryPublic.model_validate)


@router.get(
    "/v1/events/{event_id}/attempts",
    response_model=Page[WebhookAttemptPublic],
    responses=_ERRORS,
)
async def list_event_attempts(
    event_id: str,
    svc: ServicesDep,
    principal: WebhooksWriteDep,
    limit: Annotated[int, Range(1, 1000), Query()] = 100,
) -> Page[WebhookAttemptPublic]:
    """Every delivery attempt of one event, across the endpoints of the key's mode."""

    def read() -> list[Row]:
        with svc.db.read() as conn:
            _event(conn, principal, event_id)
            return deliveries.list_attempts(conn, principal.tenant_id, event_id, limit + 1)

    rows = await svc.db.run(read)
    return Page[WebhookAttemptPublic](
        data=[WebhookAttemptPublic.model_validate(r) for r in rows[:limit]],
        has_more=len(rows) > limit,
        next_cursor=None,
    )


@router.post(
    f"{_PREFIX}/{{endpoint_id}}/events/{{event_id}}/resend",
    status_code=202,
    response_model=ResendAccepted,
    responses=_ERRORS,
)
async def resend_event(
    endpoint_id: str,
    event_id: str,
    request: Request,
    svc: ServicesDep,
    principal: WebhooksWriteDep,
    idempotency_key: IdempotencyKey = None,
) -> Response:
    """Deliver one event to the endpoint again, now, whether or not it was sent there before
    (409 `event_payload_expired` once the payload retention has removed its body). A
    manual attempt is not retried when it fails."""

    def create(conn: Connection) -> tuple[bytes, bytes]:
        _endpoint(conn, principal, endpoint_id)
        _event(conn, principal, event_id)
        row = deliveries.resend(conn, principal.tenant_id, endpoint_id, event_id, svc.clock.now())
        if row is None:  # checked just above; only a concurrent delete gets here
            raise NotFound(f"no webhook endpoint {endpoint_id!r}", code="webhook_not_found")
        answer = ResendAccepted(
            event_id=event_id, endpoint_id=endpoint_id, delivery_id=row["id"], status=row["status"]
        )
        body = answer.model_dump_json().encode()
        return body, body

    return await accept_idempotently(svc, principal, request, idempotency_key, create)


@router.post(
    f"{_PREFIX}/{{endpoint_id}}/recover",
    status_code=202,
    response_model=Recovered,
    responses=_ERRORS,
)
async def recover_webhook(
    endpoint_id: str,
    body: RecoverRequest,
    request: Request,
    svc: ServicesDep,
    principal: WebhooksWriteDep,
    idempotency_key: IdempotencyKey = None,
) -> Response:
    """Queue again every failed delivery to the endpoint of an event created in
    [since, until); answers how many."""
    now = svc.clock.now()
    since, until = _window(body, now)

    def create(conn: Connection) -> tuple[bytes, bytes]:
        _endpoint(conn, principal, endpoint_id)
        count = deliveries.recover(
            conn, principal.tenant_id, endpoint_id, since, svc.clock.now(), until=until
        )
        answer = Recovered(recovered=count).model_dump_json().encode()
        return answer, answer

    return await accept_idempotently(svc, principal, request, idempotency_key, create)


def _window(body: RecoverRequest, now: datetime) -> tuple[datetime, datetime | None]:
    for name, value in (("since", body.since), ("until", body.until)):
        if value is not None and value.tzinfo is None:
            raise InvalidInput(
                f"{name} needs a UTC offset, e.g. 2026-03-01T12:00:00Z",
                code="invalid_recover_window",
            )
    if body.since >= now:
        raise InvalidInput(
            "since is in the future; give the time from which failed events should be sent again",
            code="invalid_recover_window",
        )
    if body.until is not None and body.until <= body.since:
        raise InvalidInput("until must be after since", code="invalid_recover_window")
    return body.since, body.until


def _endpoint(conn: Connection, principal: Principal, endpoint_id: str) -> Row:
    return endpoints.get_endpoint(
        conn, tenant_id=principal.tenant_id, mode=principal.mode, endpoint_id=endpoint_id
    )


def _event(conn: Connection, principal: Principal, event_id: str) -> None:
    if endpoint_rows.event_mode(conn, principal.tenant_id, event_id) != principal.mode:
        raise NotFound(f"no event {event_id!r}", code="event_not_found")


# --- the catalogue in the OpenAPI document ------------------------------------------------

_DELIVERY_HEADERS = [
    {
        "name": "webhook-id",
        "in": "header",
        "required": True,
        "description": "The event id (`msg_…`), the same on every retry: deduplicate on it.",
        "schema": {"type": "string"},
    },
    {
        "name": "webhook-timestamp",
        "in": "header",
        "required": True,
        "description": "Unix seconds of this attempt; refuse it when more than 5 min off.",
        "schema": {"type": "string"},
    },
    {
        "name": "webhook-signature",
        "in": "header",
        "required": True,
        "description": "Space-separated `v1,<base64 HMAC-SHA256>` signatures of "
        "`{webhook-id}.{webhook-timestamp}.{body}` (Standard Webhooks); two during a "
        "secret rotation.",
        "schema": {"type": "string"},
    },
]


@functools.cache
def _event_routes() -> APIRouter:
    # Built once per process: a route per event type costs FastAPI ~7 ms to analyse, and
    # routes hold no state of an app, so every app (a test run builds many) shares them.
    router = APIRouter()
    for event_type in EVENT_TYPES.values():
        router.add_api_route(
            event_type.name,
            _receiver(event_type),
            methods=["POST"],
            summary=event_type.name,
            description=event_type.description
            + "\n\nVerify the signature with your endpoint's secret before trusting the body.",
            operation_id=f"webhook_{event_type.name.replace('.', '_')}",
            tags=["webhook events"],
            status_code=204,
            response_class=Response,
            response_description="Any 2xx within 15 s acknowledges the event.",
            responses={
                "default": {
                    "description": "Anything else (or no answer in time) is retried on the "
                    "schedule immediately, 5 s, 5 min, 30 min, 2 h, 5 h, 10 h, 10 h; "
                    "410 Gone disables the endpoint."
                }
            },
            openapi_extra={"parameters": _DELIVERY_HEADERS},
        )
    return router


def install_openapi_webhooks(app: FastAPI) -> None:
    """Document every event type under the OpenAPI document's `webhooks` (call once, before
    the document is first served)."""
    app.webhooks.routes.extend(_event_routes().routes)
    amend_document(app, _restore_examples)


def _restore_examples(document: dict[str, Any]) -> None:
    # FastAPI drops every null from the document, and with them the example members that
    # are null by design (a target's external_url before publishing): put them back.
    for name, event_type in EVENT_TYPES.items():
        content = document["webhooks"][name]["post"]["requestBody"]["content"]
        content["application/json"]["examples"]["example"]["value"] = event_type.example_payload()


def _receiver(event_type: EventType) -> Any:
    """A stand-in receiver whose signature carries the event's body model; never called."""

    def receive(**_: Any) -> None:
        # `app.webhooks` routes are documentation only: FastAPI never mounts them.
        return None

    model: Any = event_type.payload_model
    body: Any = Annotated[
        model, Body(openapi_examples={"example": {"value": event_type.example_payload()}})
    ]
    parameter = inspect.Parameter("payload", inspect.Parameter.KEYWORD_ONLY, annotation=body)
    receive.__signature__ = inspect.Signature([parameter])  # type: ignore[attr-defined]
    return receive
