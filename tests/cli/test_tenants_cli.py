"""`crosspost operator-keys`, `crosspost tenants` and `crosspost keys --tenant` on the
server's own state (SQLite, and PostgreSQL when configured)."""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner, Result

from crosspost.api.auth import authenticate, authenticate_operator
from crosspost.cli import app
from crosspost.config import Settings
from crosspost.engine.services import Services
from crosspost.errors import Forbidden, Unauthorized
from crosspost.store import tenants


@pytest.fixture
def home(monkeypatch: pytest.MonkeyPatch, tmp_path: Path, database_url: str) -> Path:
    """A fresh home of this test's own on a fresh database (no other CROSSPOST_ setting)."""
    for name in [n for n in os.environ if n.startswith("CROSSPOST_")]:
        monkeypatch.delenv(name)
    monkeypatch.setenv("CROSSPOST_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("CROSSPOST_DATABASE_URL", database_url)
    return tmp_path / "home"


@pytest.fixture
def svc(home: Path) -> Iterator[Services]:
    """The services of that home, as an API process on it builds them."""
    services = Services.build(Settings())
    yield services
    services.close()


def _run(*args: str) -> Result:
    result = CliRunner().invoke(app, list(args))
    assert result.exit_code == 0, (args, result.stdout, result.stderr)
    return result


def _json(*args: str) -> Any:
    return json.loads(_run(*args, "--json").stdout)


def _refused(*args: str) -> str:
    """The command fails with exit status 1 and one clear line (no traceback)."""
    result = CliRunner().invoke(app, list(args))
    assert result.exit_code == 1, (args, result.stdout, result.stderr)
    assert isinstance(result.exception, SystemExit), result.exception
    assert "Traceback" not in result.stderr and result.stderr.count("\n") <= 3, result.stderr
    return result.stderr


def test_operator_keys_are_printed_once_and_reach_only_the_admin_api(
    home: Path, svc: Services
) -> None:
    """`operator-keys create` prints a cp_op_ key alone on stdout, which authenticates as the
    operator; `list` never shows it; `revoke` ends it."""
    made = _run("operator-keys", "create", "--name", "ops")
    key = made.stdout.strip()
    assert key.startswith("cp_op_") and len(key.split()) == 1, made.stdout
    assert "shown only once" in made.stderr
    operator = authenticate_operator(svc, f"Bearer {key}")
    with pytest.raises(Forbidden) as refused:
        authenticate(svc, f"Bearer {key}")
    assert refused.value.code == "operator_key_not_allowed"
    [listed] = _json("operator-keys", "list")
    assert listed["id"] == operator.key_id and listed["name"] == "ops"
    assert key not in json.dumps(listed) and listed["revoked_at"] is None
    assert _json("operator-keys", "revoke", operator.key_id) == {
        "id": operator.key_id,
        "revoked": True,
    }
    with pytest.raises(Unauthorized):
        authenticate_operator(svc, f"Bearer {key}")
    assert "no operator key" in _refused("operator-keys", "revoke", "opk_nope")


def test_tenants_lifecycle_and_keys_of_a_tenant(home: Path, svc: Services) -> None:
    """`keys create --tenant` makes a key of a created tenant, refused after suspend and delete,
    accepted after resume; list/show follow; an unknown tenant is one line and exit 1."""
    acme = _json("tenants", "create", "acme", "--default-tier", "pro")
    assert acme["id"].startswith("ten_") and acme["status"] == "active"
    assert acme["name"] == "acme" and acme["default_tier"] == "pro"
    key = _run("keys", "create", "--name", "k", "--tenant", acme["id"], "--mode", "test")
    raw = key.stdout.strip()
    assert raw.startswith("cp_test_"), key.stdout
    principal = authenticate(svc, f"Bearer {raw}")
    assert principal.tenant_id == acme["id"] and principal.tier == "pro"
    [listed] = _json("keys", "list", "--tenant", acme["id"])
    assert listed["name"] == "k" and listed["id"] == principal.key_id
    # The default tenant's keys are another list.
    assert all(k["id"] != principal.key_id for k in _json("keys", "list"))
    with svc.db.read() as conn:
        row = tenants.get_api_key(conn, acme["id"], principal.key_id)
    assert row is not None

    suspended = _json("tenants", "suspend", acme["id"])
    assert suspended["status"] == "suspended" and suspended["suspended_at"]
    with pytest.raises(Forbidden) as refused:
        authenticate(svc, f"Bearer {raw}")
    assert refused.value.code == "tenant_suspended"
    [only] = _json("tenants", "list", "--status", "suspended")
    assert only["id"] == acme["id"]
    assert _json("tenants", "resume", acme["id"])["status"] == "active"
    assert authenticate(svc, f"Bearer {raw}").tenant_id == acme["id"]

    updated = _json("tenants", "update", acme["id"], "--name", "Acme Inc.")
    assert updated["name"] == "Acme Inc." and updated["default_tier"] == "pro"
    shown = _json("tenants", "show", acme["id"])
    assert shown == updated
    human = _run("tenants", "show", acme["id"]).stdout
    assert acme["id"] in human and "Acme Inc." in human

    deleted = _json("tenants", "delete", acme["id"], "--retention-days", "7")
    assert deleted["status"] == "deleted" and deleted["purge_after"]
    with pytest.raises(Forbidden) as gone:
        authenticate(svc, f"Bearer {raw}")
    assert gone.value.code == "tenant_deleted"
    everyone = {t["name"]: t for t in _json("tenants", "list")}
    assert set(everyone) == {"Acme Inc.", "default"}
    assert everyone["default"]["is_default"] is True
    assert everyone["Acme Inc."]["status"] == "deleted"
    ids = _run("tenants", "list", "-q").stdout.split()
    assert sorted(ids) == sorted([acme["id"], everyone["default"]["id"]])

    for args in (
        ("keys", "create", "--name", "k", "--tenant", "nope"),
        ("keys", "list", "--tenant", "nope"),
        ("tenants", "show", "nope"),
        ("tenants", "suspend", "nope"),
        ("tenants", "resume", "nope"),
        ("tenants", "delete", "nope"),
    ):
        message = _refused(*args)
        assert "no tenant 'nope'" in message, (args, message)
    default_id = everyone["default"]["id"]
    assert "default_tenant" in _refused("tenants", "delete", default_id)
    assert "tenant_not_active" in _refused("tenants", "suspend", acme["id"])
    assert "unknown_tier" in _refused("tenants", "create", "x", "--default-tier", "gold")
    assert {t["name"] for t in _json("tenants", "list")} == {"Acme Inc.", "default"}
