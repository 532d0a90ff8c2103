"""pipeline judge, notifications and imported transcripts: which judge scores a pipeline's
items (heuristic or LLM), the Discord webhook (sealed) told when a recap is generated, and
whether an item's transcript was transcribed or imported from WebVTT/SRT; and each job's
mode, which its job.completed/job.failed events go to; content items' sort indexes end with
the id, so a page is read in order off the index

Revision ID: 0023
Revises: 0022
Create Date: 2026-12-07 07:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0023"
down_revision = "0022"
branch_labels = None
depends_on = None
_SORTS = ("clip_created_at", "clip_view_count", "content_score", "clip_duration")


def upgrade() -> None:
    """Apply the change."""
    with op.batch_alter_table("pipelines") as batch:
        batch.add_column(
            sa.Column("judge", sa.String(12), nullable=False, server_default="heuristic")
        )
        batch.add_column(sa.Column("discord_webhook_url", sa.Text()))
    with op.batch_alter_table("content_items") as batch:
        batch.add_column(sa.Column("transcript_origin", sa.String(12)))
    with op.batch_alter_table("tasks") as batch:
        batch.add_column(sa.Column("mode", sa.String(8), nullable=False, server_default="live"))
    for column in _SORTS:
        op.drop_index(f"ix_content_items_tenant_id_{column}", table_name="content_items")
        op.create_index(
            f"ix_content_items_tenant_id_{column}_id", "content_items", ["tenant_id", column, "id"]
        )


def downgrade() -> None:
    """Revert the change."""
    for column in _SORTS:
        op.drop_index(f"ix_content_items_tenant_id_{column}_id", table_name="content_items")
        op.create_index(
            f"ix_content_items_tenant_id_{column}", "content_items", ["tenant_id", column]
        )
    with op.batch_alter_table("tasks") as batch:
        batch.drop_column("mode")
    with op.batch_alter_table("content_items") as batch:
        batch.drop_column("transcript_origin")
    with op.batch_alter_table("pipelines") as batch:
        batch.drop_column("discord_webhook_url")
        batch.drop_column("judge")
