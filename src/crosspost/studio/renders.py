"""Renders (seed 000's "exports"): a clip made into a platform-ready video by a job in the
studio's worker pool, announced with `export.ready` or `export.failed`.

`start_render` checks the request against the clip, its source and the brand kit, counts
the render under the month's quotas, and records the render with its task (`/v1/jobs`) in
the caller's transaction. The job itself is `studio.render_job`. The output's media id is
fixed here, so every run of the job writes the same key: a run that dies is redone over it.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from sqlalchemy.engine import Connection

from crosspost.domain.renders import (
    MAX_RENDER_SECONDS,
    PlatformPreset,
    RenderCreate,
    RenderPublic,
)
from crosspost.engine import tasks
from crosspost.engine.services import Services
from crosspost.errors import InvalidInput, NotFound
from crosspost.ids import new_id
from crosspost.platforms import instagram_rules, linkedin_rules, tiktok_rules, x_rules
from crosspost.platforms.youtube_rules import SHORTS_MAX_SECONDS
from crosspost.store import media
from crosspost.store import renders as store
from crosspost.store.rows import Row
from crosspost.usage import processing
from crosspost.usage.metering import UsageWarning

RENDER_KIND = "studio.render.v1"
TASK_KIND = "render"
READY_EVENT = "export.ready"
FAILED_EVENT = "export.failed"
DEFAULT_ASPECT = "9:16"


def _preset(aspect: str, longest: float | None) -> tuple[str, float]:
    return aspect, min(longest or MAX_RENDER_SECONDS, MAX_RENDER_SECONDS)


# Each platform's shape and longest video, from its own limits: vertical for the short-video
# feeds, landscape where the feed is; capped at the longest render we make.
PRESETS: dict[str, tuple[str, float]] = {
    "youtube_shorts": _preset("9:16", SHORTS_MAX_SECONDS),
    "tiktok": _preset("9:16", tiktok_rules.LIMITS.max_duration_seconds),
    "instagram_reels": _preset("9:16", instagram_rules.LIMITS.max_duration_seconds),
    "x": _preset("16:9", x_rules.VIDEO_LIMITS.max_duration_seconds),
    "linkedin": _preset("16:9", linkedin_rules.VIDEO_LIMITS.max_duration_seconds),
}


def start_render(
    svc: Services,
    conn: Connection,
    *,
    tenant_id: str,
    key_id: str,
    mode: str,
    clip: Row,
    request: RenderCreate,
) -> tuple[Row, list[UsageWarning]]:
    """Check a render request of a tenant's `clip` (422 with a precise code), count it
    (402 past the `renders` or `processing_minutes` hard limit), then record it queued and
    start its task, in the caller's transaction; the render row and soft-limit warnings."""
    now = svc.clock.now()
    source = media.get_media(conn, tenant_id, clip["media_id"])
    if source is None:
        raise InvalidInput(
            f"the clip's source video {clip['media_id']!r} was deleted: add the video to the "
            "project again and make the clip from it",
            code="source_missing",
        )
    spec = resolve_spec(conn, tenant_id=tenant_id, clip=clip, request=request)
    seconds = clip["end_seconds"] - clip["start_seconds"]
    if source["duration_seconds"]:
        seconds = min(clip["end_seconds"], source["duration_seconds"]) - clip["start_seconds"]
    if spec["max_duration"] is not None:
        seconds = min(seconds, spec["max_duration"])
    warnings = processing.count_render(
        conn, tenant_id=tenant_id, key_id=key_id, seconds=seconds, now=now
    )
    render_id = new_id("rnd")
    params = {
        "clip_id": clip["id"],
        # The clip as asked for: a later change of its bounds is a new render.
        "start_seconds": clip["start_seconds"],
        "end_seconds": clip["end_seconds"],
        "spec": spec,
        # The output's id, fixed now: whichever run finishes writes this key.
        "output_media_id": new_id("med"),
        "key_id": key_id,
        "mode": mode,
    }
    task = tasks.start_task(
        svc,
        conn,
        tenant_id=tenant_id,
        mode=mode,
        kind=TASK_KIND,
        job_kind=RENDER_KIND,
        subject_id=render_id,
        params=params,
        unit="frames",
    )
    row: Row = {
        "id": render_id,
        "tenant_id": tenant_id,
        "clip_id": clip["id"],
        "project_id": clip["project_id"],
        "job_id": task["id"],
        "status": "queued",
        "spec": spec,
        "media_id": None,
        "poster_key": None,
        "error_code": None,
        "error_message": None,
        "created_at": now,
        "updated_at": now,
        "completed_at": None,
    }
    store.insert_render(conn, row)
    return row, warnings


def resolve_spec(
    conn: Connection, *, tenant_id: str, clip: Row, request: RenderCreate
) -> dict[str, Any]:
    """The render's settings with every default filled in: aspect from the request, the
    preset, the brand kit or 9:16; the brand kit from the request or the project."""
    preset: PlatformPreset | None = request.platform_preset
    preset_aspect, longest = PRESETS[preset] if preset is not None else (None, None)
    if request.max_duration is not None and longest is not None and request.max_duration > longest:
        raise InvalidInput(
            f"max_duration is {request.max_duration:g} s but {preset} takes videos up to "
            f"{longest:g} s: lower max_duration or leave it out to use {longest:g} s",
            code="max_duration_over_platform_limit",
        )
    kit_id = request.brand_kit_id
    if kit_id is None:
        project = store.get_project(conn, clip["project_id"])
        kit_id = project["brand_kit_id"] if project is not None else None
    kit = None
    if kit_id is not None:
        kit = store.get_brand_kit(conn, tenant_id, kit_id)
        if kit is None:
            where = "brand_kit_id" if request.brand_kit_id else "the project's brand_kit_id"
            raise InvalidInput(
                f"{where} names no brand kit of this tenant ({kit_id!r}): give one of "
                "GET /v1/brand-kits, or none",
                code="brand_kit_not_found",
            )
    source = store.get_source(conn, clip["project_id"], clip["media_id"])
    has_transcript = bool(source and (source["transcript"] or {}).get("segments"))
    if request.captions and not has_transcript:
        raise InvalidInput(
            "captions need the source's transcript and this source has none: attach a "
            "WebVTT or SRT file to it (POST /v1/projects/{id}/sources/{media_id}/transcript) "
            "or ask for captions: false",
            code="no_transcript",
        )
    aspect = request.aspect or preset_aspect or (kit["default_aspect"] if kit else None)
    return {
        "aspect": aspect or DEFAULT_ASPECT,
        "reframe": request.reframe,
        "captions": has_transcript if request.captions is None else request.captions,
        "brand_kit_id": kit_id,
        "max_duration": request.max_duration if request.max_duration is not None else longest,
        "platform_preset": preset,
    }


def get_render(conn: Connection, *, tenant_id: str, render_id: str) -> Row:
    """A tenant's render, or 404."""
    row = store.get_render(conn, tenant_id, render_id)
    if row is None:
        raise NotFound(f"no render {render_id!r}", code="render_not_found")
    return row


def get_clip(conn: Connection, *, tenant_id: str, clip_id: str) -> Row:
    """A tenant's clip, or 404."""
    clip = store.get_clip(conn, tenant_id, clip_id)
    if clip is None:
        raise NotFound(f"no clip {clip_id!r}", code="clip_not_found")
    return clip


def poster_key(render_id: str) -> str:
    """Where a render's poster JPEG is stored."""
    return f"posters/{render_id}.jpg"


def poster_url(render_id: str) -> str:
    """Where the API serves a render's poster."""
    return f"/v1/renders/{render_id}/poster"


def media_url(media_id: str) -> str:
    """The API path of a media item."""
    return f"/v1/media/{media_id}"


def public(
    render: Mapping[str, Any], task: Mapping[str, Any] | None, output: Row | None
) -> RenderPublic:
    """A render as the API shows it: `task` gives its progress, `output` (its media row,
    once ready) its video."""
    ready = render["status"] == "ready"
    code = render["error_code"]
    video = None
    if ready and output is not None:
        video = {
            "media_id": output["id"],
            "url": media_url(output["id"]),
            "duration_seconds": output["duration_seconds"],
            "width": output["width"],
            "height": output["height"],
            "size_bytes": output["size_bytes"],
            "sha256": output["sha256"],
        }
    progress = None
    if task is not None:
        progress = {
            "done": task["progress_done"],
            "total": task["progress_total"],
            "unit": task["progress_unit"],
        }
    return RenderPublic.model_validate(
        {
            **render,
            "progress": progress,
            "output": video,
            "poster_url": poster_url(render["id"]) if ready else None,
            "error": {"code": code, "message": render["error_message"] or ""} if code else None,
        }
    )


def event_data(
    render: Mapping[str, Any], output: Row | None, error: tuple[str, str] | None
) -> dict[str, Any]:
    """The `data` of `export.ready` (with the video `output`) or `export.failed` (with the
    `error` code and message), camelCase as seed 000's receivers expect."""
    artifacts = None
    if output is not None:
        artifacts = {
            "video": {
                "mediaId": output["id"],
                "url": media_url(output["id"]),
                "durationSeconds": output["duration_seconds"],
                "sizeBytes": output["size_bytes"],
                "sha256": output["sha256"],
                "width": output["width"],
                "height": output["height"],
            },
            "poster": {"url": poster_url(render["id"])},
        }
    return {
        "exportId": render["id"],
        "status": "FAILED" if error is not None else "COMPLETED",
        "clipId": render["clip_id"],
        "projectId": render["project_id"],
        "artifacts": artifacts,
        "error": {"code": error[0], "message": error[1]} if error is not None else None,
    }


def load_public(conn: Connection, render: Row) -> RenderPublic:
    """`public` for a stored render, reading its task and output."""
    return load_public_many(conn, [render])[render["id"]]


def load_public_many(conn: Connection, rows: list[Row]) -> dict[str, RenderPublic]:
    """`public` for stored renders, by id, their tasks and outputs read together."""
    task_of = store.tasks_of(conn, [row["job_id"] for row in rows])
    # A video the tenant deleted since is no output any more.
    output_of = store.outputs_of(conn, [row["media_id"] for row in rows if row["media_id"]])
    return {
        row["id"]: public(row, task_of.get(row["job_id"]), output_of.get(row["media_id"] or ""))
        for row in rows
    }
