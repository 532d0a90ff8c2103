"""The tables of how posts performed: each published target's metrics schedule with its
latest counts, and the time series of every fetch."""

from __future__ import annotations

import sqlalchemy as sa

from crosspost.store.schema import JSONType, UTCDateTime, created, metadata, tenant_ref

# One row per target ever published: written in the transaction that publishes it, then
# kept by the metrics jobs. `state`: pending (no schedule yet), scheduled, finished (the
# schedule ran out), stopped (deleted on the platform, account disconnected; see
# `stop_reason`). The four normalised counts and the extras are the latest fetch's.
target_metrics = sa.Table(
    "target_metrics",
    metadata,
    sa.Column("target_id", sa.String(40), sa.ForeignKey("targets.id"), primary_key=True),
    tenant_ref(),
    sa.Column("post_id", sa.String(40), nullable=False, index=True),
    sa.Column("account_id", sa.String(40), nullable=False),
    sa.Column("platform", sa.String(16), nullable=False),
    sa.Column("published_at", UTCDateTime(), nullable=False),
    sa.Column("state", sa.String(12), nullable=False),
    sa.Column("next_fetch_at", UTCDateTime()),
    sa.Column("fetches", sa.Integer(), nullable=False, server_default="0"),
    sa.Column("last_fetched_at", UTCDateTime()),
    sa.Column("views", sa.BigInteger()),
    sa.Column("likes", sa.BigInteger()),
    sa.Column("comments", sa.BigInteger()),
    sa.Column("shares", sa.BigInteger()),
    sa.Column("extra", JSONType),
    # The fetch that is due failed this many times in a row; why, the last time.
    sa.Column("failures", sa.Integer(), nullable=False, server_default="0"),
    sa.Column("error_kind", sa.String(16)),
    sa.Column("error_code", sa.String(100)),
    sa.Column("error_message", sa.Text()),
    sa.Column("stop_reason", sa.String(40)),
    created(),
    sa.Column("updated_at", UTCDateTime(), nullable=False),
    sa.Index("ix_target_metrics_state_next_fetch_at", "state", "next_fetch_at"),
    sa.Index("ix_target_metrics_tenant_id_published_at", "tenant_id", "published_at"),
)

# Every successful fetch: the counts a platform reported at `fetched_at`.
metric_samples = sa.Table(
    "metric_samples",
    metadata,
    sa.Column("id", sa.String(40), primary_key=True),
    tenant_ref(),
    sa.Column("target_id", sa.String(40), sa.ForeignKey("targets.id"), nullable=False),
    sa.Column("fetched_at", UTCDateTime(), nullable=False),
    sa.Column("views", sa.BigInteger()),
    sa.Column("likes", sa.BigInteger()),
    sa.Column("comments", sa.BigInteger()),
    sa.Column("shares", sa.BigInteger()),
    sa.Column("extra", JSONType),
    sa.Index("ix_metric_samples_target_id_fetched_at", "target_id", "fetched_at"),
)
