"""clip studio: projects and their sources, clips, brand kits, renders, and the tasks
behind /v1/jobs (highlight detection, renders).

Revision ID: 0019
Revises: 0018
Create Date: 2026-12-06 21:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from crosspost.store.tables import JSONType, UTCDateTime

revision = "0019"
down_revision = "0018"
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Apply the change."""
    op.create_table(
        "projects",
        sa.Column("id", sa.String(40), primary_key=True),
        sa.Column("tenant_id", sa.String(40), sa.ForeignKey("tenants.id"), nullable=False),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("brand_kit_id", sa.String(40)),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("updated_at", UTCDateTime(), nullable=False),
    )
    op.create_index("ix_projects_tenant_id_created_at", "projects", ["tenant_id", "created_at"])
    op.create_table(
        "project_sources",
        sa.Column("project_id", sa.String(40), sa.ForeignKey("projects.id"), primary_key=True),
        sa.Column("media_id", sa.String(40), sa.ForeignKey("media.id"), primary_key=True),
        sa.Column("tenant_id", sa.String(40), sa.ForeignKey("tenants.id"), nullable=False),
        sa.Column("transcript", JSONType),
        sa.Column("transcript_origin", sa.String(12)),  # attached | transcribed
        sa.Column("added_at", UTCDateTime(), nullable=False),
    )
    op.create_table(
        "clips",
        sa.Column("id", sa.String(40), primary_key=True),
        sa.Column("tenant_id", sa.String(40), sa.ForeignKey("tenants.id"), nullable=False),
        sa.Column("project_id", sa.String(40), sa.ForeignKey("projects.id"), nullable=False),
        sa.Column("media_id", sa.String(40), sa.ForeignKey("media.id"), nullable=False),
        sa.Column("start_seconds", sa.Float(), nullable=False),
        sa.Column("end_seconds", sa.Float(), nullable=False),
        sa.Column("origin", sa.String(12), nullable=False),  # detected | manual
        sa.Column("score", sa.Float()),
        sa.Column("reasons", JSONType, nullable=False),
        sa.Column("title", sa.String(200)),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("updated_at", UTCDateTime(), nullable=False),
    )
    op.create_index("ix_clips_project_id_created_at", "clips", ["project_id", "created_at"])
    op.create_table(
        "brand_kits",
        sa.Column("id", sa.String(40), primary_key=True),
        sa.Column("tenant_id", sa.String(40), sa.ForeignKey("tenants.id"), nullable=False),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("logo_media_id", sa.String(40), sa.ForeignKey("media.id")),
        sa.Column("intro_media_id", sa.String(40), sa.ForeignKey("media.id")),
        sa.Column("outro_media_id", sa.String(40), sa.ForeignKey("media.id")),
        sa.Column("logo", JSONType, nullable=False),
        sa.Column("colors", JSONType, nullable=False),
        sa.Column("caption_style", JSONType, nullable=False),
        sa.Column("default_aspect", sa.String(8), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("updated_at", UTCDateTime(), nullable=False),
    )
    op.create_index("ix_brand_kits_tenant_id_created_at", "brand_kits", ["tenant_id", "created_at"])
    op.create_table(
        "renders",
        sa.Column("id", sa.String(40), primary_key=True),
        sa.Column("tenant_id", sa.String(40), sa.ForeignKey("tenants.id"), nullable=False),
        sa.Column("clip_id", sa.String(40), sa.ForeignKey("clips.id"), nullable=False),
        sa.Column("project_id", sa.String(40), nullable=False),
        sa.Column("job_id", sa.String(40), nullable=False),
        sa.Column("status", sa.String(12), nullable=False),  # queued|rendering|ready|failed
        sa.Column("spec", JSONType, nullable=False),
        sa.Column("media_id", sa.String(40), sa.ForeignKey("media.id")),
        sa.Column("poster_key", sa.String(255)),
        sa.Column("error_code", sa.String(40)),
        sa.Column("error_message", sa.Text()),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("updated_at", UTCDateTime(), nullable=False),
        sa.Column("completed_at", UTCDateTime()),
    )
    op.create_index("ix_renders_clip_id_created_at", "renders", ["clip_id", "created_at"])
    op.create_index("ix_renders_tenant_id_created_at", "renders", ["tenant_id", "created_at"])
    op.create_table(
        "tasks",
        sa.Column("id", sa.String(40), primary_key=True),
        sa.Column("tenant_id", sa.String(40), sa.ForeignKey("tenants.id"), nullable=False),
        sa.Column("kind", sa.String(24), nullable=False),  # highlights | render
        sa.Column("subject_id", sa.String(40), nullable=False),
        sa.Column("status", sa.String(12), nullable=False),  # queued|running|succeeded|failed
        sa.Column("params", JSONType, nullable=False),
        sa.Column("progress_done", sa.Float(), nullable=False, server_default="0"),
        sa.Column("progress_total", sa.Float()),
        sa.Column("progress_unit", sa.String(12), nullable=False),  # seconds | frames
        sa.Column("result", JSONType),
        sa.Column("error_code", sa.String(40)),
        sa.Column("error_message", sa.Text()),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("updated_at", UTCDateTime(), nullable=False),
        sa.Column("finished_at", UTCDateTime()),
    )
    op.create_index("ix_tasks_tenant_id_created_at", "tasks", ["tenant_id", "created_at"])
    op.create_index("ix_tasks_subject_id", "tasks", ["subject_id"])


def downgrade() -> None:
    """Revert the change."""
    op.drop_table("tasks")
    op.drop_table("renders")
    op.drop_table("brand_kits")
    op.drop_table("clips")
    op.drop_table("project_sources")
    op.drop_table("projects")
