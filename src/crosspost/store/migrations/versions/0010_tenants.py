"""tenants, operator keys, per-key quotas, audit log, feature flags

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-06 11:00:00

The single-tenant install upgrades in place: its tenant keeps its id, keys and posts and
becomes `active`; its quotas become the tenant's own (`key_id` '', set by the tenant).
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from crosspost.store.tables import JSONType, UTCDateTime

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Apply the change."""
    with op.batch_alter_table("tenants") as batch:
        batch.add_column(
            sa.Column("status", sa.String(12), nullable=False, server_default="active")
        )
        batch.add_column(sa.Column("suspended_at", UTCDateTime()))
        batch.add_column(sa.Column("deleted_at", UTCDateTime()))
        batch.add_column(sa.Column("purge_after", UTCDateTime()))
        batch.add_column(sa.Column("default_tier", sa.String(16)))
        batch.add_column(sa.Column("webhook_max_endpoints", sa.Integer()))
        batch.add_column(sa.Column("webhook_payload_retention_days", sa.Integer()))
        batch.add_column(sa.Column("analytics_retention_days", sa.Integer()))

    # The key joins the primary key: SQLite rebuilds the table, PostgreSQL swaps the key.
    with op.batch_alter_table("usage_quotas", recreate="always") as batch:
        batch.add_column(sa.Column("key_id", sa.String(40), nullable=False, server_default=""))
        batch.add_column(sa.Column("set_by", sa.String(8), nullable=False, server_default="tenant"))
        batch.drop_constraint("pk_usage_quotas", type_="primary")
        batch.create_primary_key("pk_usage_quotas", ["tenant_id", "key_id", "metric"])

    op.create_table(
        "operator_keys",
        sa.Column("id", sa.String(40), primary_key=True),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("display_prefix", sa.String(24), nullable=False),
        sa.Column("key_hash", sa.String(64), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("last_used_at", UTCDateTime()),
        sa.Column("revoked_at", UTCDateTime()),
        sa.PrimaryKeyConstraint("id", name="pk_operator_keys"),
        sa.UniqueConstraint("key_hash", name="uq_operator_keys_key_hash"),
    )
    op.create_table(
        "audit_events",
        sa.Column("id", sa.String(40), primary_key=True),
        sa.Column("tenant_id", sa.String(40)),
        sa.Column("actor_type", sa.String(16), nullable=False),
        sa.Column("actor_id", sa.String(64)),
        sa.Column("action", sa.String(64), nullable=False),
        sa.Column("target_type", sa.String(32)),
        sa.Column("target_id", sa.String(64)),
        sa.Column("data", JSONType),
        sa.Column("ip", sa.String(64)),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_audit_events"),
    )
    op.create_index("ix_audit_events_tenant_id_id", "audit_events", ["tenant_id", "id"])
    op.create_index(
        "ix_audit_events_tenant_id_action_id", "audit_events", ["tenant_id", "action", "id"]
    )
    op.create_table(
        "feature_flags",
        sa.Column("key", sa.String(100), primary_key=True),
        sa.Column("description", sa.Text(), nullable=False, server_default=""),
        sa.Column("enabled", sa.Boolean(), nullable=False),
        sa.Column("killed", sa.Boolean(), nullable=False, server_default=sa.false()),
        sa.Column("rollout_percent", sa.Integer(), nullable=False),
        sa.Column("allow_tenants", JSONType, nullable=False),
        sa.Column("deny_tenants", JSONType, nullable=False),
        sa.Column("version", sa.BigInteger(), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("updated_at", UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("key", name="pk_feature_flags"),
    )


def downgrade() -> None:
    """Revert the change."""
    op.drop_table("feature_flags")
    op.drop_index("ix_audit_events_tenant_id_action_id", table_name="audit_events")
    op.drop_index("ix_audit_events_tenant_id_id", table_name="audit_events")
    op.drop_table("audit_events")
    op.drop_table("operator_keys")
    op.execute("DELETE FROM usage_quotas WHERE key_id <> ''")
    with op.batch_alter_table("usage_quotas", recreate="always") as batch:
        batch.drop_constraint("pk_usage_quotas", type_="primary")
        batch.create_primary_key("pk_usage_quotas", ["tenant_id", "metric"])
        batch.drop_column("set_by")
        batch.drop_column("key_id")
    with op.batch_alter_table("tenants") as batch:
        for column in (
            "analytics_retention_days",
            "webhook_payload_retention_days",
            "webhook_max_endpoints",
            "default_tier",
            "purge_after",
            "deleted_at",
            "suspended_at",
            "status",
        ):
            batch.drop_column(column)
