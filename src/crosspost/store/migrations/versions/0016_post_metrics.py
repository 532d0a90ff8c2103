"""post metrics: each published target's metrics schedule and latest counts, and the time
series of its fetches. Targets already published are given a schedule (the planner starts
it from now, within the days it covers).

Revision ID: 0016
Revises: 0015
Create Date: 2026-12-07 18:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from crosspost.store.tables import JSONType, UTCDateTime

revision = "0016"
down_revision = "0015"
branch_labels = None
depends_on = None

_COUNTS = ("views", "likes", "comments", "shares")


def upgrade() -> None:
    """Apply the change."""
    op.create_table(
        "target_metrics",
        sa.Column("target_id", sa.String(40), sa.ForeignKey("targets.id"), primary_key=True),
        sa.Column("tenant_id", sa.String(40), sa.ForeignKey("tenants.id"), nullable=False),
        sa.Column("post_id", sa.String(40), nullable=False),
        sa.Column("account_id", sa.String(40), nullable=False),
        sa.Column("platform", sa.String(16), nullable=False),
        sa.Column("published_at", UTCDateTime(), nullable=False),
        sa.Column("state", sa.String(12), nullable=False),
        sa.Column("next_fetch_at", UTCDateTime()),
        sa.Column("fetches", sa.Integer(), nullable=False, server_default="0"),
        sa.Column("last_fetched_at", UTCDateTime()),
        *(sa.Column(name, sa.BigInteger()) for name in _COUNTS),
        sa.Column("extra", JSONType),
        sa.Column("failures", sa.Integer(), nullable=False, server_default="0"),
        sa.Column("error_kind", sa.String(16)),
        sa.Column("error_code", sa.String(100)),
        sa.Column("error_message", sa.Text()),
        sa.Column("stop_reason", sa.String(40)),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("updated_at", UTCDateTime(), nullable=False),
    )
    op.create_index("ix_target_metrics_post_id", "target_metrics", ["post_id"])
    op.create_index(
        "ix_target_metrics_state_next_fetch_at", "target_metrics", ["state", "next_fetch_at"]
    )
    op.create_index(
        "ix_target_metrics_tenant_id_published_at", "target_metrics", ["tenant_id", "published_at"]
    )
    op.create_table(
        "metric_samples",
        sa.Column("id", sa.String(40), primary_key=True),
        sa.Column("tenant_id", sa.String(40), sa.ForeignKey("tenants.id"), nullable=False),
        sa.Column("target_id", sa.String(40), sa.ForeignKey("targets.id"), nullable=False),
        sa.Column("fetched_at", UTCDateTime(), nullable=False),
        *(sa.Column(name, sa.BigInteger()) for name in _COUNTS),
        sa.Column("extra", JSONType),
    )
    op.create_index(
        "ix_metric_samples_target_id_fetched_at", "metric_samples", ["target_id", "fetched_at"]
    )
    names = ("id", "tenant_id", "post_id", "account_id", "platform", "status",
             "published_at", "updated_at")  # fmt: skip
    targets = sa.table("targets", *map(sa.column, names))
    published = sa.select(
        targets.c.id, targets.c.tenant_id, targets.c.post_id, targets.c.account_id,
        targets.c.platform, targets.c.published_at, sa.literal("pending"),
        targets.c.updated_at, targets.c.updated_at,
    ).where(targets.c.status == "published", targets.c.published_at.is_not(None))  # fmt: skip
    columns = ["target_id", "tenant_id", "post_id", "account_id", "platform", "published_at",
               "state", "created_at", "updated_at"]  # fmt: skip
    into = sa.table("target_metrics", *map(sa.column, columns))
    op.execute(into.insert().from_select(columns, published))


def downgrade() -> None:
    """Revert the change."""
    op.drop_index("ix_metric_samples_target_id_fetched_at", "metric_samples")
    op.drop_table("metric_samples")
    for index in ("tenant_id_published_at", "state_next_fetch_at", "post_id"):
        op.drop_index(f"ix_target_metrics_{index}", "target_metrics")
    op.drop_table("target_metrics")
