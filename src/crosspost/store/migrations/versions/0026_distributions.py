"""distributions (seed 003): a release sent out on a channel, one row per release and
channel with its attempt's batch, and where it stands in each store; tasks indexed by kind
for the metrics that read one kind's latest; the ledger records each distribution's steps

Revision ID: 0026
Revises: 0025
Create Date: 2026-12-07 11:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from crosspost.store.schema import JSONType, UTCDateTime

revision = "0026"
down_revision = "0025"
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Apply the change."""
    op.create_table(
        "distributions",
        sa.Column("id", sa.String(40), primary_key=True),
        sa.Column("tenant_id", sa.String(40), sa.ForeignKey("tenants.id"), nullable=False),
        sa.Column("release_id", sa.String(40), sa.ForeignKey("releases.id"), nullable=False),
        sa.Column("mode", sa.String(8), nullable=False),
        sa.Column("channel", sa.String(16), nullable=False),
        sa.Column("status", sa.String(12), nullable=False),
        sa.Column("release_date", sa.Date(), nullable=False),
        sa.Column("action", sa.String(12), nullable=False),
        sa.Column("attempt", sa.Integer(), nullable=False),
        sa.Column("batch_id", sa.String(80)),
        sa.Column("task_id", sa.String(40)),
        sa.Column("error_code", sa.String(40)),
        sa.Column("error_message", sa.Text()),
        sa.Column("external", JSONType),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("updated_at", UTCDateTime(), nullable=False),
        sa.Column("delivered_at", UTCDateTime()),
        sa.Column("completed_at", UTCDateTime()),
        sa.UniqueConstraint("release_id", "channel", name="uq_distributions_release_id_channel"),
    )
    op.create_index("ix_distributions_tenant_id_id", "distributions", ["tenant_id", "id"])
    op.create_index(
        "ix_distributions_status_completed_at", "distributions", ["status", "completed_at"]
    )
    op.create_index("ix_tasks_kind_status_finished_at", "tasks", ["kind", "status", "finished_at"])
    with op.batch_alter_table("ledger_events") as batch:
        batch.add_column(sa.Column("distribution_id", sa.String(40)))
    op.create_index("ix_ledger_events_distribution_id", "ledger_events", ["distribution_id"])
    op.create_table(
        "distribution_stores",
        sa.Column(
            "distribution_id",
            sa.String(40),
            sa.ForeignKey("distributions.id"),
            primary_key=True,
        ),
        sa.Column("store", sa.String(40), primary_key=True),
        sa.Column("tenant_id", sa.String(40), sa.ForeignKey("tenants.id"), nullable=False),
        sa.Column("status", sa.String(12), nullable=False),
        sa.Column("url", sa.Text()),
        sa.Column("reason", sa.Text()),
        sa.Column("updated_at", UTCDateTime(), nullable=False),
    )


def downgrade() -> None:
    """Revert the change."""
    op.drop_index("ix_ledger_events_distribution_id", table_name="ledger_events")
    with op.batch_alter_table("ledger_events") as batch:
        batch.drop_column("distribution_id")
    op.drop_index("ix_tasks_kind_status_finished_at", table_name="tasks")
    op.drop_table("distribution_stores")
    op.drop_index("ix_distributions_status_completed_at", table_name="distributions")
    op.drop_index("ix_distributions_tenant_id_id", table_name="distributions")
    op.drop_table("distributions")
