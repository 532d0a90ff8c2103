"""post edits: a post's content revision, when a worker started each target, and the
content a target under way keeps when its post is edited

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-06 17:10:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from crosspost.store.tables import JSONType, UTCDateTime

revision = "0014"
down_revision = "0013"
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Apply the change."""
    with op.batch_alter_table("posts") as batch:
        batch.add_column(sa.Column("revision", sa.Integer(), nullable=False, server_default="0"))
    with op.batch_alter_table("targets") as batch:
        batch.add_column(sa.Column("started_at", UTCDateTime()))
        batch.add_column(sa.Column("content", JSONType))


def downgrade() -> None:
    """Revert the change."""
    with op.batch_alter_table("targets") as batch:
        batch.drop_column("content")
        batch.drop_column("started_at")
    with op.batch_alter_table("posts") as batch:
        batch.drop_column("revision")
