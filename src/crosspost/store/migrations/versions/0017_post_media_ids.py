"""carousels: the media of a post of several media, in order (`media_id` keeps the first)

Revision ID: 0017
Revises: 0016
Create Date: 2026-12-06 18:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from crosspost.store.tables import JSONType

revision = "0017"
down_revision = "0016"
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Apply the change."""
    with op.batch_alter_table("posts") as batch:
        batch.add_column(sa.Column("media_ids", JSONType))


def downgrade() -> None:
    """Revert the change."""
    with op.batch_alter_table("posts") as batch:
        batch.drop_column("media_ids")
