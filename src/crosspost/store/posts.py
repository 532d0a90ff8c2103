"""Posts and their targets."""

from __future__ import annotations

import functools
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from crosspost.store.prepared import Prepared
from crosspost.store.rows import Row, every
from crosspost.store.tables import posts, targets

# Every POST /v1/posts runs these: compiled once, run on the driver's cursor (store/prepared).
_INSERT_POST = Prepared(
    posts.insert(),
    ["id", "tenant_id", "media_id", "media_ids", "text", "overrides", "publish_at", "timezone",
     "status", "mode", "created_at", "updated_at", "auto_fit"],
)  # fmt: skip
_INSERT_TARGETS = Prepared(
    targets.insert(),
    ["id", "tenant_id", "post_id", "account_id", "platform", "status", "attempts",
     "transient_errors", "next_attempt_at", "session", "created_at", "updated_at", "error_kind",
     "error_code", "error_message", "error_raw", "external_id", "external_url", "published_at",
     "fit"],
)  # fmt: skip


def insert_post(
    conn: Connection, post: Mapping[str, Any], rows: Sequence[Mapping[str, Any]]
) -> None:
    """Insert a post and its targets (each row with every column `_INSERT_TARGETS` names)."""
    _INSERT_POST.execute(conn, post)
    _INSERT_TARGETS.execute_many(conn, rows)


def insert_targets(conn: Connection, rows: Sequence[Mapping[str, Any]]) -> None:
    """Insert targets added to an existing post (rows shaped as `insert_post` takes them)."""
    _INSERT_TARGETS.execute_many(conn, rows)


def target_ids(conn: Connection, post_id: str) -> list[str]:
    """The ids of a post's targets."""
    return list(conn.execute(sa.select(targets.c.id).where(targets.c.post_id == post_id)).scalars())


def lock_targets(conn: Connection, post_id: str) -> list[Row]:
    """A post's targets, locked until the transaction ends (on PostgreSQL), in id order.

    An edit locks them before the post, the order every worker transition takes, so the two
    never wait on each other in a cycle."""
    query = (
        sa.select(targets).where(targets.c.post_id == post_id).order_by(targets.c.id)
        .with_for_update()
    )  # fmt: skip
    return every(conn.execute(query))


def update_post(conn: Connection, post_id: str, now: datetime, **values: Any) -> None:
    """Change a post's columns and bump its revision (a worker holding an older one stops)."""
    conn.execute(
        posts.update()
        .where(posts.c.id == post_id)
        .values(revision=posts.c.revision + 1, updated_at=now, **values)
    )


def post_revision(conn: Connection, post_id: str) -> int | None:
    """The post's current revision (None if it is gone)."""
    found = conn.execute(sa.select(posts.c.revision).where(posts.c.id == post_id)).scalar()
    return None if found is None else int(found)


def set_targets(conn: Connection, target_ids: Sequence[str], **values: Any) -> None:
    """Set the same columns on several targets (an edit's reschedule or content freeze)."""
    if target_ids:
        conn.execute(targets.update().where(targets.c.id.in_(target_ids)).values(**values))


# Every publish step reads these (store/prepared).
_POST = Prepared(
    sa.select(posts).where(
        posts.c.id == sa.bindparam("id"), posts.c.tenant_id == sa.bindparam("tenant_id")
    )
)
_TARGET = Prepared(sa.select(targets).where(targets.c.id == sa.bindparam("id")))
_TARGET_STATUSES = Prepared(
    sa.select(targets.c.status).where(targets.c.post_id == sa.bindparam("post_id"))
)


def get_post(conn: Connection, tenant_id: str, post_id: str) -> Row | None:
    """A tenant's post."""
    return _POST.first(conn, {"id": post_id, "tenant_id": tenant_id})


@dataclass(frozen=True)
class PostFilter:
    """What a list of posts (or of targets) is narrowed to; None = any."""

    status: str | None = None
    platform: str | None = None
    account_id: str | None = None
    media_id: str | None = None
    post_id: str | None = None
    created_since: datetime | None = None
    created_until: datetime | None = None
    scheduled_since: datetime | None = None
    scheduled_until: datetime | None = None
    published_since: datetime | None = None
    published_until: datetime | None = None


def list_posts(
    conn: Connection,
    tenant_id: str,
    *,
    where: PostFilter,
    after_id: str | None,
    limit: int,
    oldest_first: bool = False,
) -> list[Row]:
    """A page of a tenant's posts, newest first (or oldest), past the cursor id `after_id`;
    a post matches `platform`, `account_id` or a published range through any target."""
    query = sa.select(posts).where(posts.c.tenant_id == tenant_id)
    if where.status is not None:
        query = query.where(posts.c.status == where.status)
    if where.media_id is not None:
        query = query.where(posts.c.media_id == where.media_id)
    query = _in_range(query, posts.c.created_at, where.created_since, where.created_until)
    query = _in_range(query, posts.c.publish_at, where.scheduled_since, where.scheduled_until)
    through = [targets.c.post_id == posts.c.id]
    if where.platform is not None:
        through.append(targets.c.platform == where.platform)
    if where.account_id is not None:
        through.append(targets.c.account_id == where.account_id)
    if where.published_since is not None:
        through.append(targets.c.published_at >= where.published_since)
    if where.published_until is not None:
        through.append(targets.c.published_at < where.published_until)
    if len(through) > 1:
        query = query.where(sa.exists().where(*through))
    return _page(conn, query, posts.c.id, after_id, limit, oldest_first)


def list_targets(
    conn: Connection,
    tenant_id: str,
    *,
    where: PostFilter,
    after_id: str | None,
    limit: int,
    oldest_first: bool = False,
) -> list[Row]:
    """A page of a tenant's targets across its posts, newest first (or oldest)."""
    query = sa.select(targets).where(targets.c.tenant_id == tenant_id)
    for column, value in (
        (targets.c.status, where.status),
        (targets.c.platform, where.platform),
        (targets.c.account_id, where.account_id),
        (targets.c.post_id, where.post_id),
    ):
        if value is not None:
            query = query.where(column == value)
    query = _in_range(query, targets.c.created_at, where.created_since, where.created_until)
    query = _in_range(query, targets.c.published_at, where.published_since,
                      where.published_until)  # fmt: skip
    return _page(conn, query, targets.c.id, after_id, limit, oldest_first)


def _in_range(
    query: sa.Select[Any], column: Any, since: datetime | None, until: datetime | None
) -> sa.Select[Any]:
    if since is not None:
        query = query.where(column >= since)
    if until is not None:
        query = query.where(column < until)
    return query


def _page(
    conn: Connection,
    query: sa.Select[Any],
    key: Any,
    after_id: str | None,
    limit: int,
    oldest_first: bool,
) -> list[Row]:
    # Ids grow with time (ULIDs), so id order is creation order and a stable cursor.
    if after_id is not None:
        query = query.where(key > after_id if oldest_first else key < after_id)
    order = key.asc() if oldest_first else key.desc()
    return every(conn.execute(query.order_by(order).limit(limit)))


def targets_of(conn: Connection, post_ids: Sequence[str]) -> dict[str, list[Row]]:
    """Targets of several posts, grouped by post id, in creation order."""
    grouped: dict[str, list[Row]] = {pid: [] for pid in post_ids}
    if not post_ids:
        return grouped
    rows = conn.execute(
        sa.select(targets).where(targets.c.post_id.in_(post_ids)).order_by(targets.c.id)
    )
    for row in every(rows):
        grouped[row["post_id"]].append(row)
    return grouped


def scheduled_between(
    conn: Connection, tenant_id: str, since: datetime, until: datetime
) -> list[tuple[str, datetime]]:
    """(id, publish_at) of the tenant's posts publishing in [since, until), earliest first:
    two columns from the (tenant_id, publish_at) index, however many posts there are."""
    rows = conn.execute(
        sa.select(posts.c.id, posts.c.publish_at)
        .where(posts.c.tenant_id == tenant_id, posts.c.publish_at >= since,
               posts.c.publish_at < until)
        .order_by(posts.c.publish_at, posts.c.id)
    )  # fmt: skip
    return [(str(r[0]), r[1]) for r in rows]


def summaries(
    conn: Connection, tenant_id: str, post_ids: Sequence[str], excerpt: int
) -> tuple[dict[str, Row], dict[str, list[Row]]]:
    """The tenant's posts `post_ids` as a calendar shows them (id, status, the first
    `excerpt` characters of the text) and their targets' platform and status."""
    if not post_ids:
        return {}, {}
    text = sa.func.substr(posts.c.text, 1, excerpt).label("excerpt")
    found = conn.execute(
        sa.select(posts.c.id, posts.c.status, text).where(
            posts.c.tenant_id == tenant_id, posts.c.id.in_(post_ids)
        )
    )
    shown = {str(r["id"]): r for r in every(found)}
    grouped: dict[str, list[Row]] = {pid: [] for pid in shown}
    rows = conn.execute(
        sa.select(targets.c.post_id, targets.c.platform, targets.c.status)
        .where(targets.c.post_id.in_(list(shown)))
        .order_by(targets.c.id)
    )
    for row in every(rows):
        grouped[row["post_id"]].append(row)
    return shown, grouped


def get_target(conn: Connection, target_id: str, *, tenant_id: str | None = None) -> Row | None:
    """A target (scoped to a tenant when one is given)."""
    row = _TARGET.first(conn, {"id": target_id})
    return row if row is None or tenant_id in (None, row["tenant_id"]) else None


# Built once; the SET columns come from the parameters of each execute().
_UPDATE_LIVE_TARGET = targets.update().where(
    targets.c.id == sa.bindparam("target_key"), targets.c.status != "cancelled"
)


@functools.cache
def _update_live_target(columns: tuple[str, ...]) -> Prepared:
    # One per set of columns a transition writes: a dozen or so in all.
    return Prepared(_UPDATE_LIVE_TARGET, list(columns))


def update_target(conn: Connection, target_id: str, **values: Any) -> bool:
    """Update columns of one target unless it was cancelled meanwhile; True if updated.
    `values` are plain values (every publish step writes here, prepared)."""
    stmt = _update_live_target(tuple(sorted(values)))
    return stmt.execute(conn, {"target_key": target_id, **values}) == 1


def requeue_target(
    conn: Connection, target_id: str, from_statuses: Sequence[str], now: datetime
) -> bool:
    """Queue a target again with a fresh attempt budget, only if it is still in one of
    `from_statuses` (of two racing retries, one wins); its `session` is kept."""
    result = conn.execute(
        targets.update()
        .where(targets.c.id == target_id, targets.c.status.in_(from_statuses))
        .values(
            status="queued", attempts=0, transient_errors=0, next_attempt_at=now,
            error_kind=None, error_code=None, error_message=None, error_raw=None,
            updated_at=now,
        )
    )  # fmt: skip
    return result.rowcount == 1


def cancel_targets(
    conn: Connection, post_id: str, cancellable: Sequence[str], now: Any
) -> list[str]:
    """Cancel every target of a post still in a cancellable state; returns their ids."""
    result = conn.execute(
        targets.update()
        .where(targets.c.post_id == post_id, targets.c.status.in_(cancellable))
        .values(status="cancelled", updated_at=now, next_attempt_at=None)
        .returning(targets.c.id)
    )
    return sorted(result.scalars())


def set_post_status(conn: Connection, post_id: str, status: str, now: datetime) -> bool:
    """Set a post's rollup status; True when it changed."""
    result = conn.execute(
        posts.update()
        .where(posts.c.id == post_id, posts.c.status != status)
        .values(status=status, updated_at=now)
    )
    return result.rowcount == 1


def lock_post(conn: Connection, post_id: str) -> None:
    """Serialise rollups of one post: on PostgreSQL, lock its row until the transaction ends.

    Without it, two targets finishing at once each see the other as unfinished and both
    write a stale rollup. (SQLite already runs one writer at a time.)
    """
    if conn.dialect.name == "postgresql":
        conn.execute(sa.select(posts.c.id).where(posts.c.id == post_id).with_for_update())


def target_statuses(conn: Connection, post_id: str) -> list[str]:
    """The statuses of a post's targets."""
    return [row["status"] for row in _TARGET_STATUSES.all(conn, {"post_id": post_id})]


def fail_account_targets(
    conn: Connection,
    account_id: str,
    live: Sequence[str],
    *,
    code: str,
    message: str,
    now: datetime,
) -> list[Row]:
    """Fail every target of an account still in one of the `live` statuses; the targets as
    they were (post id, status) before."""
    where = (targets.c.account_id == account_id, targets.c.status.in_(live))
    before = every(conn.execute(sa.select(targets).where(*where).order_by(targets.c.id)))
    if before:
        conn.execute(
            targets.update()
            .where(targets.c.id.in_([t["id"] for t in before]), targets.c.status.in_(live))
            .values(
                status="failed",
                error_kind="permanent",
                error_code=code,
                error_message=message,
                error_raw=None,
                next_attempt_at=None,
                updated_at=now,
            )
        )
    return before


def targets_waiting_for(conn: Connection, account_id: str, status: str) -> list[str]:
    """Ids of an account's targets in `status`, oldest first."""
    rows = conn.execute(
        sa.select(targets.c.id)
        .where(targets.c.account_id == account_id, targets.c.status == status)
        .order_by(targets.c.id)
    )
    return [str(row.id) for row in rows]
