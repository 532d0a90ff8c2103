"""exports

Revision ID: 0008
Revises: 0007
Create Date: 2026-11-30 03:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import crosspost.store.tables

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Apply the change."""
    op.create_table(
        "exports",
        sa.Column("id", sa.String(length=40), nullable=False),
        sa.Column("tenant_id", sa.String(length=40), nullable=False),
        sa.Column("mode", sa.String(length=8), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("format", sa.String(length=8), nullable=False),
        sa.Column("since", crosspost.store.tables.UTCDateTime(), nullable=True),
        sa.Column("until", crosspost.store.tables.UTCDateTime(), nullable=False),
        sa.Column("status", sa.String(length=12), nullable=False),
        sa.Column("rows_total", sa.Integer(), nullable=True),
        sa.Column("rows_done", sa.Integer(), server_default="0", nullable=False),
        sa.Column("bytes", sa.BigInteger(), nullable=True),
        sa.Column("sha256", sa.String(length=64), nullable=True),
        sa.Column("storage_key", sa.String(length=200), nullable=True),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("created_at", crosspost.store.tables.UTCDateTime(), nullable=False),
        sa.Column("updated_at", crosspost.store.tables.UTCDateTime(), nullable=False),
        sa.Column("completed_at", crosspost.store.tables.UTCDateTime(), nullable=True),
        sa.Column("expires_at", crosspost.store.tables.UTCDateTime(), nullable=True),
        sa.ForeignKeyConstraint(["tenant_id"], ["tenants.id"]),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_exports_tenant_id_id", "exports", ["tenant_id", "id"])
    op.create_index("ix_exports_status_expires_at", "exports", ["status", "expires_at"])


def downgrade() -> None:
    """Revert the change."""
    op.drop_index("ix_exports_status_expires_at", table_name="exports")
    op.drop_index("ix_exports_tenant_id_id", table_name="exports")
    op.drop_table("exports")
