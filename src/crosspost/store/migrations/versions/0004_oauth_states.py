"""OAuth connections in progress

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-29 22:12:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import crosspost.store.tables

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Apply the change."""
    op.create_table(
        "oauth_states",
        sa.Column("state_hash", sa.String(length=64), nullable=False),
        sa.Column("tenant_id", sa.String(length=40), nullable=False),
        sa.Column("mode", sa.String(length=8), nullable=False),
        sa.Column("platform", sa.String(length=16), nullable=False),
        sa.Column("verifier", sa.Text(), nullable=False),
        sa.Column("return_to", sa.Text(), nullable=True),
        sa.Column("created_at", crosspost.store.tables.UTCDateTime(), nullable=False),
        sa.Column("expires_at", crosspost.store.tables.UTCDateTime(), nullable=False),
        sa.Column("used_at", crosspost.store.tables.UTCDateTime(), nullable=True),
        sa.ForeignKeyConstraint(["tenant_id"], ["tenants.id"]),
        sa.PrimaryKeyConstraint("state_hash"),
    )


def downgrade() -> None:
    """Revert the change."""
    op.drop_table("oauth_states")
