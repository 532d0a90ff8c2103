"""What the events feed shows a key, and events sent by hand (`POST /v1/events/trigger`).

A key reads in the feed what it could read through the API anyway: post, target, account,
render (`export.*`) and data export events with `posts:read`, usage events with
`usage:read`, and the events about webhook endpoints (whose URLs may carry the receiver's
credentials) with `webhooks:write`.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import datetime

from sqlalchemy.engine import Connection

from crosspost.domain.enums import Mode
from crosspost.errors import Forbidden, InvalidInput
from crosspost.webhooks import outbox
from crosspost.webhooks.catalogue import EVENT_TYPES, matches, validate_patterns
from crosspost.webhooks.fanout import TEST_EVENT

_READ_SCOPE = {
    "post": "posts:read",
    "target": "posts:read",
    "account": "posts:read",
    "export": "posts:read",  # renders of clips
    "data_export": "posts:read",
    "content": "posts:read",  # recaps of the content pipeline
    "job": "posts:read",  # /v1/jobs, which posts:read reads
    "distribution": "posts:read",  # releases sent to stores
    "usage": "usage:read",
    "webhook": "webhooks:write",
    "endpoint": "webhooks:write",
}
# `webhook.test` goes to the one endpoint it names: `POST /v1/webhooks/{id}/test` sends it.
TRIGGERABLE = tuple(name for name in EVENT_TYPES if name != TEST_EVENT)


def read_scope(event_type: str) -> str:
    """The scope that reads events of this type."""
    return _READ_SCOPE[event_type.split(".", 1)[0]]


def readable_types(holds: Callable[[str], bool], patterns: Sequence[str]) -> list[str]:
    """The event types that match `patterns` (empty: all) and that a key holding the scopes
    `holds` says yes to may read; 422 for a bad pattern, 403 when it may read none."""
    validate_patterns(patterns)
    wanted = [name for name in EVENT_TYPES if matches(patterns, name)]
    allowed = [name for name in wanted if holds(read_scope(name))]
    if not allowed:
        scope = read_scope(wanted[0])
        raise Forbidden(
            f"reading {wanted[0]} events needs the {scope!r} scope; use a key granted it",
            code="insufficient_scope",
        )
    return allowed


def trigger(conn: Connection, *, tenant_id: str, mode: Mode, event_type: str, now: datetime) -> str:
    """Emit the catalogue's example of `event_type`, marked `"test": true`, to every endpoint
    of the tenant and mode it matches (and to the feed); returns the event id."""
    if mode is Mode.LIVE:
        raise Forbidden(
            "a triggered event goes to every matching endpoint, and with a live key those are "
            "your production receivers: use a test key (cp_test_…), or test one live endpoint "
            "with POST /v1/webhooks/{id}/test",
            code="trigger_needs_test_key",
        )
    if event_type not in TRIGGERABLE:
        hint = (
            "; send webhook.test to one endpoint with POST /v1/webhooks/{id}/test"
            if event_type == TEST_EVENT
            else ""
        )
        raise InvalidInput(
            f"{event_type!r} cannot be triggered{hint}; event types: {', '.join(TRIGGERABLE)}",
            code="unknown_event_type",
            valid_event_types=list(TRIGGERABLE),
        )
    return outbox.emit(
        conn,
        tenant_id=tenant_id,
        mode=mode.value,
        event_type=event_type,
        data=dict(EVENT_TYPES[event_type].example),
        now=now,
        test=True,
    )
