"""`--help` worth reading: values named, not Python types; the platforms listed; an example
for each command; --version and shell completion on the root (issue 13, item 12)."""

from __future__ import annotations

import os
import re
from pathlib import Path

import pytest
from typer.testing import CliRunner

from crosspost import __version__
from crosspost.cli import app
from crosspost.cli._home import write_record
from crosspost.domain.enums import Platform
from tests.cli.test_output import COMMANDS

WIDE = {"COLUMNS": "200"}


def _help(*words: str) -> str:
    shown = CliRunner().invoke(app, [*words, "--help"], env=WIDE)
    assert shown.exit_code == 0, shown.output
    return shown.stdout


@pytest.mark.parametrize("name", sorted(COMMANDS))
def test_help_names_values_and_shows_an_example(name: str) -> None:
    """No `<str>`, `<bool>`, `<list[str]>` type names, and an example to copy."""
    text = _help(*name.split())
    assert not re.search(r"<[a-z_\[\]|. ]+>", text), text
    assert "Examples:" in text and f"crosspost {name}" in text, text


def test_the_root_help_version_and_completion() -> None:
    """The root help has no type names; --version prints the version; completion is on."""
    text = _help()
    assert not re.search(r"<[a-z_\[\]|. ]+>", text), text
    assert "--install-completion" in text and "--version" in text
    shown = CliRunner().invoke(app, ["--version"])
    assert shown.exit_code == 0 and shown.stdout == f"{__version__}\n"


def test_platforms_are_listed_where_they_are_chosen() -> None:
    """`publish --to` and `accounts connect` name all six platforms."""
    for words in (["publish"], ["accounts", "connect"]):
        text = " ".join(_help(*words).split())
        assert all(p.value in text for p in Platform), (words, text)
    refused = CliRunner().invoke(app, ["accounts", "connect", "youtub"], env=WIDE)
    assert refused.exit_code == 2 and "soundcloud" in refused.output


def test_oauth_clients_default_to_the_servers_mode(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """Under a sandbox server an OAuth client is a test client unless --mode says live."""
    for name in [n for n in os.environ if n.startswith("CROSSPOST_")]:
        monkeypatch.delenv(name)
    home = tmp_path / "home"
    monkeypatch.setenv("CROSSPOST_HOME", str(home))
    write_record(home, api_url="http://127.0.0.1:9", sandbox=True, fakes_url=None)
    runner = CliRunner()
    made = runner.invoke(app, ["oauth-clients", "create", "--name", "p", "--scope",
                               "posts:read", "--json"])  # fmt: skip
    assert made.exit_code == 0, made.output
    assert '"mode": "test"' in made.stdout
    live = runner.invoke(app, ["oauth-clients", "create", "--name", "q", "--scope",
                               "posts:read", "--mode", "live", "--json"])  # fmt: skip
    assert '"mode": "live"' in live.stdout
