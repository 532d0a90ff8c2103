"""Clips: stretches of a project's sources, found by highlight detection or made by hand,
and adjusted afterwards; always within their source, between 1 second and 10 minutes."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from sqlalchemy.engine import Connection

from crosspost.domain.studio import MAX_CLIP_SECONDS, ClipCreate, ClipPatch
from crosspost.errors import Conflict, InvalidInput, NotFound
from crosspost.ids import new_id
from crosspost.store import studio
from crosspost.store.rows import Row
from crosspost.studio.projects import get_project, get_source

MIN_CLIP_SECONDS = 1.0


def check_bounds(start: float, end: float, duration: float | None) -> None:
    """422 unless [start, end) is a clip of 1 s to 10 min within a source of `duration`."""
    if end <= start:
        raise InvalidInput(
            f"the clip ends ({end:g} s) before it starts ({start:g} s); give "
            "end_seconds after start_seconds",
            code="invalid_clip_bounds",
        )
    if end - start < MIN_CLIP_SECONDS or end - start > MAX_CLIP_SECONDS:
        raise InvalidInput(
            f"the clip lasts {end - start:g} s; a clip lasts from "
            f"{MIN_CLIP_SECONDS:g} s to {MAX_CLIP_SECONDS:g} s",
            code="invalid_clip_length",
        )
    if duration is not None and end > duration + 0.05:
        raise InvalidInput(
            f"the clip ends at {end:g} s, after its source ends "
            f"({duration:g} s); end it within the source",
            code="clip_outside_source",
        )


def create_clip(
    conn: Connection, tenant_id: str, project_id: str, body: ClipCreate, now: datetime
) -> Row:
    """A clip made by hand from one of the project's sources."""
    project = get_project(conn, tenant_id, project_id, lock=True)
    source = get_source(conn, project, body.media_id)
    check_bounds(body.start_seconds, body.end_seconds, source["duration_seconds"])
    row = new_clip(
        project,
        body.media_id,
        body.start_seconds,
        body.end_seconds,
        now,
        origin="manual",
        title=body.title,
    )
    studio.insert_clips(conn, [row])
    return row


def new_clip(
    project: Mapping[str, Any],
    media_id: str,
    start: float,
    end: float,
    now: datetime,
    *,
    origin: str,
    score: float | None = None,
    reasons: tuple[str, ...] = (),
    title: str | None = None,
) -> Row:
    """A clip row of `project`, not yet inserted."""
    return {
        "id": new_id("clp"),
        "tenant_id": project["tenant_id"],
        "project_id": project["id"],
        "media_id": media_id,
        "start_seconds": round(start, 3),
        "end_seconds": round(end, 3),
        "origin": origin,
        "score": score,
        "reasons": list(reasons),
        "title": title,
        "created_at": now,
        "updated_at": now,
    }


def get_clip(conn: Connection, tenant_id: str, clip_id: str) -> Row:
    """A tenant's clip; 404 otherwise."""
    row = studio.get_clip(conn, tenant_id, clip_id)
    if row is None:
        raise NotFound(f"no clip {clip_id!r}", code="clip_not_found")
    return row


def patch_clip(
    conn: Connection, tenant_id: str, clip_id: str, body: ClipPatch, now: datetime
) -> Row:
    """Move a clip's bounds (still within its source) or retitle it."""
    row = get_clip(conn, tenant_id, clip_id)
    project = get_project(conn, tenant_id, row["project_id"], lock=True)
    values: dict[str, Any] = {}
    for name in ("start_seconds", "end_seconds"):
        if name in body.model_fields_set:
            value = getattr(body, name)
            if value is None:
                raise InvalidInput(
                    f"{name} cannot be null; give a number of seconds", code="invalid_clip_bounds"
                )
            values[name] = round(value, 3)
    if "title" in body.model_fields_set:
        values["title"] = body.title
    start: float = {**row, **values}["start_seconds"]
    end: float = {**row, **values}["end_seconds"]
    check_bounds(start, end, get_source(conn, project, row["media_id"])["duration_seconds"])
    if values:
        studio.update_clip(conn, clip_id, {**values, "updated_at": now})
        return {**row, **values, "updated_at": now}
    return row


def delete_clip(conn: Connection, tenant_id: str, clip_id: str) -> None:
    """Delete a clip; refused (409) once it has renders (delete those first)."""
    row = get_clip(conn, tenant_id, clip_id)
    if studio.clip_renders(conn, [clip_id]):
        raise Conflict(
            "this clip has renders; their media items stay in the library, but "
            "the renders must go first",
            code="clip_has_renders",
        )
    studio.delete_clip(conn, row["id"])


def public(row: Mapping[str, Any]) -> dict[str, Any]:
    """A clip as the API shows it."""
    return {
        **row,
        "duration_seconds": round(row["end_seconds"] - row["start_seconds"], 3),
        "reasons": list(row["reasons"] or []),
    }
