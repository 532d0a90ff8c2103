"""Re-encrypt every stored secret under the current master key, online.

Rows are rewritten in small batches with a compare-and-swap on the old envelope, so a
secret changed meanwhile (a token refreshed) is never overwritten by its stale
re-encryption; running it again finishes whatever a concurrent change left behind.
"""

from __future__ import annotations

from dataclasses import dataclass

import sqlalchemy as sa

from crosspost.store.db import Database
from crosspost.store.tables import signing_secrets, social_accounts, webhook_endpoints
from crosspost.store.tables_identity import jwt_keys
from crosspost.store.tables_pipeline import pipelines
from crosspost.vault.keyring import Keyring

_BATCH = 200
# The server's own secrets (JWT signing keys) belong to no tenant; they are sealed with
# "-" (no tenant id looks like it) as the tenant part of their associated data.
SERVER_TENANT = "-"


@dataclass(frozen=True)
class Sealed:
    """One column of sealed secrets, and the table name its envelopes are bound to."""

    table: sa.Table
    column: str
    tenant_scoped: bool = True

    @property
    def name(self) -> str:
        """The table name used as associated data."""
        return str(self.table.name)


# Every sealed column in the schema: a new one must be listed here to be rotated.
SEALED_COLUMNS: tuple[Sealed, ...] = (
    Sealed(social_accounts, "credentials"),
    Sealed(signing_secrets, "secret"),
    Sealed(jwt_keys, "private_key", tenant_scoped=False),
    Sealed(webhook_endpoints, "secret"),
    Sealed(webhook_endpoints, "previous_secret"),
    Sealed(webhook_endpoints, "sealed_headers"),
    Sealed(pipelines, "github_token"),
    Sealed(pipelines, "webhook_secret"),
    Sealed(pipelines, "discord_webhook_url"),
    Sealed(pipelines, "twitch_credentials"),
)


@dataclass(frozen=True)
class RotationReport:
    """What a rotation did."""

    rotated: int
    current: int
    changed_meanwhile: int


def rotate_secrets(db: Database, keyring: Keyring, *, batch: int = _BATCH) -> RotationReport:
    """Re-seal every stored secret not yet under `keyring.current_kid`."""
    totals = [0, 0, 0]
    for sealed in SEALED_COLUMNS:
        for i, n in enumerate(_rotate_column(db, keyring, sealed, batch)):
            totals[i] += n
    return RotationReport(*totals)


def _rotate_column(
    db: Database, keyring: Keyring, sealed: Sealed, batch: int
) -> tuple[int, int, int]:
    rotated = current = raced = 0
    table, column = sealed.table, sealed.table.c[sealed.column]
    tenant = table.c.tenant_id if sealed.tenant_scoped else sa.literal(SERVER_TENANT)
    after = ""
    while True:
        with db.read() as conn:
            rows = conn.execute(
                sa.select(table.c.id, tenant.label("tenant_id"), column.label("sealed"))
                .where(column.is_not(None), table.c.id > after)
                .order_by(table.c.id)
                .limit(batch)
            ).all()
        if not rows:
            return rotated, current, raced
        after = rows[-1].id
        stale = [r for r in rows if keyring.needs_rotation(r.sealed)]
        current += len(rows) - len(stale)
        if not stale:
            continue
        with db.write() as conn:
            for row in stale:
                scope = {"tenant_id": row.tenant_id, "table": sealed.name, "row_id": row.id}
                fresh = keyring.encrypt(keyring.decrypt(row.sealed, **scope), **scope)
                swapped = conn.execute(
                    table.update()
                    .where(table.c.id == row.id, column == row.sealed)
                    .values({sealed.column: fresh})
                )
                if swapped.rowcount == 1:
                    rotated += 1
                else:
                    raced += 1
