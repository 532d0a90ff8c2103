"""Re-encrypt every stored secret under the current master key, online.

Rows are rewritten in small batches with a compare-and-swap on the old envelope, so a
token refreshed meanwhile is never overwritten by its stale re-encryption; running it
again finishes whatever a concurrent change left behind.
"""

from __future__ import annotations

from dataclasses import dataclass

import sqlalchemy as sa

from crosspost.store.db import Database
from crosspost.store.tables import social_accounts
from crosspost.vault.credentials import TABLE
from crosspost.vault.keyring import Keyring

_BATCH = 200


@dataclass(frozen=True)
class RotationReport:
    """What a rotation did."""

    rotated: int
    current: int
    changed_meanwhile: int


def rotate_secrets(db: Database, keyring: Keyring, *, batch: int = _BATCH) -> RotationReport:
    """Re-seal every account credential not yet under `keyring.current_kid`."""
    rotated = current = raced = 0
    after = ""
    columns = (social_accounts.c.id, social_accounts.c.tenant_id, social_accounts.c.credentials)
    while True:
        with db.read() as conn:
            rows = conn.execute(
                sa.select(*columns)
                .where(social_accounts.c.credentials.is_not(None), social_accounts.c.id > after)
                .order_by(social_accounts.c.id)
                .limit(batch)
            ).all()
        if not rows:
            return RotationReport(rotated, current, raced)
        after = rows[-1].id
        stale = [r for r in rows if keyring.needs_rotation(r.credentials)]
        current += len(rows) - len(stale)
        if not stale:
            continue
        with db.write() as conn:
            for row in stale:
                scope = {"tenant_id": row.tenant_id, "table": TABLE, "row_id": row.id}
                fresh = keyring.encrypt(keyring.decrypt(row.credentials, **scope), **scope)
                swapped = conn.execute(
                    social_accounts.update()
                    .where(
                        social_accounts.c.id == row.id,
                        social_accounts.c.credentials == row.credentials,
                    )
                    .values(credentials=fresh)
                )
                if swapped.rowcount == 1:
                    rotated += 1
                else:
                    raced += 1
