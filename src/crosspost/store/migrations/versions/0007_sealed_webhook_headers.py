"""sealed webhook headers

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-30 02:30:00

Custom headers move to `sealed_headers` (sealed by the vault); `headers` keeps their masked
form. Sealing needs the master key, which migrations never see: rows written before this
revision are sealed by `crosspost.webhooks.endpoints.seal_plain_headers`, which runs right
after every upgrade.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Apply the change."""
    with op.batch_alter_table("webhook_endpoints") as batch:
        batch.add_column(sa.Column("sealed_headers", sa.Text(), nullable=True))


def downgrade() -> None:
    """Revert the change."""
    with op.batch_alter_table("webhook_endpoints") as batch:
        batch.drop_column("sealed_headers")
