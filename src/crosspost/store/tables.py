"""SQLAlchemy Core tables: the single definition of the schema (Alembic migrations follow
it). The tables of who acts are in `tables_identity`, those of how posts performed in
`tables_metrics`, the clip studio's in `tables_studio`, the content pipeline's in
`tables_pipeline`, music releases' in `tables_music`; all register on one `metadata`."""

from __future__ import annotations

import sqlalchemy as sa

# Imported for their tables: `metadata` then holds the whole schema whoever imports it here.
from crosspost.store import (  # noqa: F401
    tables_identity,
    tables_metrics,
    tables_music,
    tables_pipeline,
    tables_studio,
)
from crosspost.store.schema import (
    JSONType,
    UTCDateTime,
    created,
    max_length,
    metadata,
    pk_id,
    tenant_ref,
)

__all__ = ["JSONType", "UTCDateTime", "max_length", "metadata"]

tenants = sa.Table(
    "tenants",
    metadata,
    pk_id(),
    sa.Column("name", sa.String(200), nullable=False),
    sa.Column("is_default", sa.Boolean(), nullable=False, default=False),
    created(),
    # Every API key of the tenant must sign its requests (HMAC, X-Signature).
    sa.Column("require_signing", sa.Boolean(), nullable=False, server_default=sa.false()),
    # active | suspended | deleted (soft: restorable until purge_after) | purged (a tombstone
    # that keeps the purge's ledger entry).
    sa.Column("status", sa.String(12), nullable=False, server_default="active"),
    sa.Column("suspended_at", UTCDateTime()),
    sa.Column("deleted_at", UTCDateTime()),
    sa.Column("purge_after", UTCDateTime()),
    # Per-tenant settings; None = the server's setting of the same name.
    sa.Column("default_tier", sa.String(16)),
    sa.Column("webhook_max_endpoints", sa.Integer()),
    sa.Column("webhook_payload_retention_days", sa.Integer()),
    sa.Column("analytics_retention_days", sa.Integer()),
    sa.Column("media_retention_days", sa.Integer()),
    sa.Column("published_media_retention_days", sa.Integer()),
)

# Feature flags: on/off, a deterministic rollout percentage, tenant allow- and deny-lists
# and a kill switch that overrides everything. `version` grows on every change, so caches
# in every process can tell when to reload.
feature_flags = sa.Table(
    "feature_flags",
    metadata,
    sa.Column("key", sa.String(100), primary_key=True),
    sa.Column("description", sa.Text(), nullable=False, server_default=""),
    sa.Column("enabled", sa.Boolean(), nullable=False),
    sa.Column("killed", sa.Boolean(), nullable=False, server_default=sa.false()),
    sa.Column("rollout_percent", sa.Integer(), nullable=False),
    sa.Column("allow_tenants", JSONType, nullable=False),
    sa.Column("deny_tenants", JSONType, nullable=False),
    sa.Column("version", sa.BigInteger(), nullable=False),
    created(),
    sa.Column("updated_at", UTCDateTime(), nullable=False),
)

api_keys = sa.Table(
    "api_keys",
    metadata,
    pk_id(),
    tenant_ref(),
    sa.Column("name", sa.String(200), nullable=False),
    sa.Column("mode", sa.String(8), nullable=False),
    sa.Column("display_prefix", sa.String(24), nullable=False),
    sa.Column("key_hash", sa.String(64), nullable=False, unique=True),
    sa.Column("scopes", JSONType, nullable=False),
    created(),
    sa.Column("last_used_at", UTCDateTime()),
    sa.Column("expires_at", UTCDateTime()),
    sa.Column("revoked_at", UTCDateTime()),
    # owner | admin | developer | viewer; None when the key was given explicit scopes.
    sa.Column("role", sa.String(16)),
    # Rate-limit tier (free | pro | enterprise); None = not rate limited.
    sa.Column("tier", sa.String(16)),
    # Per-key override of the tier: {requests_per_hour, requests_per_day, burst}.
    sa.Column("rate_limits", JSONType),
    # Set when the key was rolled: the key that replaces it (this one expires after overlap).
    sa.Column("rolled_to", sa.String(40)),
)

# HMAC request-signing secrets of an API key, sealed in the vault (they cannot be hashed:
# the server recomputes the signature). A rotated secret keeps working until `expires_at`.
signing_secrets = sa.Table(
    "signing_secrets",
    metadata,
    pk_id(),
    tenant_ref(),
    sa.Column("key_id", sa.String(40), sa.ForeignKey("api_keys.id"), nullable=False),
    sa.Column("secret", sa.Text(), nullable=False),
    created(),
    sa.Column("expires_at", UTCDateTime()),
    sa.Index("ix_signing_secrets_key_id", "key_id"),
)

# Nonces of signed requests seen recently (when no Redis is configured): one row per
# (key, nonce), kept at least twice the allowed clock skew.
request_nonces = sa.Table(
    "request_nonces",
    metadata,
    sa.Column("key_id", sa.String(40), primary_key=True),
    sa.Column("nonce", sa.String(128), primary_key=True),
    sa.Column("expires_at", UTCDateTime(), nullable=False),
    sa.Index("ix_request_nonces_expires_at", "expires_at"),
)

# Metered usage per tenant, key ('' for the tenant as a whole) and calendar month (UTC).
usage_counters = sa.Table(
    "usage_counters",
    metadata,
    sa.Column("tenant_id", sa.String(40), sa.ForeignKey("tenants.id"), primary_key=True),
    sa.Column("key_id", sa.String(40), primary_key=True),
    sa.Column("period", sa.String(7), primary_key=True),
    sa.Column("metric", sa.String(32), primary_key=True),
    sa.Column("value", sa.BigInteger(), nullable=False),
)

# Monthly quotas per tenant (key_id '') or per API key, and metric; `warned_period` records
# the month whose soft-limit warning was already sent, so it is sent once. `set_by`: a quota
# the operator set (`operator`) cannot be changed by the tenant's own keys.
usage_quotas = sa.Table(
    "usage_quotas",
    metadata,
    sa.Column("tenant_id", sa.String(40), sa.ForeignKey("tenants.id"), primary_key=True),
    sa.Column("key_id", sa.String(40), primary_key=True, server_default=""),
    sa.Column("metric", sa.String(32), primary_key=True),
    sa.Column("set_by", sa.String(8), nullable=False, server_default="tenant"),
    sa.Column("soft_limit", sa.BigInteger()),
    sa.Column("hard_limit", sa.BigInteger()),
    sa.Column("warned_period", sa.String(7)),
)

# One row per API request, written in batches off the request path.
api_analytics = sa.Table(
    "api_analytics",
    metadata,
    sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), primary_key=True),
    sa.Column("tenant_id", sa.String(40)),
    sa.Column("key_id", sa.String(40)),
    sa.Column("endpoint", sa.String(200), nullable=False),
    sa.Column("method", sa.String(8), nullable=False),
    sa.Column("status", sa.Integer(), nullable=False),
    sa.Column("latency_ms", sa.Float(), nullable=False),
    sa.Column("request_bytes", sa.BigInteger(), nullable=False),
    sa.Column("response_bytes", sa.BigInteger(), nullable=False),
    created(),
    sa.Index("ix_api_analytics_tenant_id_created_at", "tenant_id", "created_at"),
)

media = sa.Table(
    "media",
    metadata,
    pk_id(),
    tenant_ref(),
    # What probing found; None until a fetched item is `ready`.
    sa.Column("kind", sa.String(8)),
    sa.Column("filename", sa.String(255), nullable=False),
    sa.Column("content_type", sa.String(100)),
    sa.Column("size_bytes", sa.BigInteger()),
    sa.Column("sha256", sa.String(64)),
    sa.Column("storage_key", sa.String(255)),
    sa.Column("container", sa.String(64)),
    sa.Column("duration_seconds", sa.Float()),
    sa.Column("width", sa.Integer()),
    sa.Column("height", sa.Integer()),
    sa.Column("video_codec", sa.String(32)),
    sa.Column("audio_codec", sa.String(32)),
    sa.Column("frame_rate", sa.Float()),
    created(),
    # Deleted by the tenant: the file is gone, the row stays for the posts that name it.
    sa.Column("deleted_at", UTCDateTime()),
    # fetching (a `media.fetch.v1` job is downloading `source_url`) | ready | failed.
    sa.Column("status", sa.String(12), nullable=False, server_default="ready"),
    sa.Column("source_url", sa.Text()),
    sa.Column("fetched_bytes", sa.BigInteger()),
    sa.Column("fetch_total_bytes", sa.BigInteger()),  # the source's Content-Length
    sa.Column("error_code", sa.String(40)),
    sa.Column("error_message", sa.Text()),
    sa.Index("ix_media_tenant_id_id", "tenant_id", "id"),
)

# tus 1.0 resumable uploads: the bytes received so far sit in the media storage's staging
# area; `upload_offset` is the truth (bytes past it in the staged file are overwritten).
# The last byte turns the upload into a media item (`media_id`).
tus_uploads = sa.Table(
    "tus_uploads",
    metadata,
    pk_id(),
    tenant_ref(),
    sa.Column("key_id", sa.String(40), nullable=False),  # metered on completion
    sa.Column("upload_length", sa.BigInteger(), nullable=False),
    sa.Column("upload_offset", sa.BigInteger(), nullable=False, server_default="0"),
    sa.Column("upload_metadata", JSONType, nullable=False),
    sa.Column("filename", sa.String(255)),
    sa.Column("filetype", sa.String(100)),
    # receiving | complete | failed
    sa.Column("status", sa.String(12), nullable=False),
    sa.Column("media_id", sa.String(40)),
    sa.Column("error_code", sa.String(40)),
    sa.Column("error_message", sa.Text()),
    # One PATCH at a time: its token, and when its lease runs out (a process that died).
    sa.Column("lock_token", sa.String(32)),
    sa.Column("locked_until", UTCDateTime()),
    created(),
    sa.Column("updated_at", UTCDateTime(), nullable=False),
    sa.Column("expires_at", UTCDateTime(), nullable=False),
    sa.Index("ix_tus_uploads_tenant_id_id", "tenant_id", "id"),
    sa.Index("ix_tus_uploads_expires_at", "expires_at"),
)

# Direct uploads: the client PUTs the file straight to the store (a presigned URL on S3, a
# signed URL crosspost serves on local disk) under the key of the media item it will become
# (`media_id`, chosen up front); `complete` probes it and writes the media row. Never
# completed, the row and its object go once `expires_at` is well past.
direct_uploads = sa.Table(
    "direct_uploads",
    metadata,
    pk_id(),
    tenant_ref(),
    sa.Column("key_id", sa.String(40), nullable=False),  # metered on completion
    sa.Column("filename", sa.String(255), nullable=False),
    sa.Column("content_type", sa.String(100), nullable=False),
    sa.Column("size_bytes", sa.BigInteger(), nullable=False),
    sa.Column("sha256", sa.String(64)),  # declared by the client; the store checks the PUT
    sa.Column("media_id", sa.String(40), nullable=False),
    # pending | complete | failed
    sa.Column("status", sa.String(12), nullable=False),
    sa.Column("error_code", sa.String(40)),
    sa.Column("error_message", sa.Text()),
    created(),
    sa.Column("updated_at", UTCDateTime(), nullable=False),
    sa.Column("expires_at", UTCDateTime(), nullable=False),  # when the upload URL stops working
    sa.Index("ix_direct_uploads_tenant_id_id", "tenant_id", "id"),
    sa.Index("ix_direct_uploads_expires_at", "expires_at"),
)

social_accounts = sa.Table(
    "social_accounts",
    metadata,
    pk_id(),
    tenant_ref(),
    sa.Column("platform", sa.String(16), nullable=False),
    sa.Column("mode", sa.String(8), nullable=False),
    sa.Column("handle", sa.String(200), nullable=False),
    sa.Column("external_id", sa.String(200), nullable=False),
    sa.Column("role", sa.String(16), nullable=False),
    sa.Column("parent_id", sa.String(40), sa.ForeignKey("social_accounts.id")),
    sa.Column("status", sa.String(16), nullable=False),
    sa.Column("credentials", sa.Text()),  # vault envelope; never plaintext
    sa.Column("token_expires_at", UTCDateTime()),
    sa.Column("scopes", JSONType, nullable=False),
    sa.Column("last_published_at", UTCDateTime()),
    sa.Column("last_error", sa.Text()),
    # Single-flight token refresh: the worker holding this lease is the only one calling the
    # platform's token endpoint for the account; the others wait for its result.
    sa.Column("refresh_locked_until", UTCDateTime()),
    sa.Column("refresh_locked_by", sa.String(64)),
    created(),
    sa.Column("updated_at", UTCDateTime(), nullable=False),
    sa.UniqueConstraint("tenant_id", "platform", "mode", "external_id"),
)

posts = sa.Table(
    "posts",
    metadata,
    pk_id(),
    tenant_ref(),
    sa.Column("media_id", sa.String(40), sa.ForeignKey("media.id")),
    sa.Column("text", sa.Text(), nullable=False),
    sa.Column("overrides", JSONType, nullable=False),
    sa.Column("publish_at", UTCDateTime()),
    sa.Column("timezone", sa.String(64)),
    sa.Column("status", sa.String(24), nullable=False),
    sa.Column("mode", sa.String(8), nullable=False),
    created(),
    sa.Column("updated_at", UTCDateTime(), nullable=False),
    # A post of several media (a carousel): every item in order; media_id is the first.
    sa.Column("media_ids", JSONType),
    # Bumped by every edit; a worker starts a target only on the revision it loaded.
    sa.Column("revision", sa.Integer(), nullable=False, server_default="0"),
    # Render a conforming variant for a target whose platform the video does not fit.
    sa.Column("auto_fit", sa.Boolean(), nullable=False, server_default="0"),
    sa.Index("ix_posts_tenant_status_id", "tenant_id", "status", "id"),
    sa.Index("ix_posts_tenant_publish_at", "tenant_id", "publish_at"),
)

targets = sa.Table(
    "targets",
    metadata,
    pk_id(),
    tenant_ref(),
    sa.Column("post_id", sa.String(40), sa.ForeignKey("posts.id"), nullable=False, index=True),
    sa.Column("account_id", sa.String(40), sa.ForeignKey("social_accounts.id"), nullable=False),
    sa.Column("platform", sa.String(16), nullable=False),
    sa.Column("status", sa.String(16), nullable=False),
    sa.Column("attempts", sa.Integer(), nullable=False, default=0),
    sa.Column("transient_errors", sa.Integer(), nullable=False, default=0),
    sa.Column("next_attempt_at", UTCDateTime()),
    sa.Column("external_id", sa.String(200)),
    sa.Column("external_url", sa.String(500)),
    # Persisted upload/publish progress: session URL, confirmed offset, platform ids.
    sa.Column("session", JSONType, nullable=False),
    sa.Column("error_kind", sa.String(16)),
    sa.Column("error_code", sa.String(100)),
    sa.Column("error_message", sa.Text()),
    sa.Column("error_raw", JSONType),
    created(),
    sa.Column("updated_at", UTCDateTime(), nullable=False),
    sa.Column("published_at", UTCDateTime()),
    # Set when a worker first starts the target: from then on an edit leaves it alone.
    sa.Column("started_at", UTCDateTime()),
    # The post's text and overrides as they were when an edit found this target under way.
    sa.Column("content", JSONType),
    # auto_fit's variant for this platform: its shape, why, where it stands, its media id.
    sa.Column("fit", JSONType),
    sa.Index("ix_targets_account_status", "account_id", "status"),
    sa.Index("ix_targets_tenant_id_status_id", "tenant_id", "status", "id"),
)

ledger_events = sa.Table(
    "ledger_events",
    metadata,
    pk_id(),
    tenant_ref(),
    sa.Column("post_id", sa.String(40), index=True),
    sa.Column("target_id", sa.String(40)),
    sa.Column("account_id", sa.String(40)),
    # A release's distribution (seed 003): each of its steps is recorded here too.
    sa.Column("distribution_id", sa.String(40), index=True),
    sa.Column("event_type", sa.String(64), nullable=False),
    sa.Column("data", JSONType, nullable=False),
    created(),
)

idempotency_keys = sa.Table(
    "idempotency_keys",
    metadata,
    sa.Column("tenant_id", sa.String(40), primary_key=True),
    sa.Column("key", sa.String(255), primary_key=True),
    sa.Column("method", sa.String(8), nullable=False),
    sa.Column("path", sa.String(500), nullable=False),
    sa.Column("fingerprint", sa.String(64), nullable=False),
    sa.Column("response_status", sa.Integer()),
    sa.Column("response_body", sa.LargeBinary()),
    created(),
    sa.Column("completed_at", UTCDateTime()),
)

jobs = sa.Table(
    "jobs",
    metadata,
    sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), primary_key=True),
    sa.Column("kind", sa.String(64), nullable=False),
    sa.Column("payload", JSONType, nullable=False),
    sa.Column("status", sa.String(12), nullable=False),  # queued | running | dead
    sa.Column("run_at", UTCDateTime(), nullable=False),
    # Incremented on every claim; a worker may write only while it still holds this number.
    sa.Column("attempts", sa.Integer(), nullable=False, default=0),
    sa.Column("errors", sa.Integer(), nullable=False, default=0),
    sa.Column("lease_until", UTCDateTime()),
    sa.Column("locked_by", sa.String(64)),
    sa.Column("last_error", sa.Text()),
    sa.Column("dedupe_key", sa.String(200), unique=True),
    created(),
    sa.Column("updated_at", UTCDateTime(), nullable=False),
    sa.Index("ix_jobs_status_run_at", "status", "run_at"),
    # Ids are half of the fencing token (id, attempts): SQLite must never reuse a deleted
    # job's id, or a stale worker's (id, attempts) could match a new job.
    sqlite_autoincrement=True,
)

# Pacing of platform calls shared by every worker: one row per budget (platform, scope,
# bucket) holding the [epoch time, cost] of each call made in its current window (a sliding
# log: exact, and small, since platform limits are tens or hundreds of calls per window).
pacing = sa.Table(
    "pacing",
    metadata,
    sa.Column("key", sa.String(200), primary_key=True),
    sa.Column("calls", JSONType, nullable=False),
    # Until when (epoch seconds) the budget was last reported exhausted: one event per run-out.
    sa.Column("exhausted_until", sa.Float()),
)

# OAuth connections in progress: the state is stored only as a keyed hash (a leaked row
# cannot complete anyone's consent) and the PKCE verifier only sealed in the vault.
oauth_states = sa.Table(
    "oauth_states",
    metadata,
    sa.Column("state_hash", sa.String(64), primary_key=True),
    tenant_ref(),
    sa.Column("mode", sa.String(8), nullable=False),
    # The platform, or "twitch" for a pipeline's channel owner (`subject_id` the pipeline).
    sa.Column("platform", sa.String(16), nullable=False),
    sa.Column("subject_id", sa.String(40)),
    sa.Column("verifier", sa.Text(), nullable=False),
    sa.Column("return_to", sa.Text()),
    created(),
    sa.Column("expires_at", UTCDateTime(), nullable=False),
    sa.Column("used_at", UTCDateTime()),
)


# Outgoing webhooks. An endpoint receives the events its filter matches, signed with its
# secret (sealed); after a rotation the previous secret also signs until it expires.
webhook_endpoints = sa.Table(
    "webhook_endpoints",
    metadata,
    pk_id(),
    tenant_ref(),
    sa.Column("mode", sa.String(8), nullable=False),
    sa.Column("url", sa.Text(), nullable=False),
    sa.Column("description", sa.String(500), nullable=False, server_default=""),
    # Exact names and wildcards (`post.*`); empty = every event.
    sa.Column("event_types", JSONType, nullable=False),
    # Custom headers often carry the receiver's credentials: `headers` keeps only their
    # masked form (what the API shows) and `sealed_headers` the real ones, sealed as JSON.
    sa.Column("headers", JSONType, nullable=False),
    sa.Column("sealed_headers", sa.Text()),
    sa.Column("active", sa.Boolean(), nullable=False, server_default=sa.true()),
    sa.Column("disabled_reason", sa.Text()),
    sa.Column("throttle_per_second", sa.Integer()),
    sa.Column("max_concurrency", sa.Integer(), nullable=False, server_default="16"),
    sa.Column("secret", sa.Text(), nullable=False),
    sa.Column("previous_secret", sa.Text()),
    sa.Column("previous_expires_at", UTCDateTime()),
    # The current failing streak: when it began and how many attempts it holds.
    sa.Column("failing_since", UTCDateTime()),
    sa.Column("consecutive_failures", sa.Integer(), nullable=False, server_default="0"),
    created(),
    sa.Column("updated_at", UTCDateTime(), nullable=False),
    sa.Index("ix_webhook_endpoints_tenant_id_mode", "tenant_id", "mode"),
)

# The outbox: one row per event, written in the transaction of the change that causes it.
# `payload` is the exact body sent (signatures cover these bytes); `fanned_out` turns true
# once a delivery row exists for every endpoint the event matched.
webhook_events = sa.Table(
    "webhook_events",
    metadata,
    pk_id(),
    tenant_ref(),
    sa.Column("mode", sa.String(8), nullable=False),
    sa.Column("event_type", sa.String(64), nullable=False),
    sa.Column("payload", sa.Text()),
    sa.Column("payload_expired", sa.Boolean(), nullable=False, server_default=sa.false()),
    sa.Column("fanned_out", sa.Boolean(), nullable=False, server_default=sa.false()),
    created(),
    # The feed's order, given at fan-out by one writer at a time: commit order, so a reader
    # past `seq` n has seen every event below it (0009). Null until fanned out.
    sa.Column("seq", sa.BigInteger()),
    # The post a post.* or target.* event is about, to follow one post.
    sa.Column("post_id", sa.String(40)),
    sa.Index("ix_webhook_events_fanned_out_created_at", "fanned_out", "created_at"),
    sa.Index("ix_webhook_events_tenant_id_created_at", "tenant_id", "created_at"),
    sa.Index("ix_webhook_events_seq", "seq", unique=True),
    sa.Index("ix_webhook_events_tenant_id_mode_seq", "tenant_id", "mode", "seq"),
    sa.Index("ix_webhook_events_post_id_seq", "post_id", "seq"),
)

# One row per (event, endpoint): the delivery queue. `pending` rows are due at
# `next_attempt_at`; a claimed row is `sending` until `lease_until`.
webhook_deliveries = sa.Table(
    "webhook_deliveries",
    metadata,
    pk_id(),
    tenant_ref(),
    sa.Column("event_id", sa.String(40), sa.ForeignKey("webhook_events.id"), nullable=False),
    sa.Column("endpoint_id", sa.String(40), sa.ForeignKey("webhook_endpoints.id"), nullable=False),
    sa.Column("status", sa.String(12), nullable=False),  # pending|sending|succeeded|failed
    sa.Column("attempts", sa.Integer(), nullable=False, server_default="0"),
    sa.Column("next_attempt_at", UTCDateTime(), nullable=False),
    sa.Column("lease_until", UTCDateTime()),
    sa.Column("last_status_code", sa.Integer()),
    sa.Column("last_error", sa.Text()),
    created(),
    sa.Column("updated_at", UTCDateTime(), nullable=False),
    sa.Column("completed_at", UTCDateTime()),
    sa.UniqueConstraint("event_id", "endpoint_id"),
    sa.Index("ix_webhook_deliveries_status_next_attempt_at", "status", "next_attempt_at"),
    sa.Index("ix_webhook_deliveries_endpoint_id_created_at", "endpoint_id", "created_at"),
)

# Every attempt, kept for inspection: status, latency, response headers and the first
# 4 KiB of the body, or the error that stood in for a response.
webhook_attempts = sa.Table(
    "webhook_attempts",
    metadata,
    sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), primary_key=True),
    sa.Column("tenant_id", sa.String(40), nullable=False),
    sa.Column("delivery_id", sa.String(40), nullable=False),
    sa.Column("event_id", sa.String(40), nullable=False),
    sa.Column("endpoint_id", sa.String(40), nullable=False),
    sa.Column("attempt", sa.Integer(), nullable=False),
    sa.Column("trigger", sa.String(12), nullable=False),  # scheduled | manual | test
    sa.Column("status_code", sa.Integer()),
    sa.Column("latency_ms", sa.Float(), nullable=False),
    sa.Column("response_headers", JSONType),
    sa.Column("response_body", sa.Text()),
    sa.Column("error", sa.Text()),
    created(),
    sa.Index("ix_webhook_attempts_delivery_id", "delivery_id"),
    sa.Index("ix_webhook_attempts_event_id", "event_id"),
)

# Exports of a tenant's history (posts with their targets, or the ledger) to a file in
# media storage, built by an `export.v1` job; `data_export.ready` tells the tenant it is done.
exports = sa.Table(
    "exports",
    metadata,
    pk_id(),
    tenant_ref(),
    sa.Column("mode", sa.String(8), nullable=False),
    sa.Column("kind", sa.String(16), nullable=False),  # posts | ledger | audit
    sa.Column("format", sa.String(8), nullable=False),  # jsonl | csv
    # The half-open range [since, until) of creation times the export covers.
    sa.Column("since", UTCDateTime()),
    sa.Column("until", UTCDateTime(), nullable=False),
    # queued | running | ready | failed | expired
    sa.Column("status", sa.String(12), nullable=False),
    sa.Column("rows_total", sa.Integer()),
    sa.Column("rows_done", sa.Integer(), nullable=False, server_default="0"),
    sa.Column("bytes", sa.BigInteger()),
    sa.Column("sha256", sa.String(64)),
    sa.Column("storage_key", sa.String(200)),
    sa.Column("error", sa.Text()),
    created(),
    sa.Column("updated_at", UTCDateTime(), nullable=False),
    sa.Column("completed_at", UTCDateTime()),
    sa.Column("expires_at", UTCDateTime()),
    sa.Index("ix_exports_tenant_id_id", "tenant_id", "id"),
    sa.Index("ix_exports_status_expires_at", "status", "expires_at"),
)
