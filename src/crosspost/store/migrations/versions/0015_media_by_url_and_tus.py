"""media by URL and tus uploads: a media item has a status (fetching, ready, failed), the
URL it is fetched from, the bytes fetched so far and why a fetch failed; what probing finds
is unknown until then. Resumable (tus) uploads in progress have a table of their own.

Revision ID: 0015
Revises: 0014
Create Date: 2026-12-07 10:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from crosspost.store.tables import JSONType, UTCDateTime

revision = "0015"
down_revision = "0014"
branch_labels = None
depends_on = None

# Known only once a fetched file is probed.
_PROBED = (
    ("kind", sa.String(8)),
    ("content_type", sa.String(100)),
    ("size_bytes", sa.BigInteger()),
    ("sha256", sa.String(64)),
    ("storage_key", sa.String(255)),
)


def upgrade() -> None:
    """Apply the change."""
    with op.batch_alter_table("media") as batch:
        for name, kind in _PROBED:
            batch.alter_column(name, existing_type=kind, nullable=True)
        batch.add_column(sa.Column("status", sa.String(12), nullable=False, server_default="ready"))
        batch.add_column(sa.Column("source_url", sa.Text()))
        batch.add_column(sa.Column("fetched_bytes", sa.BigInteger()))
        batch.add_column(sa.Column("fetch_total_bytes", sa.BigInteger()))
        batch.add_column(sa.Column("error_code", sa.String(40)))
        batch.add_column(sa.Column("error_message", sa.Text()))
    op.create_table(
        "tus_uploads",
        sa.Column("id", sa.String(40), primary_key=True),
        sa.Column("tenant_id", sa.String(40), sa.ForeignKey("tenants.id"), nullable=False),
        sa.Column("key_id", sa.String(40), nullable=False),
        sa.Column("upload_length", sa.BigInteger(), nullable=False),
        sa.Column("upload_offset", sa.BigInteger(), nullable=False, server_default="0"),
        sa.Column("upload_metadata", JSONType, nullable=False),
        sa.Column("filename", sa.String(255)),
        sa.Column("filetype", sa.String(100)),
        sa.Column("status", sa.String(12), nullable=False),
        sa.Column("media_id", sa.String(40)),
        sa.Column("error_code", sa.String(40)),
        sa.Column("error_message", sa.Text()),
        sa.Column("lock_token", sa.String(32)),
        sa.Column("locked_until", UTCDateTime()),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("updated_at", UTCDateTime(), nullable=False),
        sa.Column("expires_at", UTCDateTime(), nullable=False),
    )
    op.create_index("ix_tus_uploads_tenant_id_id", "tus_uploads", ["tenant_id", "id"])
    op.create_index("ix_tus_uploads_expires_at", "tus_uploads", ["expires_at"])


def downgrade() -> None:
    """Revert the change (media still fetching or failed have no file: they go)."""
    op.drop_index("ix_tus_uploads_expires_at", "tus_uploads")
    op.drop_index("ix_tus_uploads_tenant_id_id", "tus_uploads")
    op.drop_table("tus_uploads")
    op.execute("DELETE FROM media WHERE status <> 'ready'")
    with op.batch_alter_table("media") as batch:
        for name in ("error_message", "error_code", "fetch_total_bytes", "fetched_bytes",
                     "source_url", "status"):  # fmt: skip
            batch.drop_column(name)
        for name, kind in _PROBED:
            batch.alter_column(name, existing_type=kind, nullable=False)
