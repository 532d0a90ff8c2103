"""content pipeline: pipelines (a Twitch channel and its GitHub repositories), the GitHub
activity they hold and the webhook deliveries already taken

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
        sa.Column("twitch_login", sa.String(25), nullable=False),
        sa.Column("repositories", JSONType, nullable=False),
        sa.Column("match_window_minutes", sa.Integer(), nullable=False),
        sa.Column("recap", JSONType),
        sa.Column("github_token", sa.Text()),
        sa.Column("webhook_secret", sa.Text(), nullable=False),
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


def downgrade() -> None:
    """Revert the change."""
    op.drop_index("ix_github_events_pipeline_id_occurred_at", "github_events")
    op.drop_table("github_events")
    op.drop_table("github_deliveries")
    op.drop_index("ix_pipelines_tenant_id_created_at", "pipelines")
    op.drop_table("pipelines")
