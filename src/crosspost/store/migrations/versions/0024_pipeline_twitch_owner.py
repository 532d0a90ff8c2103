"""a pipeline's Twitch channel owner, connected by OAuth: who they are, their tokens
(sealed), and the consent in progress naming the pipeline it is for

Revision ID: 0024
Revises: 0023
Create Date: 2026-12-07 10:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from crosspost.store.schema import JSONType

revision = "0024"
down_revision = "0023"
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Apply the change."""
    with op.batch_alter_table("pipelines") as batch:
        batch.add_column(sa.Column("twitch_owner", JSONType))
        batch.add_column(sa.Column("twitch_credentials", sa.Text()))
    with op.batch_alter_table("oauth_states") as batch:
        batch.add_column(sa.Column("subject_id", sa.String(40)))


def downgrade() -> None:
    """Revert the change."""
    with op.batch_alter_table("oauth_states") as batch:
        batch.drop_column("subject_id")
    with op.batch_alter_table("pipelines") as batch:
        batch.drop_column("twitch_credentials")
        batch.drop_column("twitch_owner")
