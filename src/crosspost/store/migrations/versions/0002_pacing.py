"""pacing budgets shared by all workers

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-29 21:30:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Apply the change."""
    op.create_table(
        "pacing",
        sa.Column("key", sa.String(length=200), nullable=False),
        sa.Column(
            "calls", sa.JSON().with_variant(postgresql.JSONB(), "postgresql"), nullable=False
        ),
        sa.PrimaryKeyConstraint("key"),
    )


def downgrade() -> None:
    """Revert the change."""
    op.drop_table("pacing")
