"""The clip studio's tables (seed 000): projects and their sources, clips, brand kits,
renders, and the long-running jobs (`/v1/jobs`) that detect highlights and render."""

from __future__ import annotations

import sqlalchemy as sa

from crosspost.store.schema import JSONType, UTCDateTime, created, metadata, tenant_ref

projects = sa.Table(
    "projects",
    metadata,
    sa.Column("id", sa.String(40), primary_key=True),
    tenant_ref(),
    sa.Column("name", sa.String(200), nullable=False),
    sa.Column("brand_kit_id", sa.String(40)),
    created(),
    sa.Column("updated_at", UTCDateTime(), nullable=False),
    sa.Index("ix_projects_tenant_id_created_at", "tenant_id", "created_at"),
)

# A project's source videos (media items, in the order added), each with the transcript
# attached or made for it: {"language", "segments": [{start, end, text, words: [...]}]}.
project_sources = sa.Table(
    "project_sources",
    metadata,
    sa.Column("project_id", sa.String(40), sa.ForeignKey("projects.id"), primary_key=True),
    sa.Column("media_id", sa.String(40), sa.ForeignKey("media.id"), primary_key=True),
    tenant_ref(),
    sa.Column("transcript", JSONType),
    sa.Column("transcript_origin", sa.String(12)),  # attached | transcribed
    sa.Column("added_at", UTCDateTime(), nullable=False),
)

# A stretch of one source: found by highlight detection (score and reasons) or made by hand.
clips = sa.Table(
    "clips",
    metadata,
    sa.Column("id", sa.String(40), primary_key=True),
    tenant_ref(),
    sa.Column("project_id", sa.String(40), sa.ForeignKey("projects.id"), nullable=False),
    sa.Column("media_id", sa.String(40), sa.ForeignKey("media.id"), nullable=False),
    sa.Column("start_seconds", sa.Float(), nullable=False),
    sa.Column("end_seconds", sa.Float(), nullable=False),
    sa.Column("origin", sa.String(12), nullable=False),  # detected | manual
    sa.Column("score", sa.Float()),
    sa.Column("reasons", JSONType, nullable=False),
    sa.Column("title", sa.String(200)),
    created(),
    sa.Column("updated_at", UTCDateTime(), nullable=False),
    sa.Index("ix_clips_project_id_created_at", "project_id", "created_at"),
)

brand_kits = sa.Table(
    "brand_kits",
    metadata,
    sa.Column("id", sa.String(40), primary_key=True),
    tenant_ref(),
    sa.Column("name", sa.String(200), nullable=False),
    sa.Column("logo_media_id", sa.String(40), sa.ForeignKey("media.id")),
    sa.Column("intro_media_id", sa.String(40), sa.ForeignKey("media.id")),
    sa.Column("outro_media_id", sa.String(40), sa.ForeignKey("media.id")),
    # {"position", "scale", "opacity", "margin"}
    sa.Column("logo", JSONType, nullable=False),
    # {"background", "primary", "accent"} as #rrggbb
    sa.Column("colors", JSONType, nullable=False),
    # CaptionStyle's fields
    sa.Column("caption_style", JSONType, nullable=False),
    sa.Column("default_aspect", sa.String(8), nullable=False),
    created(),
    sa.Column("updated_at", UTCDateTime(), nullable=False),
    sa.Index("ix_brand_kits_tenant_id_created_at", "tenant_id", "created_at"),
)

# A clip rendered to a file ("export" in seed 000): the spec asked for, and once ready the
# media item it became (publishable like any upload) and its poster's storage key.
renders = sa.Table(
    "renders",
    metadata,
    sa.Column("id", sa.String(40), primary_key=True),
    tenant_ref(),
    sa.Column("clip_id", sa.String(40), sa.ForeignKey("clips.id"), nullable=False),
    sa.Column("project_id", sa.String(40), nullable=False),
    sa.Column("job_id", sa.String(40), nullable=False),
    sa.Column("status", sa.String(12), nullable=False),  # queued|rendering|ready|failed
    sa.Column("spec", JSONType, nullable=False),
    sa.Column("media_id", sa.String(40), sa.ForeignKey("media.id")),
    sa.Column("poster_key", sa.String(255)),
    sa.Column("error_code", sa.String(40)),
    sa.Column("error_message", sa.Text()),
    created(),
    sa.Column("updated_at", UTCDateTime(), nullable=False),
    sa.Column("completed_at", UTCDateTime()),
    sa.Index("ix_renders_clip_id_created_at", "clip_id", "created_at"),
    sa.Index("ix_renders_tenant_id_created_at", "tenant_id", "created_at"),
)

# One long-running request of any kind (`/v1/jobs`): what it works on, how far it got, and
# what came of it. The queue's own row (jobs) goes when the work ends; this one stays.
tasks = sa.Table(
    "tasks",
    metadata,
    sa.Column("id", sa.String(40), primary_key=True),
    tenant_ref(),
    sa.Column("kind", sa.String(24), nullable=False),  # highlights | render
    # The mode of the key that asked: job.completed/job.failed go to that mode's endpoints.
    sa.Column("mode", sa.String(8), nullable=False, server_default="live"),
    sa.Column("subject_id", sa.String(40), nullable=False),
    sa.Column("status", sa.String(12), nullable=False),  # queued|running|succeeded|failed
    sa.Column("params", JSONType, nullable=False),
    sa.Column("progress_done", sa.Float(), nullable=False, server_default="0"),
    sa.Column("progress_total", sa.Float()),
    sa.Column("progress_unit", sa.String(12), nullable=False),  # seconds | frames
    sa.Column("result", JSONType),
    sa.Column("error_code", sa.String(40)),
    sa.Column("error_message", sa.Text()),
    created(),
    sa.Column("updated_at", UTCDateTime(), nullable=False),
    sa.Column("finished_at", UTCDateTime()),
    sa.Index("ix_tasks_tenant_id_created_at", "tenant_id", "created_at"),
    sa.Index("ix_tasks_subject_id", "subject_id"),
    # The metrics read one kind's latest finished tasks (cover-art generation times).
    sa.Index("ix_tasks_kind_status_finished_at", "kind", "status", "finished_at"),
)
