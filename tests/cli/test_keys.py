"""`crosspost keys` on the local state."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from typer.testing import CliRunner

from crosspost.cli import app
from crosspost.config import Settings
from crosspost.engine.keys import default_tenant
from crosspost.engine.services import Services
from crosspost.store import tenants


@pytest.fixture
def home(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    """A fresh home of this test's own (and no other CROSSPOST_ setting)."""
    for name in [n for n in os.environ if n.startswith("CROSSPOST_")]:
        monkeypatch.delenv(name)
    monkeypatch.setenv("CROSSPOST_HOME", str(tmp_path / "home"))
    return tmp_path / "home"


def _stored_keys() -> dict[str, tuple[str | None, list[str]]]:
    svc = Services.build(Settings())
    try:
        with svc.db.read() as conn:
            rows = tenants.list_api_keys(conn, default_tenant(svc))
        return {r["name"]: (r["role"], sorted(r["scopes"])) for r in rows}
    finally:
        svc.close()


def test_keys_default_to_the_developer_role(home: Path) -> None:
    """A key made without --role is a developer key (no admin scope), as the API's default;
    --role and --scope still choose; the help says what the default is."""
    runner = CliRunner()
    for args in (["--name", "plain"], ["--name", "ops", "--role", "admin"],
                 ["--name", "reader", "--scope", "posts:read"]):  # fmt: skip
        made = runner.invoke(app, ["keys", "create", *args])
        assert made.exit_code == 0, made.output
    stored = _stored_keys()
    assert stored["plain"][0] == "developer"
    assert "admin" not in stored["plain"][1] and "posts:write" in stored["plain"][1]
    assert stored["ops"][0] == "admin" and "admin" in stored["ops"][1]
    assert stored["reader"] == (None, ["posts:read"])
    helped = runner.invoke(app, ["keys", "create", "--help"], env={"COLUMNS": "200"})
    assert "developer (the default" in helped.output
