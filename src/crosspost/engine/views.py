"""Rows to public models."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from sqlalchemy.engine import Connection

from crosspost.domain.models import (
    FirstCommentPublic,
    FitPublic,
    PostPublic,
    TargetError,
    TargetPublic,
)
from crosspost.errors import NotFound
from crosspost.store import posts


def target_public(row: Mapping[str, Any]) -> TargetPublic:
    """A target row as the API shows it."""
    error = None
    if row["error_kind"]:
        error = TargetError(
            kind=row["error_kind"],
            code=row["error_code"],
            message=row["error_message"],
            raw=row["error_raw"],
        )
    progress = (row["session"] or {}).get("_progress")
    comment = (row["session"] or {}).get("first_comment")
    return TargetPublic(
        id=row["id"],
        post_id=row["post_id"],
        account_id=row["account_id"],
        platform=row["platform"],
        status=row["status"],
        attempts=row["attempts"],
        next_attempt_at=row["next_attempt_at"],
        external_id=row["external_id"],
        external_url=row["external_url"],
        published_at=row["published_at"],
        progress=progress,
        last_error=error,
        first_comment=_comment(comment) if comment else None,
        fit=FitPublic.model_validate(row["fit"]) if row.get("fit") else None,
        created_at=row["created_at"],
        updated_at=row["updated_at"],
    )


def _comment(state: Mapping[str, Any]) -> FirstCommentPublic:
    # "posting" is an attempt whose outcome is being settled: still pending to a reader.
    status = state.get("status")
    return FirstCommentPublic(
        status="pending" if status == "posting" else status,
        id=state.get("id"),
        attempts=int(state.get("attempts", 0)),
        error=state.get("error"),
    )


def post_public(row: Mapping[str, Any], target_rows: Sequence[Mapping[str, Any]]) -> PostPublic:
    """A post row and its targets as the API shows them."""
    return PostPublic(
        id=row["id"],
        status=row["status"],
        mode=row["mode"],
        media_id=row["media_id"],
        media_ids=row.get("media_ids"),
        text=row["text"],
        overrides=row["overrides"],
        publish_at=row["publish_at"],
        timezone=row["timezone"],
        auto_fit=bool(row.get("auto_fit")),
        targets=[target_public(t) for t in target_rows],
        created_at=row["created_at"],
        updated_at=row["updated_at"],
    )


def load_post(conn: Connection, tenant_id: str, post_id: str) -> PostPublic:
    """A tenant's post with its targets, or 404."""
    row = posts.get_post(conn, tenant_id, post_id)
    if row is None:
        raise NotFound(f"no post {post_id!r}")
    return post_public(row, posts.targets_of(conn, [post_id])[post_id])
