"""content pipeline: pipelines (a Twitch channel and its GitHub repositories), the GitHub
activity they hold, the webhook deliveries already taken, and content items

Revision ID: 0022
Revises: 0021
Create Date: 2026-12-07 03:30:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from crosspost.store.tables import JSONType, UTCDateTime

revision = "0022"
down_revision = "0021"
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Apply the change."""
    op.create_table(
        "pipelines",
        sa.Column("id", sa.String(40), primary_key=True),
        sa.Column("tenant_id", sa.String(40), sa.ForeignKey("tenants.id"), nullable=False),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("mode", sa.String(8), nullable=False),
        sa.Column("twitch_login", sa.String(25), nullable=False),
        sa.Column("repositories", JSONType, nullable=False),
        sa.Column("match_window_minutes", sa.Integer(), nullable=False),
        sa.Column("recap", JSONType),
        sa.Column("github_token", sa.Text()),
        sa.Column("webhook_secret", sa.Text(), nullable=False),
        sa.Column("github_seen", JSONType, nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("updated_at", UTCDateTime(), nullable=False),
    )
    op.create_index("ix_pipelines_tenant_id_created_at", "pipelines", ["tenant_id", "created_at"])
    op.create_table(
        "github_deliveries",
        sa.Column("pipeline_id", sa.String(40), sa.ForeignKey("pipelines.id"), primary_key=True),
        sa.Column("delivery_id", sa.String(64), primary_key=True),
        sa.Column("tenant_id", sa.String(40), sa.ForeignKey("tenants.id"), nullable=False),
        sa.Column("event", sa.String(40), nullable=False),
        sa.Column("received_at", UTCDateTime(), nullable=False),
    )
    op.create_table(
        "github_events",
        sa.Column("id", sa.String(40), primary_key=True),
        sa.Column("tenant_id", sa.String(40), sa.ForeignKey("tenants.id"), nullable=False),
        sa.Column("pipeline_id", sa.String(40), sa.ForeignKey("pipelines.id"), nullable=False),
        sa.Column("repository", sa.String(140), nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("ref", sa.String(64), nullable=False),
        sa.Column("action", sa.String(32), nullable=False),
        sa.Column("title", sa.String(500), nullable=False),
        sa.Column("url", sa.String(500), nullable=False),
        sa.Column("author", sa.String(100)),
        sa.Column("occurred_at", UTCDateTime(), nullable=False),
        sa.Column("source", sa.String(12), nullable=False),
        sa.Column("detail", JSONType, nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.UniqueConstraint(
            "pipeline_id", "repository", "kind", "ref", "action", name="uq_github_events_identity"
        ),
    )
    op.create_index(
        "ix_github_events_pipeline_id_occurred_at",
        "github_events",
        ["pipeline_id", "occurred_at"],
    )

    op.create_table(
        "content_items",
        sa.Column("id", sa.String(40), primary_key=True),
        sa.Column("tenant_id", sa.String(40), sa.ForeignKey("tenants.id"), nullable=False),
        sa.Column("pipeline_id", sa.String(40), sa.ForeignKey("pipelines.id"), nullable=False),
        sa.Column("platform", sa.String(12), nullable=False),
        sa.Column("clip_id", sa.String(120), nullable=False),
        sa.Column("clip_title", sa.String(500), nullable=False),
        sa.Column("clip_url", sa.String(500), nullable=False),
        sa.Column("clip_embed_url", sa.String(500), nullable=False),
        sa.Column("clip_thumbnail_url", sa.String(500), nullable=False),
        sa.Column("clip_duration", sa.Float(), nullable=False),
        sa.Column("clip_view_count", sa.Integer(), nullable=False),
        sa.Column("clip_created_at", UTCDateTime(), nullable=False),
        sa.Column("broadcaster_name", sa.String(100), nullable=False),
        sa.Column("creator_name", sa.String(100), nullable=False),
        sa.Column("processing_status", sa.String(20), nullable=False),
        sa.Column("media_id", sa.String(40), sa.ForeignKey("media.id")),
        sa.Column("audio_key", sa.String(300)),
        sa.Column("transcript_key", sa.String(300)),
        sa.Column("transcript_summary", sa.Text()),
        sa.Column("transcript_size_bytes", sa.Integer()),
        sa.Column("github_context_key", sa.String(300)),
        sa.Column("github_summary", sa.Text()),
        sa.Column("github_context_size_bytes", sa.Integer()),
        sa.Column("match_confidence", sa.Float()),
        sa.Column("content_score", sa.Float()),
        sa.Column("content_tags", JSONType),
        sa.Column("content_category", sa.String(20)),
        sa.Column("judgement", JSONType),
        sa.Column("review", sa.String(10), nullable=False),
        sa.Column("error", JSONType),
        sa.Column("stored_at", UTCDateTime(), nullable=False),
        sa.Column("enhanced_at", UTCDateTime()),
        sa.Column("content_ready_at", UTCDateTime()),
        sa.Column("updated_at", UTCDateTime(), nullable=False),
        sa.UniqueConstraint("pipeline_id", "clip_id", name="uq_content_items_clip"),
    )
    for column in (
        "clip_created_at", "clip_view_count", "content_score", "clip_duration",
        "processing_status",
    ):  # fmt: skip
        op.create_index(
            f"ix_content_items_tenant_id_{column}", "content_items", ["tenant_id", column]
        )
    op.create_table(
        "content_templates",
        sa.Column("tenant_id", sa.String(40), sa.ForeignKey("tenants.id"), primary_key=True),
        sa.Column("content_type", sa.String(20), primary_key=True),
        sa.Column("template", sa.Text(), nullable=False),
        sa.Column("updated_at", UTCDateTime(), nullable=False),
    )


def downgrade() -> None:
    """Revert the change."""
    op.drop_table("content_templates")
    op.drop_table("content_items")
    op.drop_index("ix_github_events_pipeline_id_occurred_at", "github_events")
    op.drop_table("github_events")
    op.drop_table("github_deliveries")
    op.drop_index("ix_pipelines_tenant_id_created_at", "pipelines")
    op.drop_table("pipelines")
