"""Time to re-encrypt 10,000 account secrets under a new master key (`crosspost vault rotate`).

python -m bench.vault_rotate [--secrets 10000] [--database-url postgresql://…]
"""

from __future__ import annotations

import argparse
import base64
import os
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

from crosspost.platforms.base import Credentials
from crosspost.store import migrate, tenants
from crosspost.store.db import Database
from crosspost.store.tables import social_accounts
from crosspost.vault import credentials as vault_creds
from crosspost.vault.keyring import parse_master_keys
from crosspost.vault.rotation import rotate_secrets


def main() -> None:
    """Fill a database with sealed secrets, rotate them, print the time."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--secrets", type=int, default=10_000)
    parser.add_argument("--database-url", default=None)
    args = parser.parse_args()
    url = args.database_url or f"sqlite:///{Path(tempfile.mkdtemp()) / 'rotate.db'}"
    db = Database(url)
    migrate.upgrade(db)
    old = f"old:{base64.b64encode(os.urandom(32)).decode()}"
    new = f"new:{base64.b64encode(os.urandom(32)).decode()}"
    keyring = parse_master_keys(old)
    now = datetime.now(UTC)
    with db.write() as conn:
        tenant = tenants.ensure_default_tenant(conn, now)
        rows = []
        for i in range(args.secrets):
            account_id = f"acc_bench{i:08d}"
            creds = Credentials(f"access-{i}-" + "x" * 150, f"refresh-{i}-" + "y" * 100)
            rows.append(
                {
                    "id": account_id, "tenant_id": tenant, "platform": "youtube", "mode": "test",
                    "handle": f"h{i}", "external_id": f"UC{i}", "role": "main",
                    "parent_id": None, "status": "active", "scopes": [], "created_at": now,
                    "updated_at": now,
                    "credentials": vault_creds.seal(
                        keyring, tenant_id=tenant, account_id=account_id, creds=creds
                    ),
                }
            )  # fmt: skip
        conn.execute(social_accounts.insert(), rows)
    start = time.perf_counter()
    report = rotate_secrets(db, parse_master_keys(f"{new},{old}"))
    elapsed = time.perf_counter() - start
    db.dispose()
    print(f"database: {args.database_url or 'embedded SQLite'}")
    print(
        f"rotated {report.rotated} secrets in {elapsed:.2f} s "
        f"({report.rotated / elapsed:,.0f}/s); already current {report.current}"
    )


if __name__ == "__main__":
    main()
