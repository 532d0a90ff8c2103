"""The audit log: who did what, recorded in the same transaction as the act."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal

from sqlalchemy.engine import Connection

from crosspost.store import audit as store

ActorType = Literal["key", "operator", "user", "app", "cli", "system"]


@dataclass(frozen=True)
class Actor:
    """Who acts: an API key, the operator, a user, a third-party app, the server's own
    command line, or the server itself; `ip` when the act came over HTTP."""

    type: ActorType
    id: str | None = None
    ip: str | None = None

    @classmethod
    def cli(cls) -> Actor:
        """The operator at the server's command line."""
        return cls("cli")

    @classmethod
    def system(cls) -> Actor:
        """The server acting on its own (a purge, a scheduled job)."""
        return cls("system")


def record(
    conn: Connection,
    actor: Actor,
    action: str,
    *,
    tenant_id: str | None,
    now: datetime,
    target: tuple[str, str] | None = None,
    data: Mapping[str, Any] | None = None,
) -> str:
    """Append `action` (`tenant.suspended`, `key.created`, …) done by `actor` to the log of
    `tenant_id` (None: server-level); `target` is (type, id). Returns the event id."""
    return store.append(
        conn,
        {
            "tenant_id": tenant_id,
            "actor_type": actor.type,
            "actor_id": actor.id,
            "action": action,
            "target_type": target[0] if target else None,
            "target_id": target[1] if target else None,
            "data": dict(data) if data else None,
            "ip": actor.ip,
        },
        now,
    )
