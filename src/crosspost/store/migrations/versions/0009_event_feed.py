"""event feed

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-01 09:00:00

`webhook_events.seq` orders the events feed (`GET /v1/events`, `/v1/events/stream`): it is
given at fan-out, one writer at a time, so it follows commit order and a reader that has
seen `seq = n` has seen every event numbered below n (ids, given before commit, do not).
`post_id` lets a client follow one post. Existing events are numbered in creation order
and their post read from their body.
"""

from __future__ import annotations

import json

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None

_BATCH = 1000
_events = sa.table(
    "webhook_events",
    sa.column("id", sa.String()),
    sa.column("event_type", sa.String()),
    sa.column("payload", sa.Text()),
    sa.column("fanned_out", sa.Boolean()),
    sa.column("created_at", sa.DateTime()),
    sa.column("seq", sa.BigInteger()),
    sa.column("post_id", sa.String()),
)


def upgrade() -> None:
    """Apply the change."""
    with op.batch_alter_table("webhook_events") as batch:
        batch.add_column(sa.Column("seq", sa.BigInteger(), nullable=True))
        batch.add_column(sa.Column("post_id", sa.String(length=40), nullable=True))
    _backfill(op.get_bind())
    op.create_index("ix_webhook_events_seq", "webhook_events", ["seq"], unique=True)
    op.create_index(
        "ix_webhook_events_tenant_id_mode_seq", "webhook_events", ["tenant_id", "mode", "seq"]
    )
    op.create_index("ix_webhook_events_post_id_seq", "webhook_events", ["post_id", "seq"])


def _backfill(bind: sa.Connection) -> None:
    rows = bind.execute(
        sa.select(
            _events.c.id, _events.c.event_type, _events.c.payload, _events.c.fanned_out
        ).order_by(_events.c.created_at, _events.c.id)
    ).mappings()
    updates = []
    seq = 0
    for row in rows:
        if row["fanned_out"]:
            seq += 1
        updates.append(
            {
                "key": row["id"],
                "seq": seq if row["fanned_out"] else None,
                "post": _post_of(str(row["event_type"]), row["payload"]),
            }
        )
    statement = (
        _events.update()
        .where(_events.c.id == sa.bindparam("key"))
        .values(seq=sa.bindparam("seq"), post_id=sa.bindparam("post"))
    )
    for start in range(0, len(updates), _BATCH):
        bind.execute(statement, updates[start : start + _BATCH])


def _post_of(event_type: str, payload: str | None) -> str | None:
    if payload is None or not event_type.startswith(("post.", "target.")):
        return None
    try:
        data = json.loads(payload)["data"]
        found = data["post"]["id"] if event_type.startswith("post.") else data["target"]["post_id"]
    except (ValueError, KeyError, TypeError):
        return None
    return found if isinstance(found, str) else None


def downgrade() -> None:
    """Revert the change."""
    op.drop_index("ix_webhook_events_post_id_seq", table_name="webhook_events")
    op.drop_index("ix_webhook_events_tenant_id_mode_seq", table_name="webhook_events")
    op.drop_index("ix_webhook_events_seq", table_name="webhook_events")
    with op.batch_alter_table("webhook_events") as batch:
        batch.drop_column("post_id")
        batch.drop_column("seq")
