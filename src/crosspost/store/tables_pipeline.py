"""The content pipeline's tables (seed 002): pipelines (a Twitch channel and the GitHub
repositories its streams are about), the GitHub activity they received or backfilled, the
webhook deliveries already taken (so a replayed delivery is refused), and content items
(one per clip, as seed 002's ContentItem)."""

from __future__ import annotations

import sqlalchemy as sa

from crosspost.store.schema import JSONType, UTCDateTime, created, metadata, tenant_ref

pipelines = sa.Table(
    "pipelines",
    metadata,
    sa.Column("id", sa.String(40), primary_key=True),
    tenant_ref(),
    sa.Column("name", sa.String(200), nullable=False),
    # The key's mode it was made with: a test pipeline talks to the sandbox's fakes only.
    sa.Column("mode", sa.String(8), nullable=False),
    sa.Column("twitch_login", sa.String(25), nullable=False),
    # ["owner/name", …]: the repositories matched against the channel's clips.
    sa.Column("repositories", JSONType, nullable=False),
    sa.Column("match_window_minutes", sa.Integer(), nullable=False),
    # {"repository", "base_branch", "path"}: where recaps are proposed as pull requests.
    sa.Column("recap", JSONType),
    # A GitHub token (sealed) for backfill and pull requests; never shown again.
    sa.Column("github_token", sa.Text()),
    # The secret GitHub signs this pipeline's webhook deliveries with (sealed).
    sa.Column("webhook_secret", sa.Text(), nullable=False),
    # What backfills read of each GitHub page: {url: {"etag", "next"}}, for conditional
    # requests on the next run.
    sa.Column("github_seen", JSONType, nullable=False),
    # heuristic | llm: which judge scores the pipeline's items.
    sa.Column("judge", sa.String(12), nullable=False, server_default="heuristic"),
    # A Discord execute-webhook URL (sealed: its path holds the webhook's token), told when
    # a recap is generated or proposed.
    sa.Column("discord_webhook_url", sa.Text()),
    # Who connected the channel by OAuth (`{"user_id", "login", "scopes", "connected_at"}`),
    # and their tokens, sealed (`{"access_token", "refresh_token", "expires_at"}`): Twitch
    # gives clip downloads only to the channel's owner or its editors.
    sa.Column("twitch_owner", JSONType),
    sa.Column("twitch_credentials", sa.Text()),
    created(),
    sa.Column("updated_at", UTCDateTime(), nullable=False),
    sa.Index("ix_pipelines_tenant_id_created_at", "tenant_id", "created_at"),
)

# One row per GitHub delivery taken: `X-GitHub-Delivery` is unique per delivery (a
# redelivery keeps it), so a second arrival is a replay.
github_deliveries = sa.Table(
    "github_deliveries",
    metadata,
    sa.Column("pipeline_id", sa.String(40), sa.ForeignKey("pipelines.id"), primary_key=True),
    sa.Column("delivery_id", sa.String(64), primary_key=True),
    tenant_ref(),
    sa.Column("event", sa.String(40), nullable=False),
    sa.Column("received_at", UTCDateTime(), nullable=False),
)

# What happened on GitHub, one row per commit, pull request, issue or release change,
# whether a webhook brought it or a backfill found it (the same thing once, either way).
github_events = sa.Table(
    "github_events",
    metadata,
    sa.Column("id", sa.String(40), primary_key=True),
    tenant_ref(),
    sa.Column("pipeline_id", sa.String(40), sa.ForeignKey("pipelines.id"), nullable=False),
    sa.Column("repository", sa.String(140), nullable=False),
    sa.Column("kind", sa.String(16), nullable=False),  # commit | pull_request | issue | release
    # The commit's sha, or the PR/issue number or release id, as text.
    sa.Column("ref", sa.String(64), nullable=False),
    sa.Column("action", sa.String(32), nullable=False),  # pushed, opened, merged, closed, …
    sa.Column("title", sa.String(500), nullable=False),
    sa.Column("url", sa.String(500), nullable=False),
    sa.Column("author", sa.String(100)),
    sa.Column("occurred_at", UTCDateTime(), nullable=False),
    sa.Column("source", sa.String(12), nullable=False),  # webhook | backfill
    sa.Column("detail", JSONType, nullable=False),
    created(),
    sa.UniqueConstraint(
        "pipeline_id", "repository", "kind", "ref", "action", name="uq_github_events_identity"
    ),
    sa.Index("ix_github_events_pipeline_id_occurred_at", "pipeline_id", "occurred_at"),
)

# Seed 002's ContentItem, one per clip of a pipeline's channel. Its large parts (the
# transcript, the GitHub context) are objects in media storage, kept here by key and size
# with a short summary; every filter and sort of `GET /v1/content-items` has an index.
# The columns content items are listed by (seed 002's sorts).
SORT_COLUMNS = ("clip_created_at", "clip_view_count", "content_score", "clip_duration")

content_items = sa.Table(
    "content_items",
    metadata,
    sa.Column("id", sa.String(40), primary_key=True),
    tenant_ref(),
    sa.Column("pipeline_id", sa.String(40), sa.ForeignKey("pipelines.id"), nullable=False),
    sa.Column("platform", sa.String(12), nullable=False),  # twitch | youtube | unknown
    sa.Column("clip_id", sa.String(120), nullable=False),
    sa.Column("clip_title", sa.String(500), nullable=False),
    sa.Column("clip_url", sa.String(500), nullable=False),
    sa.Column("clip_embed_url", sa.String(500), nullable=False),
    sa.Column("clip_thumbnail_url", sa.String(500), nullable=False),
    sa.Column("clip_duration", sa.Float(), nullable=False),
    sa.Column("clip_view_count", sa.Integer(), nullable=False),
    sa.Column("clip_created_at", UTCDateTime(), nullable=False),
    sa.Column("broadcaster_name", sa.String(100), nullable=False),
    sa.Column("creator_name", sa.String(100), nullable=False),
    sa.Column("processing_status", sa.String(20), nullable=False),
    sa.Column("media_id", sa.String(40), sa.ForeignKey("media.id")),  # the clip's video
    sa.Column("audio_key", sa.String(300)),
    sa.Column("transcript_key", sa.String(300)),
    sa.Column("transcript_summary", sa.Text()),
    sa.Column("transcript_size_bytes", sa.Integer()),
    # transcribed | imported (a WebVTT/SRT file the tenant gave, which a run never replaces)
    sa.Column("transcript_origin", sa.String(12)),
    sa.Column("github_context_key", sa.String(300)),
    sa.Column("github_summary", sa.Text()),
    sa.Column("github_context_size_bytes", sa.Integer()),
    sa.Column("match_confidence", sa.Float()),  # the best GitHub match's, 0 to 1
    sa.Column("content_score", sa.Float()),
    sa.Column("content_tags", JSONType),
    sa.Column("content_category", sa.String(20)),
    # {"judge", "coherence", "correctness", "dev_signal", "confidence", "reasons"}
    sa.Column("judgement", JSONType),
    sa.Column("review", sa.String(10), nullable=False),  # pending | approved | rejected
    sa.Column("error", JSONType),  # {"code", "message", "occurred_at"}
    sa.Column("stored_at", UTCDateTime(), nullable=False),
    sa.Column("enhanced_at", UTCDateTime()),
    sa.Column("content_ready_at", UTCDateTime()),
    sa.Column("updated_at", UTCDateTime(), nullable=False),
    sa.UniqueConstraint("pipeline_id", "clip_id", name="uq_content_items_clip"),
    # One per sort, in the list's own order (ties by id): a page is read off the index, the
    # filters checked as it goes, instead of sorting every row of the tenant.
    *(
        sa.Index(f"ix_content_items_tenant_id_{column}_id", "tenant_id", column, "id")
        for column in SORT_COLUMNS
    ),
    sa.Index("ix_content_items_tenant_id_processing_status", "tenant_id", "processing_status"),
)

# A tenant's own Jinja template of a kind of post, replacing the built-in one.
content_templates = sa.Table(
    "content_templates",
    metadata,
    sa.Column("tenant_id", sa.String(40), sa.ForeignKey("tenants.id"), primary_key=True),
    sa.Column("content_type", sa.String(20), primary_key=True),
    sa.Column("template", sa.Text(), nullable=False),
    sa.Column("updated_at", UTCDateTime(), nullable=False),
)
