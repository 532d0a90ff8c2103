"""`crosspost flags` on the local state (the group is run on its own here)."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from crosspost.cli.flags import app
from crosspost.config import Settings
from crosspost.engine.services import Services
from crosspost.flags.rules import KNOWN_FLAGS
from crosspost.store import audit


@pytest.fixture
def home(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    """A fresh home of this test's own (and no other CROSSPOST_ setting)."""
    for name in [n for n in os.environ if n.startswith("CROSSPOST_")]:
        monkeypatch.delenv(name)
    monkeypatch.setenv("CROSSPOST_HOME", str(tmp_path / "home"))
    return tmp_path / "home"


def flags(*args: str) -> Any:
    """Run `crosspost flags ARGS --json`; its parsed output."""
    result = CliRunner().invoke(app, [*args, "--json"])
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


def test_set_check_kill_delete(home: Path) -> None:
    """A flag made, checked per tenant, killed, revived and deleted from the command line,
    every change in the audit log as the CLI's."""
    made = flags("set", "publish.threads", "--percent", "10", "--allow", "ten_a",
                 "--deny", "ten_d", "--description", "Threads publishing")  # fmt: skip
    assert (made["rollout_percent"], made["allow_tenants"], made["deny_tenants"]) == (
        10, ["ten_a"], ["ten_d"]
    )  # fmt: skip
    assert flags("check", "publish.threads", "ten_a")["reason"] == "allowed"
    outside = flags("check", "publish.threads", "ten_b")
    assert outside["on"] is False and "42.54 %" in outside["why"]
    assert flags("set", "publish.threads", "--percent", "50")["allow_tenants"] == ["ten_a"]
    assert flags("check", "publish.threads", "ten_b")["on"] is True
    assert flags("kill", "publish.threads")["killed"] is True
    assert flags("check", "publish.threads", "ten_a")["reason"] == "killed"
    assert flags("set", "publish.threads", "--percent", "60")["killed"] is True
    assert flags("set", "publish.threads", "--revive", "--clear-allow")["killed"] is False
    listed = {f["key"]: f for f in flags("list")}
    assert set(KNOWN_FLAGS) <= listed.keys()
    assert listed["publish.threads"]["allow_tenants"] == []
    assert flags("delete", "publish.threads") == {"key": "publish.threads", "deleted": True}
    svc = Services.build(Settings())
    try:
        with svc.db.read() as conn:
            events = audit.page(conn, None, limit=20, action="flag.")
    finally:
        svc.close()
    assert [e["action"] for e in reversed(events)] == [
        "flag.created", "flag.updated", "flag.killed", "flag.updated", "flag.updated",
        "flag.deleted",
    ]  # fmt: skip
    assert {e["actor_type"] for e in events} == {"cli"}


def test_refusals_say_what_to_change(home: Path) -> None:
    """A bad key, a percentage out of range, an unknown flag: exit 1 with the reason."""
    runner = CliRunner()
    for args, words in (
        (["set", "Bad Key"], "invalid_flag_key"),
        (["set", "x", "--percent", "150"], "0 to 100"),
        (["kill", "no.such.flag"], "not_found"),
        (["show", "no.such.flag"], "crosspost flags list"),
    ):
        result = runner.invoke(app, args)
        assert result.exit_code == 1, result.output
        assert words in result.stderr, result.stderr


def test_show_a_registered_flag(home: Path) -> None:
    """A flag the code registers shows as on, not stored, before anyone sets it."""
    key = next(iter(KNOWN_FLAGS))
    shown = flags("show", key)
    assert (shown["stored"], shown["enabled"], shown["rollout_percent"]) == (False, True, 100)
    human = CliRunner().invoke(app, ["show", key], env={"COLUMNS": "200"})
    assert "code's default" in human.stdout
