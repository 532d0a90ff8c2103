"""auto fit: a post may ask for a conforming render wherever its video breaks a platform's
limits, and a target keeps the render it is fitted with

Revision ID: 0021
Revises: 0020
Create Date: 2026-12-07 00:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from crosspost.store.tables import JSONType

revision = "0021"
down_revision = "0020"
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Apply the change."""
    with op.batch_alter_table("posts") as batch:
        batch.add_column(sa.Column("auto_fit", sa.Boolean(), nullable=False, server_default="0"))
    with op.batch_alter_table("targets") as batch:
        batch.add_column(sa.Column("fit", JSONType))


def downgrade() -> None:
    """Revert the change."""
    with op.batch_alter_table("targets") as batch:
        batch.drop_column("fit")
    with op.batch_alter_table("posts") as batch:
        batch.drop_column("auto_fit")
