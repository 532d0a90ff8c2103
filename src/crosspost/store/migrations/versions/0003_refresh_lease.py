"""single-flight token refresh lease on social accounts

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-29 22:05:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import crosspost.store.tables

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Apply the change."""
    with op.batch_alter_table("social_accounts") as batch:
        batch.add_column(
            sa.Column("refresh_locked_until", crosspost.store.tables.UTCDateTime(), nullable=True)
        )
        batch.add_column(sa.Column("refresh_locked_by", sa.String(length=64), nullable=True))


def downgrade() -> None:
    """Revert the change."""
    with op.batch_alter_table("social_accounts") as batch:
        batch.drop_column("refresh_locked_by")
        batch.drop_column("refresh_locked_until")
