"""Music releases' tables (seed 003): a release (single, EP or album) with the metadata
distributors require, and its ordered tracks, each an audio master of the tenant's media
with what was read off it."""

from __future__ import annotations

import sqlalchemy as sa

from crosspost.store.schema import JSONType, UTCDateTime, created, metadata, tenant_ref

releases = sa.Table(
    "releases",
    metadata,
    sa.Column("id", sa.String(40), primary_key=True),
    tenant_ref(),
    sa.Column("mode", sa.String(8), nullable=False),
    sa.Column("type", sa.String(8), nullable=False),  # single | ep | album
    sa.Column("title", sa.String(200), nullable=False),
    sa.Column("version_title", sa.String(200)),
    sa.Column("artists", JSONType, nullable=False),  # [{"name", "role"}]
    sa.Column("label", sa.String(200), nullable=False),
    # A UPC names one product: one release of the tenant holds it.
    sa.Column("upc", sa.String(14), nullable=False),
    sa.Column("genre", sa.String(100), nullable=False),
    sa.Column("sub_genre", sa.String(100)),
    sa.Column("language", sa.String(12), nullable=False),
    sa.Column("p_line", JSONType, nullable=False),  # {"year", "owner"}
    sa.Column("c_line", JSONType, nullable=False),
    sa.Column("original_release_date", sa.Date()),
    sa.Column("digital_release_date", sa.Date()),
    sa.Column("territories", JSONType, nullable=False),  # ["Worldwide"] or ISO codes
    sa.Column("artwork_media_id", sa.String(40), sa.ForeignKey("media.id")),
    created(),
    sa.Column("updated_at", UTCDateTime(), nullable=False),
    sa.UniqueConstraint("tenant_id", "upc", name="uq_releases_tenant_id_upc"),
    sa.Index("ix_releases_tenant_id_id", "tenant_id", "id"),
)

# A release's tracks in order. An ISRC names one recording: one track of the tenant's
# releases holds it (the unique constraint settles two releases stored at once).
release_tracks = sa.Table(
    "release_tracks",
    metadata,
    sa.Column("release_id", sa.String(40), sa.ForeignKey("releases.id"), primary_key=True),
    sa.Column("position", sa.Integer(), primary_key=True),  # 1-based
    tenant_ref(),
    sa.Column("media_id", sa.String(40), sa.ForeignKey("media.id"), nullable=False),
    sa.Column("title", sa.String(200), nullable=False),
    sa.Column("version_title", sa.String(200)),
    sa.Column("isrc", sa.String(12), nullable=False),
    sa.Column("artists", JSONType),  # null: the release's
    sa.Column("contributors", JSONType, nullable=False),
    sa.Column("explicit", sa.Boolean(), nullable=False),
    sa.Column("language", sa.String(12)),  # null: the release's
    sa.Column("preview_start_seconds", sa.Float(), nullable=False),
    sa.Column("lyrics", sa.Text()),
    # What was read off the master when it was checked (media.masters.AudioMaster).
    sa.Column("master", JSONType, nullable=False),
    sa.UniqueConstraint("tenant_id", "isrc", name="uq_release_tracks_tenant_id_isrc"),
    sa.Index("ix_release_tracks_media_id", "media_id"),
)

# A release sent out on one channel ("ddex": stores through the distributor). One row per
# release and channel: a retry is the same distribution's next attempt. `batch_id` is the
# attempt's delivery; set before the first byte goes out, so a worker taking a killed one's
# job over resumes that batch instead of sending a second.
distributions = sa.Table(
    "distributions",
    metadata,
    sa.Column("id", sa.String(40), primary_key=True),
    tenant_ref(),
    sa.Column("release_id", sa.String(40), sa.ForeignKey("releases.id"), nullable=False),
    sa.Column("mode", sa.String(8), nullable=False),
    sa.Column("channel", sa.String(16), nullable=False),
    # pending | uploading | processing | live | failed | taken_down
    sa.Column("status", sa.String(12), nullable=False),
    sa.Column("release_date", sa.Date(), nullable=False),
    sa.Column("action", sa.String(12), nullable=False),  # deliver | takedown
    sa.Column("attempt", sa.Integer(), nullable=False),
    sa.Column("batch_id", sa.String(80)),
    sa.Column("task_id", sa.String(40)),
    sa.Column("error_code", sa.String(40)),
    sa.Column("error_message", sa.Text()),
    # What the channel made of it: for soundcloud {"account_id", "posts": [post ids, in
    # track order], "set": {"id", "url"}}, written before each next step depends on it.
    sa.Column("external", JSONType),
    created(),
    sa.Column("updated_at", UTCDateTime(), nullable=False),
    sa.Column("delivered_at", UTCDateTime()),
    sa.Column("completed_at", UTCDateTime()),
    sa.UniqueConstraint("release_id", "channel", name="uq_distributions_release_id_channel"),
    sa.Index("ix_distributions_tenant_id_id", "tenant_id", "id"),
    sa.Index("ix_distributions_status_completed_at", "status", "completed_at"),
)

# Where a DDEX distribution stands in each store, as the distributor's reports say.
distribution_stores = sa.Table(
    "distribution_stores",
    metadata,
    sa.Column(
        "distribution_id", sa.String(40), sa.ForeignKey("distributions.id"), primary_key=True
    ),
    sa.Column("store", sa.String(40), primary_key=True),
    tenant_ref(),
    sa.Column("status", sa.String(12), nullable=False),  # processing | live | failed | taken_down
    sa.Column("url", sa.Text()),
    sa.Column("reason", sa.Text()),
    sa.Column("updated_at", UTCDateTime(), nullable=False),
)
