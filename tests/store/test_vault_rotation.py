"""`crosspost vault rotate`: every secret re-sealed under the current key, online, once."""

from __future__ import annotations

import base64
import os
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

import pytest

from crosspost.platforms.base import Credentials
from crosspost.store import accounts, migrate, tenants
from crosspost.store.db import Database
from crosspost.vault import credentials as vault_creds
from crosspost.vault.keyring import VaultError, parse_master_keys
from crosspost.vault.rotation import rotate_secrets

NOW = datetime(2026, 11, 29, 12, 0, tzinfo=UTC)
OLD = f"old:{base64.b64encode(b'o' * 32).decode()}"
NEW = f"new:{base64.b64encode(b'n' * 32).decode()}"


def _accounts(db: Database, count: int, *, already_new: int = 0) -> tuple[str, list[str]]:
    """`count` accounts with sealed tokens: the last `already_new` under the new key."""
    old, new = parse_master_keys(OLD), parse_master_keys(NEW)
    with db.write() as conn:
        tenant = tenants.ensure_default_tenant(conn, NOW)
        ids = []
        for i in range(count):
            account_id = f"acc_{i:04d}"
            creds = Credentials(f"access-{i}", f"refresh-{i}")
            accounts.insert_account(
                conn, id=account_id, tenant_id=tenant, platform="youtube", mode="test",
                handle=f"h{i}", external_id=f"UC{i}", role="main", parent_id=None,
                status="active", scopes=[], created_at=NOW, updated_at=NOW,
                credentials=vault_creds.seal(
                    new if i >= count - already_new else old,
                    tenant_id=tenant, account_id=account_id, creds=creds,
                ),
            )  # fmt: skip
            ids.append(account_id)
    return tenant, ids


def test_rotation_reseals_everything_in_batches_and_is_idempotent(db: Database) -> None:
    """Keys mixed (5 under `old`, 2 already under `new`): after rotating to `new,old`, only
    `new` is needed to read every one."""
    _, ids = _accounts(db, 7, already_new=2)
    report = rotate_secrets(db, parse_master_keys(f"{NEW},{OLD}"), batch=3)
    assert (report.rotated, report.current, report.changed_meanwhile) == (5, 2, 0)
    only_new = parse_master_keys(NEW)
    with db.read() as conn:
        for i, account_id in enumerate(ids):
            row = accounts.get_account_by_id(conn, account_id)
            assert row is not None and row["credentials"].startswith("v1.new.")
            creds = vault_creds.unseal(only_new, row)
            assert creds is not None and creds.refresh_token == f"refresh-{i}"
    again = rotate_secrets(db, parse_master_keys(f"{NEW},{OLD}"))
    assert (again.rotated, again.current) == (0, 7)
    with db.read() as conn:
        row = accounts.get_account_by_id(conn, ids[0])
    assert row is not None
    with pytest.raises(VaultError, match="no master key"):
        vault_creds.unseal(parse_master_keys(OLD), row)


def test_vault_rotate_command(tmp_path: Path) -> None:
    """The CLI rotates the embedded database and says how many secrets it re-sealed."""
    url = f"sqlite:///{tmp_path / 'crosspost.db'}"
    db = Database(url)
    migrate.upgrade(db)
    _accounts(db, 2)
    db.dispose()
    env = {k: v for k, v in os.environ.items() if not k.startswith("CROSSPOST_")}
    env.update(
        CROSSPOST_HOME=str(tmp_path), CROSSPOST_DATABASE_URL=url,
        CROSSPOST_MASTER_KEYS=f"{NEW},{OLD}", CROSSPOST_LOG_LEVEL="WARNING",
    )  # fmt: skip
    done = subprocess.run(
        [sys.executable, "-m", "crosspost", "vault", "rotate"],
        env=env, capture_output=True, text=True, check=True,
    )  # fmt: skip
    assert "re-encrypted 2 secret(s) under key new; 0 already current" in done.stdout
