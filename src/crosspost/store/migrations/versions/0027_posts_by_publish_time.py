"""posts indexed by (tenant_id, publish_at): the calendar and `scheduled_since`/`until`
read a tenant's posts by when they publish

Revision ID: 0027
Revises: 0026
Create Date: 2026-12-07 20:00:00
"""

from __future__ import annotations

from alembic import op

revision = "0027"
down_revision = "0026"
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Apply the change."""
    op.create_index("ix_posts_tenant_publish_at", "posts", ["tenant_id", "publish_at"])


def downgrade() -> None:
    """Revert the change."""
    op.drop_index("ix_posts_tenant_publish_at", table_name="posts")
