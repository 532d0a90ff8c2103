"""Webhook endpoints: validate what a customer sets, create, change, rotate, disable, test.

Validation (`endpoint_spec`, `endpoint_changes`) is separate from the writes, so callers run
it before opening a transaction. Every endpoint belongs to a tenant and a mode; an API key
of another mode finds nothing, as if it did not exist. Operator tools (the CLI) pass
`mode=None` to reach an endpoint of the tenant whatever its mode.

Deleting an endpoint removes it and its delivery queue at once (nothing pending is sent
afterwards) and keeps its attempt log, which `GET /v1/events/{id}/attempts` still shows.

Custom headers are secrets (receivers put credentials in them): they rest sealed in
`sealed_headers`, and `headers` keeps only a masked form, which is all the API ever shows.
"""

from __future__ import annotations

import json
import re
import unicodedata
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Protocol

from sqlalchemy.engine import Connection

from crosspost.errors import Conflict, InvalidInput, NotFound
from crosspost.ids import new_id
from crosspost.store import tenants
from crosspost.store import webhook_endpoints as store
from crosspost.store.db import Database
from crosspost.store.rows import Row
from crosspost.webhooks import outbox
from crosspost.webhooks.catalogue import validate_patterns
from crosspost.webhooks.signing import new_secret
from crosspost.webhooks.ssrf import check_url

TABLE = "webhook_endpoints"
ROTATION_OVERLAP = timedelta(hours=24)
MAX_URL = 2048
MAX_DESCRIPTION = 500
MAX_HEADERS = 20
MAX_HEADER_NAME = 256
MAX_HEADER_VALUE = 1024
MIN_THROTTLE, MAX_THROTTLE = 1, 10_000
MIN_CONCURRENCY, MAX_CONCURRENCY = 1, 100
DEFAULT_CONCURRENCY = 16
TEST_MESSAGE = "This is a test event from crosspost."
MANUAL_REASON = "disabled by the customer"
MASK = "…"
# Shorter values are masked whole: their last characters would give too much away.
MASK_SHOWS_FROM = 12

# Headers crosspost sets itself (signing, the seed's compatibility headers, framing) or that
# would break the request if overridden. `Authorization` stays allowed: receivers use it.
RESERVED_HEADERS = frozenset(
    {
        "x-webhook-id",
        "x-event",
        "user-agent",
        "content-type",
        "content-length",
        "content-encoding",
        "host",
        "connection",
        "keep-alive",
        "transfer-encoding",
        "te",
        "trailer",
        "upgrade",
        "expect",
        "proxy-authorization",
        "proxy-connection",
    }
)
RESERVED_PREFIXES = ("webhook-", "svix-")
_HEADER_NAME = re.compile(r"[A-Za-z0-9-]+")
_UPDATABLE = frozenset(
    {
        "url",
        "description",
        "event_types",
        "headers",
        "throttle_per_second",
        "max_concurrency",
        "active",
    }
)


class Sealer(Protocol):
    """What seals a secret for one row (the vault's keyring)."""

    def encrypt(self, plaintext: str, *, tenant_id: str, table: str, row_id: str) -> str:
        """Seal `plaintext` for one row of one tenant."""
        ...


class Opener(Protocol):
    """What opens a sealed secret of one row (the vault's keyring)."""

    def decrypt(self, envelope: str, *, tenant_id: str, table: str, row_id: str) -> str:
        """Open an envelope sealed for one row of one tenant."""
        ...


@dataclass(frozen=True)
class EndpointSpec:
    """A new endpoint's settings, already checked."""

    url: str
    description: str = ""
    event_types: tuple[str, ...] = ()
    headers: Mapping[str, str] = field(default_factory=dict, repr=False)
    throttle_per_second: int | None = None
    max_concurrency: int = DEFAULT_CONCURRENCY


@dataclass(frozen=True)
class EndpointChanges:
    """Changes to an endpoint, already checked (only the keys present change)."""

    values: Mapping[str, Any] = field(repr=False)  # may hold custom headers in plain text


@dataclass(frozen=True)
class CreatedEndpoint:
    """A new endpoint and its signing secret (shown this once)."""

    row: Row
    secret: str = field(repr=False)


@dataclass(frozen=True)
class RotatedSecret:
    """A new signing secret (shown once) and when the previous one stops signing."""

    row: Row
    secret: str = field(repr=False)
    previous_expires_at: datetime


def endpoint_spec(
    *,
    mode: str,
    url: str,
    description: str | None = "",
    event_types: Iterable[str] = (),
    headers: Mapping[str, str] | None = None,
    throttle_per_second: int | None = None,
    max_concurrency: int = DEFAULT_CONCURRENCY,
    allow_cidrs: Sequence[str] = (),
) -> EndpointSpec:
    """Check a new endpoint's settings (422 with a precise code when one is wrong);
    `allow_cidrs` are the networks the operator lets live endpoints reach anyway."""
    return EndpointSpec(
        url=check_endpoint_url(url, mode, allow_cidrs),
        description=check_description(description),
        event_types=check_event_types(event_types),
        headers=check_headers(headers or {}),
        throttle_per_second=check_throttle(throttle_per_second),
        max_concurrency=check_concurrency(max_concurrency),
    )


def endpoint_changes(
    *, mode: str, changes: Mapping[str, Any], allow_cidrs: Sequence[str] = ()
) -> EndpointChanges:
    """Check a partial update; `null` clears the throttle and the description."""
    unknown = sorted(set(changes) - _UPDATABLE)
    if unknown:
        raise InvalidInput(
            f"cannot change {', '.join(unknown)}; changeable: {', '.join(sorted(_UPDATABLE))}",
            code="invalid_webhook_change",
        )
    checks = {
        "url": lambda v: check_endpoint_url(v, mode, allow_cidrs),
        "description": check_description,
        "event_types": check_event_types,
        "headers": check_headers,
        "throttle_per_second": check_throttle,
        "max_concurrency": check_concurrency,
        "active": _check_active,
    }
    return EndpointChanges({name: checks[name](value) for name, value in changes.items()})


def check_endpoint_url(url: object, mode: str, allow_cidrs: Sequence[str] = ()) -> str:
    """The URL if a `mode` endpoint may use it; 422 `invalid_webhook_url` saying why not."""
    if not isinstance(url, str) or not url:
        raise InvalidInput(
            "url is required: the address to POST events to", code="invalid_webhook_url"
        )
    if len(url) > MAX_URL:
        raise InvalidInput(
            f"url is {len(url)} characters long; the limit is {MAX_URL}",
            code="invalid_webhook_url",
        )
    if any(ch.isspace() or not ch.isprintable() for ch in url):
        raise InvalidInput(
            "url must not contain spaces or control characters; percent-encode them",
            code="invalid_webhook_url",
        )
    problem = check_url(url, live=mode == "live", allow_cidrs=allow_cidrs)
    if problem is not None:
        raise InvalidInput(problem, code="invalid_webhook_url", mode=mode)
    return url


def check_description(description: object) -> str:
    """A description of at most 500 characters, without control characters but newlines."""
    return check_text(description, name="description", code="invalid_description")


def check_text(value: object, *, name: str, code: str, limit: int = MAX_DESCRIPTION) -> str:
    """Free text of at most `limit` characters without control characters (newlines and
    tabs are fine); None gives ""."""
    if value is None:
        return ""
    if not isinstance(value, str):
        raise InvalidInput(f"{name} must be a string", code=code)
    if len(value) > limit:
        raise InvalidInput(
            f"{name} is {len(value)} characters long; the limit is {limit}", code=code
        )
    if any(ch not in "\n\t" and unicodedata.category(ch) in ("Cc", "Cs") for ch in value):
        raise InvalidInput(
            f"{name} must not contain control characters (newlines and tabs are fine)",
            code=code,
        )
    return value


def check_event_types(patterns: object) -> tuple[str, ...]:
    """Known names and wildcards, without repeats; empty means every event."""
    if patterns is None:
        return ()
    if isinstance(patterns, str) or not isinstance(patterns, Iterable):
        raise InvalidInput(
            'event_types must be a list such as ["post.*", "target.failed"]',
            code="invalid_event_types",
        )
    given = list(patterns)
    validate_patterns(given)
    return tuple(dict.fromkeys(given))


def check_headers(headers: object) -> dict[str, str]:
    """Custom headers sent with every delivery: at most 20, none of ours (422 otherwise)."""
    if headers is None:
        return {}
    if not isinstance(headers, Mapping):
        raise InvalidInput(
            'headers must be an object such as {"Authorization": "Bearer …"}',
            code="invalid_webhook_headers",
        )
    if len(headers) > MAX_HEADERS:
        raise InvalidInput(
            f"{len(headers)} custom headers; at most {MAX_HEADERS} are allowed",
            code="invalid_webhook_headers",
        )
    checked: dict[str, str] = {}
    seen: set[str] = set()
    for name, value in headers.items():
        _check_header_name(name)
        lowered = str(name).lower()
        if lowered in seen:
            raise InvalidInput(
                f"header {name!r} is given twice (names are case-insensitive)",
                code="invalid_webhook_headers",
            )
        seen.add(lowered)
        checked[name] = _check_header_value(name, value)
    return checked


def _check_header_name(name: object) -> None:
    if not isinstance(name, str) or len(name) > MAX_HEADER_NAME or not _HEADER_NAME.fullmatch(name):
        raise InvalidInput(
            f"header name {str(name)[:80]!r} is not valid: use 1 to {MAX_HEADER_NAME} letters, "
            "digits and hyphens",
            code="invalid_webhook_headers",
        )
    lowered = name.lower()
    if lowered in RESERVED_HEADERS or lowered.startswith(RESERVED_PREFIXES):
        raise InvalidInput(
            f"header {name!r} is set by crosspost and cannot be overridden; reserved: "
            f"{', '.join(p + '*' for p in RESERVED_PREFIXES)}, "
            f"{', '.join(sorted(RESERVED_HEADERS))}",
            code="reserved_webhook_header",
        )


def _check_header_value(name: str, value: object) -> str:
    if not isinstance(value, str):
        raise InvalidInput(
            f"header {name!r}: the value must be a string", code="invalid_webhook_headers"
        )
    value = value.strip(" \t")
    if len(value) > MAX_HEADER_VALUE:
        raise InvalidInput(
            f"header {name!r}: the value is {len(value)} characters long; the limit is "
            f"{MAX_HEADER_VALUE}",
            code="invalid_webhook_headers",
        )
    # HTTP sends header values as ASCII; anything else would fail at delivery time.
    if any(not " " <= ch <= "~" for ch in value):
        raise InvalidInput(
            f"header {name!r}: the value must be printable ASCII (no control characters or "
            "non-ASCII letters)",
            code="invalid_webhook_headers",
        )
    return value


def check_throttle(value: object) -> int | None:
    """Deliveries per second for the endpoint, 1 to 10,000; None means not throttled."""
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int):
        raise InvalidInput("throttle_per_second must be an integer", code="invalid_throttle")
    if not MIN_THROTTLE <= value <= MAX_THROTTLE:
        raise InvalidInput(
            f"throttle_per_second must be {MIN_THROTTLE} to {MAX_THROTTLE} deliveries per "
            f"second (or null for none), got {value}",
            code="invalid_throttle",
        )
    return value


def check_concurrency(value: object) -> int:
    """Deliveries in flight at once to the endpoint, 1 to 100."""
    if isinstance(value, bool) or not isinstance(value, int):
        raise InvalidInput("max_concurrency must be an integer", code="invalid_max_concurrency")
    if not MIN_CONCURRENCY <= value <= MAX_CONCURRENCY:
        raise InvalidInput(
            f"max_concurrency must be {MIN_CONCURRENCY} to {MAX_CONCURRENCY}, got {value}",
            code="invalid_max_concurrency",
        )
    return value


def _check_active(value: object) -> bool:
    if not isinstance(value, bool):
        raise InvalidInput("active must be true or false", code="invalid_webhook_change")
    return value


def create_endpoint(
    conn: Connection,
    sealer: Sealer,
    *,
    tenant_id: str,
    mode: str,
    spec: EndpointSpec,
    now: datetime,
    max_endpoints: int,
) -> CreatedEndpoint:
    """Create an active endpoint with a fresh `whsec_` secret, sealed at rest, unless the
    tenant already has `max_endpoints` (409)."""
    # The tenant's row is locked first (PostgreSQL) so two creates cannot both pass the count.
    tenant = tenants.lock_tenant(conn, tenant_id)
    limit = (
        max_endpoints
        if tenant is None or tenant["webhook_max_endpoints"] is None
        else int(tenant["webhook_max_endpoints"])
    )
    if store.count_endpoints(conn, tenant_id) >= limit:
        raise Conflict(
            f"this tenant may have {limit} webhook endpoints and has them all; delete one "
            "you no longer use (or ask the operator to raise webhook_max_endpoints)",
            code="too_many_webhook_endpoints",
        )
    endpoint_id = new_id("whep")
    secret = new_secret()
    values = {
        "id": endpoint_id,
        "tenant_id": tenant_id,
        "mode": mode,
        "url": spec.url,
        "description": spec.description,
        "event_types": list(spec.event_types),
        **_sealed_headers(sealer, spec.headers, tenant_id=tenant_id, endpoint_id=endpoint_id),
        "active": True,
        "disabled_reason": None,
        "throttle_per_second": spec.throttle_per_second,
        "max_concurrency": spec.max_concurrency,
        "secret": sealer.encrypt(secret, tenant_id=tenant_id, table=TABLE, row_id=endpoint_id),
        "previous_secret": None,
        "previous_expires_at": None,
        "failing_since": None,
        "consecutive_failures": 0,
        "created_at": now,
        "updated_at": now,
    }
    store.insert_endpoint(conn, values)
    return CreatedEndpoint(values, secret)


def get_endpoint(
    conn: Connection,
    *,
    tenant_id: str,
    mode: str | None,
    endpoint_id: str,
    lock: bool = False,
) -> Row:
    """An endpoint of the tenant in this mode (any mode when None); 404 otherwise."""
    row = store.get_endpoint(conn, tenant_id, mode, endpoint_id, lock=lock)
    if row is None:
        raise NotFound(f"no webhook endpoint {endpoint_id!r}", code="webhook_not_found")
    return row


def list_endpoints(
    conn: Connection,
    *,
    tenant_id: str,
    mode: str | None,
    before_id: str | None = None,
    limit: int,
) -> list[Row]:
    """A page of the tenant's endpoints in this mode (every mode when None), newest first."""
    return store.list_endpoints(conn, tenant_id, mode, before_id=before_id, limit=limit)


def update_endpoint(
    conn: Connection,
    sealer: Sealer,
    *,
    tenant_id: str,
    mode: str | None,
    endpoint_id: str,
    changes: EndpointChanges,
    now: datetime,
) -> Row:
    """Apply checked changes; `active` true or false acts as enable or disable."""
    row = get_endpoint(conn, tenant_id=tenant_id, mode=mode, endpoint_id=endpoint_id, lock=True)
    values = dict(changes.values)
    if "event_types" in values:
        values["event_types"] = list(values["event_types"])
    if "headers" in values:
        values.update(
            _sealed_headers(
                sealer, values.pop("headers"), tenant_id=tenant_id, endpoint_id=endpoint_id
            )
        )
    active = values.pop("active", None)
    if active is True:
        values.update(_enabled())
    elif active is False and row["active"]:
        values.update(active=False, disabled_reason=MANUAL_REASON)
    if values:
        values["updated_at"] = now
        store.update_endpoint(conn, tenant_id, endpoint_id, values)
    return {**row, **values}


def delete_endpoint(
    conn: Connection, *, tenant_id: str, mode: str | None, endpoint_id: str
) -> None:
    """Delete an endpoint and its pending deliveries; its attempt log is kept."""
    # Locked first, so a fan-out adding a delivery for it waits for the delete instead of
    # slipping a row in between the two deletes.
    get_endpoint(conn, tenant_id=tenant_id, mode=mode, endpoint_id=endpoint_id, lock=True)
    store.delete_endpoint(conn, tenant_id, endpoint_id)


def rotate_secret(
    conn: Connection,
    sealer: Sealer,
    *,
    tenant_id: str,
    mode: str | None,
    endpoint_id: str,
    now: datetime,
    overlap: timedelta = ROTATION_OVERLAP,
) -> RotatedSecret:
    """Give the endpoint a new secret; the current one keeps signing too for `overlap`.

    Only one previous secret is kept: rotating again within the overlap ends the older one.
    """
    row = get_endpoint(conn, tenant_id=tenant_id, mode=mode, endpoint_id=endpoint_id, lock=True)
    secret = new_secret()
    expires = now + overlap
    values = {
        "secret": sealer.encrypt(secret, tenant_id=tenant_id, table=TABLE, row_id=endpoint_id),
        # Sealed for the same tenant, table and row, so the envelope moves over unchanged.
        "previous_secret": row["secret"],
        "previous_expires_at": expires,
        "updated_at": now,
    }
    store.update_endpoint(conn, tenant_id, endpoint_id, values)
    return RotatedSecret({**row, **values}, secret, expires)


def disable_endpoint(
    conn: Connection,
    *,
    tenant_id: str,
    mode: str | None,
    endpoint_id: str,
    now: datetime,
    reason: str | None = None,
) -> Row:
    """Stop deliveries to the endpoint until it is enabled again."""
    row = get_endpoint(conn, tenant_id=tenant_id, mode=mode, endpoint_id=endpoint_id, lock=True)
    values = {
        "active": False,
        "disabled_reason": check_text(reason, name="reason", code="invalid_reason")
        or MANUAL_REASON,
        "updated_at": now,
    }
    store.update_endpoint(conn, tenant_id, endpoint_id, values)
    return {**row, **values}


def enable_endpoint(
    conn: Connection, *, tenant_id: str, mode: str | None, endpoint_id: str, now: datetime
) -> Row:
    """Resume deliveries, with a clean failure record (reason, streak start and count)."""
    row = get_endpoint(conn, tenant_id=tenant_id, mode=mode, endpoint_id=endpoint_id, lock=True)
    values = {**_enabled(), "updated_at": now}
    store.update_endpoint(conn, tenant_id, endpoint_id, values)
    return {**row, **values}


def _enabled() -> dict[str, Any]:
    return {
        "active": True,
        "disabled_reason": None,
        "failing_since": None,
        "consecutive_failures": 0,
    }


def send_test(
    conn: Connection,
    *,
    tenant_id: str,
    mode: str | None,
    endpoint_id: str,
    now: datetime,
    message: str | None = None,
) -> str:
    """Emit a `webhook.test` event for this endpoint only; returns the event id."""
    row = get_endpoint(conn, tenant_id=tenant_id, mode=mode, endpoint_id=endpoint_id)
    if not row["active"]:
        raise Conflict(
            f"webhook endpoint {endpoint_id!r} is disabled ({row['disabled_reason']}); enable "
            "it before sending a test event",
            code="webhook_disabled",
        )
    text = check_text(message, name="message", code="invalid_message") or TEST_MESSAGE
    return outbox.emit(
        conn,
        tenant_id=tenant_id,
        mode=row["mode"],
        event_type="webhook.test",
        data={"endpoint_id": endpoint_id, "message": text},
        now=now,
        test=True,
    )


def mask_header(value: str) -> str:
    """How the API shows a custom header's value: its last four characters at most."""
    return MASK + value[-4:] if len(value) >= MASK_SHOWS_FROM else MASK


def open_headers(
    opener: Opener, sealed: str | None, *, tenant_id: str, endpoint_id: str
) -> dict[str, str]:
    """An endpoint's real custom headers from their sealed form (None: there are none)."""
    if sealed is None:
        return {}
    plain = opener.decrypt(sealed, tenant_id=tenant_id, table=TABLE, row_id=endpoint_id)
    headers: dict[str, str] = json.loads(plain)
    return headers


def seal_plain_headers(db: Database, sealer: Sealer) -> int:
    """Seal the custom headers of endpoints written before they were sealed; how many.

    Runs after every schema upgrade (a migration cannot: it never sees the master key).
    """
    sealed = 0
    with db.write() as conn:
        for row in store.unsealed_header_rows(conn):
            if not row["headers"]:
                continue
            values = _sealed_headers(
                sealer, row["headers"], tenant_id=row["tenant_id"], endpoint_id=row["id"]
            )
            store.update_endpoint(conn, row["tenant_id"], row["id"], values)
            sealed += 1
    return sealed


def _sealed_headers(
    sealer: Sealer, headers: Mapping[str, str], *, tenant_id: str, endpoint_id: str
) -> dict[str, Any]:
    """The two columns that hold custom headers: masked for show, sealed for sending."""
    if not headers:
        return {"headers": {}, "sealed_headers": None}
    plain = json.dumps(dict(headers), separators=(",", ":"))
    return {
        "headers": {name: mask_header(value) for name, value in headers.items()},
        "sealed_headers": sealer.encrypt(
            plain, tenant_id=tenant_id, table=TABLE, row_id=endpoint_id
        ),
    }
