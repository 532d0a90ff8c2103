"""Webhook events of the publishing engine: what a receiver learns, written to the outbox
in the transaction of the change itself (`crosspost.webhooks.outbox`).

Each payload is a snapshot taken inside that transaction, so a receiver sees the post or
target as it was when the event happened, whenever the delivery arrives.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy.engine import Connection

from crosspost.domain.enums import PostStatus, TargetStatus
from crosspost.store import posts
from crosspost.store.rows import Row
from crosspost.webhooks import outbox

# Target statuses a receiver hears about, and post statuses after creation.
TARGET_EVENTS = frozenset(
    {
        TargetStatus.UPLOADING,
        TargetStatus.PUBLISHED,
        TargetStatus.FAILED,
        TargetStatus.UNCONFIRMED,
        # The two states that do not end by themselves soon: a follower must hear of them.
        TargetStatus.WAITING,
        TargetStatus.NEEDS_REAUTH,
        TargetStatus.DELETED,
    }
)
POST_EVENTS = frozenset(
    {
        PostStatus.SCHEDULED,
        PostStatus.PUBLISHED,
        PostStatus.PARTIALLY_PUBLISHED,
        PostStatus.FAILED,
        PostStatus.CANCELLED,
        PostStatus.DELETED,
    }
)


def post_snapshot(post: Mapping[str, Any], targets: list[Row]) -> dict[str, Any]:
    """The `post` object of post.* events."""
    return {
        "id": post["id"],
        "status": post["status"],
        "text": post["text"],
        "media_id": post["media_id"],
        "publish_at": post["publish_at"],
        "created_at": post["created_at"],
        "targets": [
            {
                "id": t["id"],
                "platform": t["platform"],
                "account_id": t["account_id"],
                "status": t["status"],
                "external_id": t.get("external_id"),
                "external_url": t.get("external_url"),
                "error_code": t.get("error_code"),
            }
            for t in targets
        ],
    }


def emit_post(
    conn: Connection,
    post: Mapping[str, Any],
    event_type: str | Sequence[str],
    now: datetime,
    targets: list[Row] | None = None,
    extra: Mapping[str, Any] | None = None,
) -> None:
    """Record a post.* event (or several, in order, of the same post as it stands);
    `targets` default to the post's rows as they stand now; `extra` joins the post in
    `data`."""
    if targets is None:
        targets = posts.targets_of(conn, [post["id"]]).get(post["id"], [])
    outbox.emit_all(
        conn,
        tenant_id=post["tenant_id"],
        mode=post["mode"],
        event_types=[event_type] if isinstance(event_type, str) else event_type,
        data={"post": post_snapshot(post, targets), **(extra or {})},
        now=now,
        post_id=post["id"],
    )


def emit_post_status(conn: Connection, tenant_id: str, post_id: str, now: datetime) -> None:
    """Record the post.<status> event of a post whose rollup just changed."""
    post = posts.get_post(conn, tenant_id, post_id)
    if post is not None and PostStatus(post["status"]) in POST_EVENTS:
        emit_post(conn, post, f"post.{post['status']}", now)


def emit_target(
    conn: Connection, target: Mapping[str, Any], changes: Mapping[str, Any], now: datetime
) -> None:
    """Record the target.<status> event of a target that just moved to `changes["status"]`."""
    merged = {**target, **changes}
    post = posts.get_post(conn, merged["tenant_id"], merged["post_id"])
    if post is None:
        return
    error = None
    if merged.get("error_code") and merged["status"] != TargetStatus.PUBLISHED.value:
        error = {
            "kind": merged.get("error_kind"),
            "code": merged["error_code"],
            "message": merged.get("error_message"),
        }
    outbox.emit(
        conn,
        tenant_id=merged["tenant_id"],
        mode=post["mode"],
        event_type=f"target.{merged['status']}",
        data={
            "target": {
                "id": merged["id"],
                "post_id": merged["post_id"],
                "platform": merged["platform"],
                "account_id": merged["account_id"],
                "status": merged["status"],
                "attempts": merged.get("attempts", 0),
                "next_attempt_at": merged.get("next_attempt_at"),
                "external_id": merged.get("external_id"),
                "external_url": merged.get("external_url"),
                "error": error,
            }
        },
        now=now,
        post_id=merged["post_id"],
    )


def account_snapshot(account: Mapping[str, Any]) -> dict[str, Any]:
    """The `account` object of account.* events (never its credentials)."""
    return {
        "id": account["id"],
        "platform": account["platform"],
        "handle": account["handle"],
        "external_id": account["external_id"],
        "status": account["status"],
    }


def emit_account(
    conn: Connection, account: Mapping[str, Any], event_type: str, now: datetime, **extra: Any
) -> None:
    """Record an account.* event with the account's snapshot and `extra` members."""
    outbox.emit(
        conn,
        tenant_id=account["tenant_id"],
        mode=account["mode"],
        event_type=event_type,
        data={"account": account_snapshot(account), **extra},
        now=now,
    )
