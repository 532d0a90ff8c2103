"""Target transitions: one update, one ledger event, and the post rollup, in one transaction."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from sqlalchemy.engine import Connection

from crosspost.domain.enums import PostStatus, TargetStatus
from crosspost.engine import events
from crosspost.engine.rollup import rollup
from crosspost.errors import Conflict
from crosspost.store import ledger, post_metrics, posts
from crosspost.store.usage import post_creator_key
from crosspost.usage import metering

# Final post statuses that count as a published post (at least one target published).
_PUBLISHED_POST = frozenset({PostStatus.PUBLISHED.value, PostStatus.PARTIALLY_PUBLISHED.value})


class TargetCancelled(Conflict):
    """The customer cancelled the target while a worker was on it; the worker stops."""

    code = "target_cancelled"


def transition(
    conn: Connection,
    target: Mapping[str, Any],
    *,
    now: datetime,
    status: TargetStatus | None = None,
    event: str | None = None,
    data: Mapping[str, Any] | None = None,
    **columns: Any,
) -> None:
    """Apply a change to a target in the caller's (fenced) transaction.

    Writes the ledger event when one is named and, when the status changes, recomputes the
    post's rollup and records a ``post_<status>`` event if that changed too.
    """
    values = dict(columns)
    if status is not None:
        values["status"] = status.value
    values["updated_at"] = now
    if not posts.update_target(conn, target["id"], **values):
        raise TargetCancelled(f"target {target['id']} was cancelled")
    if event is not None:
        ledger.append_event(
            conn,
            tenant_id=target["tenant_id"],
            post_id=target["post_id"],
            target_id=target["id"],
            account_id=target["account_id"],
            event_type=event,
            now=now,
            data={"platform": target["platform"], **(data or {})},
        )
    if status in events.TARGET_EVENTS and target["status"] != values["status"]:
        events.emit_target(conn, target, values, now)
    if status is not None and _may_change_rollup(TargetStatus(target["status"]), status):
        refresh_post_status(conn, target["tenant_id"], target["post_id"], now)
    if status is TargetStatus.PUBLISHED and target["status"] != TargetStatus.PUBLISHED.value:
        # Its metrics schedule starts with it (engine.post_metrics plans the fetches).
        post_metrics.start(conn, target, values.get("published_at") or now)
        # Counted in the transition's transaction: a re-run after a crash finds the target
        # already published and never comes here again. Last, after the post's lock, so
        # usage rows are locked in one order (see store.usage.lock_order) and held briefly.
        metering.meter(
            conn,
            tenant_id=target["tenant_id"],
            key_id=post_creator_key(conn, target["post_id"]),
            amounts={metering.TARGETS_PUBLISHED: 1},
            now=now,
            enforce=False,
        )


def _may_change_rollup(old: TargetStatus, new: TargetStatus) -> bool:
    """False for moves between in-flight states, which leave every rollup unchanged.

    The rollup only looks at terminal states and at `scheduled`; skipping the others saves
    two statements on most writes of the publish loop.
    """
    if old is new:
        return False
    quiet = {TargetStatus.SCHEDULED}
    return old.terminal or new.terminal or old in quiet or new in quiet


def refresh_post_status(conn: Connection, tenant_id: str, post_id: str, now: datetime) -> None:
    """Recompute a post's rollup status; ledger it when it changes."""
    posts.lock_post(conn, post_id)
    # Read after the lock: under READ COMMITTED this sees every target committed before us.
    new_status = rollup(posts.target_statuses(conn, post_id))
    newly_published = False
    if new_status.value in _PUBLISHED_POST:
        # Read under the lock: partially_published -> published must not count twice.
        old = posts.get_post(conn, tenant_id, post_id)
        newly_published = old is not None and old["status"] not in _PUBLISHED_POST
    if posts.set_post_status(conn, post_id, new_status.value, now):
        if newly_published:
            metering.meter(
                conn,
                tenant_id=tenant_id,
                key_id=post_creator_key(conn, post_id),
                amounts={metering.POSTS_PUBLISHED: 1},
                now=now,
                enforce=False,
            )
        ledger.append_event(
            conn,
            tenant_id=tenant_id,
            post_id=post_id,
            event_type=f"post_{new_status.value}",
            now=now,
            data={"status": new_status.value},
        )
        events.emit_post_status(conn, tenant_id, post_id, now)
