"""Social accounts and their (encrypted) credentials."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from crosspost.store.prepared import Prepared
from crosspost.store.rows import Row, every, one
from crosspost.store.tables import social_accounts


def insert_account(conn: Connection, **values: Any) -> None:
    """Insert one account row (values named after the columns)."""
    conn.execute(social_accounts.insert().values(**values))


def get_account(conn: Connection, tenant_id: str, account_id: str) -> Row | None:
    """A tenant's account."""
    return one(
        conn.execute(
            sa.select(social_accounts).where(
                social_accounts.c.id == account_id, social_accounts.c.tenant_id == tenant_id
            )
        )
    )


_BY_ID = Prepared(sa.select(social_accounts).where(social_accounts.c.id == sa.bindparam("id")))


def get_account_by_id(conn: Connection, account_id: str) -> Row | None:
    """An account by id alone (workers, which act for whichever tenant owns the job)."""
    return _BY_ID.first(conn, {"id": account_id})


def lock_account_by_id(conn: Connection, account_id: str) -> Row | None:
    """An account by id, locked until the transaction ends (on PostgreSQL): what is
    compared with it stays true until the caller's write commits."""
    query = sa.select(social_accounts).where(social_accounts.c.id == account_id).with_for_update()
    return one(conn.execute(query))


_OF_TENANT_IN_MODE = Prepared(
    sa.select(social_accounts)
    .where(
        social_accounts.c.tenant_id == sa.bindparam("tenant_id"),
        social_accounts.c.mode == sa.bindparam("mode"),
    )
    .order_by(social_accounts.c.id)
)


def find_accounts(
    conn: Connection, tenant_id: str, *, platform: str | None = None, mode: str | None = None
) -> list[Row]:
    """A tenant's accounts, oldest first, optionally of one platform and mode."""
    if platform is None and mode is not None:
        # The hot case (every POST /v1/posts): prepared (store/prepared).
        return _OF_TENANT_IN_MODE.all(conn, {"tenant_id": tenant_id, "mode": mode})
    query = sa.select(social_accounts).where(social_accounts.c.tenant_id == tenant_id)
    if platform is not None:
        query = query.where(social_accounts.c.platform == platform)
    if mode is not None:
        query = query.where(social_accounts.c.mode == mode)
    return every(conn.execute(query.order_by(social_accounts.c.id)))


def update_account(conn: Connection, account_id: str, **values: Any) -> None:
    """Update columns of one account."""
    conn.execute(
        social_accounts.update().where(social_accounts.c.id == account_id).values(**values)
    )


def try_lock_refresh(
    conn: Connection,
    account_id: str,
    credentials: str | None,
    owner: str,
    now: datetime,
    until: datetime,
) -> bool:
    """Take the account's refresh lease unless another live holder has it or the stored
    credentials are no longer `credentials`.

    The credentials are part of the condition because on PostgreSQL an UPDATE that waited
    for another refresher's commit re-checks its WHERE against the row that refresher
    stored: without them it would take the lease to spend a refresh token already rotated.
    """
    taken = conn.execute(
        social_accounts.update()
        .where(
            social_accounts.c.id == account_id,
            social_accounts.c.credentials == credentials,
            sa.or_(
                social_accounts.c.refresh_locked_until.is_(None),
                social_accounts.c.refresh_locked_until < now,
            ),
        )
        .values(refresh_locked_until=until, refresh_locked_by=owner)
    )
    return taken.rowcount == 1


def release_refresh(conn: Connection, account_id: str, owner: str) -> None:
    """Give the refresh lease back (only if still ours)."""
    conn.execute(
        social_accounts.update()
        .where(social_accounts.c.id == account_id, social_accounts.c.refresh_locked_by == owner)
        .values(refresh_locked_until=None, refresh_locked_by=None)
    )
