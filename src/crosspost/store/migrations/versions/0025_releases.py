"""music releases (seed 003): releases with the metadata distributors require, and their
ordered tracks, each an audio master with what was read off it; a UPC and an ISRC are each
held by one release or track of a tenant

Revision ID: 0025
Revises: 0024
Create Date: 2026-12-07 10:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from crosspost.store.schema import JSONType, UTCDateTime

revision = "0025"
down_revision = "0024"
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Apply the change."""
    op.create_table(
        "releases",
        sa.Column("id", sa.String(40), primary_key=True),
        sa.Column("tenant_id", sa.String(40), sa.ForeignKey("tenants.id"), nullable=False),
        sa.Column("mode", sa.String(8), nullable=False),
        sa.Column("type", sa.String(8), nullable=False),
        sa.Column("title", sa.String(200), nullable=False),
        sa.Column("version_title", sa.String(200)),
        sa.Column("artists", JSONType, nullable=False),
        sa.Column("label", sa.String(200), nullable=False),
        sa.Column("upc", sa.String(14), nullable=False),
        sa.Column("genre", sa.String(100), nullable=False),
        sa.Column("sub_genre", sa.String(100)),
        sa.Column("language", sa.String(12), nullable=False),
        sa.Column("p_line", JSONType, nullable=False),
        sa.Column("c_line", JSONType, nullable=False),
        sa.Column("original_release_date", sa.Date()),
        sa.Column("digital_release_date", sa.Date()),
        sa.Column("territories", JSONType, nullable=False),
        sa.Column("artwork_media_id", sa.String(40), sa.ForeignKey("media.id")),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("updated_at", UTCDateTime(), nullable=False),
        sa.UniqueConstraint("tenant_id", "upc", name="uq_releases_tenant_id_upc"),
    )
    op.create_index("ix_releases_tenant_id_id", "releases", ["tenant_id", "id"])
    op.create_table(
        "release_tracks",
        sa.Column("release_id", sa.String(40), sa.ForeignKey("releases.id"), primary_key=True),
        sa.Column("position", sa.Integer(), primary_key=True),
        sa.Column("tenant_id", sa.String(40), sa.ForeignKey("tenants.id"), nullable=False),
        sa.Column("media_id", sa.String(40), sa.ForeignKey("media.id"), nullable=False),
        sa.Column("title", sa.String(200), nullable=False),
        sa.Column("version_title", sa.String(200)),
        sa.Column("isrc", sa.String(12), nullable=False),
        sa.Column("artists", JSONType),
        sa.Column("contributors", JSONType, nullable=False),
        sa.Column("explicit", sa.Boolean(), nullable=False),
        sa.Column("language", sa.String(12)),
        sa.Column("preview_start_seconds", sa.Float(), nullable=False),
        sa.Column("lyrics", sa.Text()),
        sa.Column("master", JSONType, nullable=False),
        sa.UniqueConstraint("tenant_id", "isrc", name="uq_release_tracks_tenant_id_isrc"),
    )
    op.create_index("ix_release_tracks_media_id", "release_tracks", ["media_id"])


def downgrade() -> None:
    """Revert the change."""
    op.drop_index("ix_release_tracks_media_id", table_name="release_tracks")
    op.drop_table("release_tracks")
    op.drop_index("ix_releases_tenant_id_id", table_name="releases")
    op.drop_table("releases")
