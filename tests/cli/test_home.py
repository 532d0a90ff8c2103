"""Every command finds the same home the server uses, says which, and warns when no server
runs on it (issue 13, item 6)."""

from __future__ import annotations

import os
import re
from pathlib import Path

import httpx
import pytest
from typer.testing import CliRunner

from crosspost.cli import app
from crosspost.cli._home import write_record
from crosspost.config import Settings
from tests.served import Served, Servers, clean_env, run_cli


@pytest.fixture
def no_home(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    """No CROSSPOST_HOME, a user folder under tmp_path; returns a fresh working folder."""
    monkeypatch.delenv("CROSSPOST_HOME", raising=False)
    monkeypatch.delenv("XDG_DATA_HOME", raising=False)
    monkeypatch.setenv("HOME", str(tmp_path / "user"))
    work = tmp_path / "work"
    work.mkdir()
    monkeypatch.chdir(work)
    return work


def test_crosspost_home_wins(no_home: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """CROSSPOST_HOME is the home, made absolute, even beside a `.crosspost/` folder."""
    (no_home / ".crosspost").mkdir()
    monkeypatch.setenv("CROSSPOST_HOME", "state")
    assert Settings().home == no_home / "state"


def test_the_nearest_crosspost_folder_upward(
    no_home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Without CROSSPOST_HOME, the nearest existing `.crosspost/` from the working folder up."""
    (no_home / ".crosspost").mkdir()
    deep = no_home / "a" / "b"
    deep.mkdir(parents=True)
    monkeypatch.chdir(deep)
    assert Settings().home == no_home / ".crosspost"


def test_the_per_user_default(
    no_home: Path, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """With neither, the per-user folder: $XDG_DATA_HOME/crosspost, else
    ~/.local/share/crosspost — never a new `.crosspost/` in the working folder."""
    assert Settings().home == tmp_path / "user" / ".local" / "share" / "crosspost"
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "xdg"))
    assert Settings().home == tmp_path / "xdg" / "crosspost"
    monkeypatch.setenv("XDG_DATA_HOME", "relative")  # ignored, as the XDG spec says
    assert Settings().home == tmp_path / "user" / ".local" / "share" / "crosspost"
    assert not (no_home / ".crosspost").exists()


def test_local_commands_name_the_home_and_warn_without_a_server(
    no_home: Path, tmp_path: Path
) -> None:
    """`keys create` says which home it uses and why on stderr, and warns that no server
    runs on it; with a live server recorded there, the warning goes."""
    home = tmp_path / "user" / ".local" / "share" / "crosspost"
    runner = CliRunner()
    made = runner.invoke(app, ["keys", "create", "--name", "k"])
    assert made.exit_code == 0, made.output
    assert f"home: {home} (per-user default)" in made.stderr
    assert "warning: no `crosspost serve` is running on" in made.stderr
    assert made.stdout.startswith("cp_live_")  # only the key on stdout
    write_record(home, api_url="http://127.0.0.1:9", sandbox=True, fakes_url=None)
    again = runner.invoke(app, ["keys", "create", "--name", "k2"])
    assert again.exit_code == 0, again.output
    assert "warning" not in again.stderr
    assert again.stdout.startswith("cp_test_")  # the recorded server runs a sandbox


def test_a_dead_server_does_not_count(no_home: Path, tmp_path: Path) -> None:
    """A record left by a server that has exited is not a running server."""
    home = tmp_path / "user" / ".local" / "share" / "crosspost"
    write_record(home, api_url="http://127.0.0.1:9", sandbox=False, fakes_url=None)
    record = (home / "server.json").read_text()
    (home / "server.json").write_text(re.sub(r'"pid": \d+', '"pid": 999999999', record))
    made = CliRunner().invoke(app, ["keys", "create", "--name", "k"])
    assert "warning: no `crosspost serve` is running" in made.stderr


@pytest.mark.slow
def test_commands_in_another_directory_reach_the_served_home(
    serve: Servers, tmp_path: Path
) -> None:
    """The README's two terminals: serve in one folder, commands in another, no
    CROSSPOST_HOME: the key made there works on the server, and the CLI finds the server's
    address from the home (no CROSSPOST_API_URL)."""
    env = clean_env(HOME=str(tmp_path / "user"))
    env.pop("XDG_DATA_HOME", None)
    one, two = tmp_path / "one", tmp_path / "two"
    one.mkdir()
    two.mkdir()
    served: Served = serve(env, one)
    made = run_cli(env, "keys", "create", "--name", "demo", cwd=two)
    assert made.returncode == 0, made.stderr
    assert "warning" not in made.stderr, made.stderr
    key = made.stdout.strip()
    assert key.startswith("cp_test_")
    answer = httpx.get(f"{served.url}/v1/posts", headers={"Authorization": f"Bearer {key}"})
    assert answer.status_code == 200, answer.text
    listed = run_cli({**env, "CROSSPOST_API_KEY": key}, "webhooks", "list", cwd=two)
    assert listed.returncode == 0, listed.stderr
    assert not (one / ".crosspost").exists() and not (two / ".crosspost").exists()
    assert os.path.isdir(tmp_path / "user" / ".local" / "share" / "crosspost")
