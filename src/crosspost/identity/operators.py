"""The operator's keys: issued and revoked only from the server's own command line."""

from __future__ import annotations

from typing import TYPE_CHECKING

from crosspost.errors import NotFound
from crosspost.identity.audit import Actor, record
from crosspost.store import operator_keys
from crosspost.store.rows import Row
from crosspost.vault.apikeys import generate_operator_key, hash_key

if TYPE_CHECKING:  # the services bundle is built above this layer; only its type is used
    from crosspost.engine.services import Services


def issue(svc: Services, *, name: str) -> tuple[Row, str]:
    """A new operator key: (its row, the key to show once)."""
    raw = generate_operator_key()
    now = svc.clock.now()
    with svc.db.write() as conn:
        row = operator_keys.insert(
            conn, name=name, display_prefix=raw[:10], key_hash=hash_key(raw, svc.hash_key),
            now=now,
        )  # fmt: skip
        record(
            conn, Actor.cli(), "operator_key.created", tenant_id=None, now=now,
            target=("operator_key", row["id"]), data={"name": name},
        )  # fmt: skip
    return row, raw


def revoke(svc: Services, key_id: str) -> None:
    """Revoke an operator key; 404 when there is none of that id."""
    now = svc.clock.now()
    with svc.db.write() as conn:
        if not operator_keys.revoke(conn, key_id, now):
            raise NotFound(f"no operator key {key_id!r}; `crosspost operator-keys list`")
        record(
            conn, Actor.cli(), "operator_key.revoked", tenant_id=None, now=now,
            target=("operator_key", key_id),
        )  # fmt: skip
