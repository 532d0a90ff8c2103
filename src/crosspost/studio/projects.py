"""Projects of the clip studio: a name, source videos (with their transcripts), the clips cut
from them and the brand kit their renders use by default."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from crosspost.domain.studio import ProjectCreate, ProjectPatch
from crosspost.domain.transcripts import Transcript
from crosspost.errors import Conflict, InvalidInput, NotFound
from crosspost.ids import new_id
from crosspost.store import media, studio
from crosspost.store.rows import Row
from crosspost.store.tables_studio import brand_kits

MAX_SOURCES = 20
_SOURCE_KINDS = ("video", "audio")


def create_project(conn: Connection, tenant_id: str, body: ProjectCreate, now: datetime) -> Row:
    """Insert a project with its first sources (each a ready video or audio item)."""
    if body.brand_kit_id is not None:
        _check_brand_kit(conn, tenant_id, body.brand_kit_id)
    if len(set(body.source_media_ids)) != len(body.source_media_ids):
        raise InvalidInput(
            "a media item is listed twice in source_media_ids; list each once",
            code="duplicate_source",
        )
    row: Row = {
        "id": new_id("prj"),
        "tenant_id": tenant_id,
        "name": body.name,
        "brand_kit_id": body.brand_kit_id,
        "created_at": now,
        "updated_at": now,
    }
    studio.insert_project(conn, row)
    for media_id in body.source_media_ids:
        add_source(conn, row, media_id, now)
    return row


def get_project(conn: Connection, tenant_id: str, project_id: str, *, lock: bool = False) -> Row:
    """A tenant's project; 404 otherwise."""
    row = studio.get_project(conn, tenant_id, project_id, lock=lock)
    if row is None:
        raise NotFound(f"no project {project_id!r}", code="project_not_found")
    return row


def patch_project(
    conn: Connection, tenant_id: str, project_id: str, body: ProjectPatch, now: datetime
) -> Row:
    """Rename a project or change its brand kit (null removes it)."""
    row = get_project(conn, tenant_id, project_id, lock=True)
    values: dict[str, Any] = {}
    if "name" in body.model_fields_set:
        if body.name is None:
            raise InvalidInput("a project needs a name; give one", code="invalid_name")
        values["name"] = body.name
    if "brand_kit_id" in body.model_fields_set:
        if body.brand_kit_id is not None:
            _check_brand_kit(conn, tenant_id, body.brand_kit_id)
        values["brand_kit_id"] = body.brand_kit_id
    if values:
        studio.update_project(conn, project_id, {**values, "updated_at": now})
    return {**row, **values, "updated_at": now if values else row["updated_at"]}


def delete_project(conn: Connection, tenant_id: str, project_id: str) -> None:
    """Delete a project and its clips; refused (409) while a render of it is unfinished
    (its media items, sources and renders' outputs, stay in the library)."""
    get_project(conn, tenant_id, project_id, lock=True)
    clip_ids = [c["id"] for c in _all_clips(conn, project_id)]
    made = studio.clip_renders(conn, clip_ids) if clip_ids else []
    if any(r["status"] in ("queued", "rendering") for r in made):
        raise Conflict(
            "a render of this project is still running; wait for it to finish or "
            "fail, then delete the project",
            code="render_in_progress",
        )
    if made:
        raise Conflict(
            "this project's clips have renders; their media items are in the "
            "library, but the renders must go first",
            code="project_has_renders",
        )
    studio.delete_project(conn, project_id)


def _all_clips(conn: Connection, project_id: str) -> list[Row]:
    return studio.list_clips(conn, project_id, before_id=None, limit=10_000, origin=None)


def add_source(conn: Connection, project: Row, media_id: str, now: datetime) -> None:
    """Add a ready video or audio item of the project's tenant as a source."""
    item = media.get_media(conn, project["tenant_id"], media_id)
    if item is None:
        raise InvalidInput(
            f"no media {media_id!r} in this tenant; upload it first", code="media_not_found"
        )
    if item["status"] != "ready":
        raise InvalidInput(
            f"media {media_id!r} is {item['status']}; wait until it is ready",
            code="media_not_ready",
        )
    if item["kind"] not in _SOURCE_KINDS:
        raise InvalidInput(
            f"media {media_id!r} is an {item['kind']}; a source is a video or audio file",
            code="unsupported_source",
        )
    existing = studio.sources(conn, [project["id"]])
    if any(s["media_id"] == media_id for s in existing):
        raise Conflict(
            f"media {media_id!r} is already a source of this project", code="duplicate_source"
        )
    if len(existing) >= MAX_SOURCES:
        raise InvalidInput(
            f"a project holds at most {MAX_SOURCES} sources; start another project",
            code="too_many_sources",
        )
    studio.add_source(
        conn,
        {
            "project_id": project["id"],
            "media_id": media_id,
            "tenant_id": project["tenant_id"],
            "transcript": None,
            "transcript_origin": None,
            "added_at": now,
        },
    )


def get_source(conn: Connection, project: Row, media_id: str) -> Row:
    """One of the project's sources; 404 otherwise."""
    row = studio.get_source(conn, project["id"], media_id)
    if row is None:
        raise NotFound(
            f"media {media_id!r} is not a source of project {project['id']!r}",
            code="source_not_found",
        )
    return row


def attach_transcript(
    conn: Connection, project: Row, media_id: str, transcript: Transcript, now: datetime
) -> None:
    """Keep a transcript read from a WebVTT or SRT file as the source's (replacing any);
    422 when it cannot belong to the source."""
    source = get_source(conn, project, media_id)
    duration = source["duration_seconds"]
    if duration is not None and transcript.segments and transcript.segments[0].start > duration:
        raise InvalidInput(
            "the transcript starts after the source ends; attach the file made for this source",
            code="transcript_times",
        )
    studio.update_source(
        conn,
        project["id"],
        media_id,
        {"transcript": transcript.to_json(), "transcript_origin": "attached"},
    )
    studio.update_project(conn, project["id"], {"updated_at": now})


def transcript_of(stored: dict[str, Any] | None) -> Transcript | None:
    """The transcript a source's column keeps, or None."""
    return Transcript.from_json(stored) if stored else None


def _check_brand_kit(conn: Connection, tenant_id: str, brand_kit_id: str) -> None:
    # FOR SHARE (PostgreSQL): the kit cannot be deleted before this project names it.
    query = (
        sa.select(brand_kits.c.id)
        .where(brand_kits.c.id == brand_kit_id, brand_kits.c.tenant_id == tenant_id)
        .with_for_update(read=True)
    )
    if conn.execute(query).first() is None:
        raise InvalidInput(
            f"no brand kit {brand_kit_id!r} in this tenant; create it first",
            code="brand_kit_not_found",
        )
