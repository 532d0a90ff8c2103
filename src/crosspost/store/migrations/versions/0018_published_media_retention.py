"""media retention: a tenant may also let the media of finished posts go after N days

Revision ID: 0018
Revises: 0017
Create Date: 2026-12-06 18:10:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0018"
down_revision = "0017"
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Apply the change."""
    with op.batch_alter_table("tenants") as batch:
        batch.add_column(sa.Column("published_media_retention_days", sa.Integer()))


def downgrade() -> None:
    """Revert the change."""
    with op.batch_alter_table("tenants") as batch:
        batch.drop_column("published_media_retention_days")
