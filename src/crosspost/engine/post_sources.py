"""Posts made from the content pipeline (seed 002): `content_item_id` publishes an item's
clip video (captioned with its title unless the post gives text), `recap_job_id` a
generated recap as a text post (its title, what it covers and its pull request).

Resolved into a plain post before any check, so such a post is checked, stored and
published exactly like one that named its media and text itself.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from sqlalchemy.engine import Connection

from crosspost.domain.models import PostCreate
from crosspost.errors import InvalidInput
from crosspost.store import content_items, tasks


def from_content(conn: Connection, tenant_id: str, body: PostCreate) -> PostCreate:
    """`body` with its content item or recap turned into media and text; 422 naming what
    to change when the source is missing, not ready or rejected."""
    if body.content_item_id is not None and body.recap_job_id is not None:
        raise InvalidInput(
            "give content_item_id or recap_job_id, not both: make one post of each",
            code="content_source_conflict",
        )
    if body.content_item_id is not None:
        return _from_item(conn, tenant_id, body, body.content_item_id)
    if body.recap_job_id is not None:
        return _from_recap(conn, tenant_id, body, body.recap_job_id)
    return body


def _from_item(conn: Connection, tenant_id: str, body: PostCreate, item_id: str) -> PostCreate:
    if body.media_id is not None or body.media_ids is not None or body.render_id is not None:
        raise InvalidInput(
            "a content item brings its own video: leave out media_id, media_ids and render_id",
            code="media_conflict",
        )
    item = content_items.get_item(conn, tenant_id, item_id)
    if item is None:
        raise InvalidInput(
            f"no content item {item_id!r}; list them with GET /v1/content-items",
            code="content_item_not_found",
        )
    if item["review"] == "rejected":
        raise InvalidInput(
            f"content item {item_id} was rejected; approve it first "
            f"(POST /v1/content-items/{item_id}/review)",
            code="content_item_rejected",
        )
    if item["media_id"] is None:
        raise InvalidInput(
            f"content item {item_id} has no stored video yet (it is "
            f"{item['processing_status']}); run its pipeline, then post it",
            code="content_item_not_ready",
        )
    text = body.text if body.text.strip() else str(item["clip_title"])
    return body.model_copy(update={"media_id": item["media_id"], "text": text})


def _from_recap(conn: Connection, tenant_id: str, body: PostCreate, job_id: str) -> PostCreate:
    task = tasks.get_task(conn, tenant_id, job_id)
    if task is None or task["kind"] != "content_generation":
        raise InvalidInput(
            f"no generated recap {job_id!r}: give the job_id POST /v1/content/generate answered",
            code="recap_not_found",
        )
    if task["status"] != "succeeded":
        raise InvalidInput(
            f"recap {job_id} is {task['status']}; post it once GET /v1/jobs/{job_id} says "
            "succeeded (the content.generated webhook)",
            code="recap_not_ready",
        )
    text = body.text if body.text.strip() else recap_text(task["result"] or {})
    return body.model_copy(update={"text": text})


def recap_text(result: Mapping[str, Any]) -> str:
    """A recap as a short text post: its title, what it covers, and where to read it."""
    post = result.get("post") or {}
    summary = result.get("summary") or {}
    lines = [str(post.get("title") or result.get("suggested_title") or "Recap")]
    parts = [
        (summary.get("total_clips", 0), "clip"),
        (summary.get("total_commits", 0), "commit"),
        (summary.get("total_prs", 0), "pull request"),
        (summary.get("total_issues", 0), "issue"),
    ]
    said = [f"{n} {word}{'' if n == 1 else 's'}" for n, word in parts if n]
    if said:
        lines.append(", ".join(said) + ".")
    pull = result.get("pull_request")
    if pull:
        lines.append(str(pull["url"]))
    tags = [t for t in result.get("suggested_tags") or [] if t.isalnum()]
    if tags:
        lines.append(" ".join(f"#{t}" for t in tags[:3]))
    return "\n\n".join(lines)
