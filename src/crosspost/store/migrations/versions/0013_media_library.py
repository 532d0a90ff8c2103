"""media library, lists, budgets: deleted media as tombstones; media and targets listed
per tenant newest first; when a pacing budget was last reported exhausted

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-06 15:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from crosspost.store.tables import UTCDateTime

revision = "0013"
down_revision = "0012"
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Apply the change."""
    with op.batch_alter_table("media") as batch:
        batch.add_column(sa.Column("deleted_at", UTCDateTime()))
    with op.batch_alter_table("tenants") as batch:
        batch.add_column(sa.Column("media_retention_days", sa.Integer()))
    with op.batch_alter_table("pacing") as batch:
        batch.add_column(sa.Column("exhausted_until", sa.Float()))
    op.create_index("ix_media_tenant_id_id", "media", ["tenant_id", "id"])
    op.create_index("ix_targets_tenant_id_status_id", "targets", ["tenant_id", "status", "id"])


def downgrade() -> None:
    """Revert the change."""
    op.drop_index("ix_targets_tenant_id_status_id", "targets")
    op.drop_index("ix_media_tenant_id_id", "media")
    with op.batch_alter_table("pacing") as batch:
        batch.drop_column("exhausted_until")
    with op.batch_alter_table("tenants") as batch:
        batch.drop_column("media_retention_days")
    with op.batch_alter_table("media") as batch:
        batch.drop_column("deleted_at")
