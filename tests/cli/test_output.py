"""Output scripts can read and people can copy: --json and -q on every command, plain text
when piped or with NO_COLOR, tables that never cut an id or a URL (issue 13, item 9)."""

from __future__ import annotations

import io
import json
import logging
import os
import pty
import re
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import typer.main
from typer.testing import CliRunner

from crosspost.cli import app
from crosspost.cli._common import Col, Output, make_console
from crosspost.config import Settings
from crosspost.engine.account_check import CheckReport
from crosspost.media.samples import make_video
from tests.served import Served, clean_env, run_cli

ESC = "\x1b"


def _commands(group: Any, prefix: str = "") -> dict[str, Any]:
    found: dict[str, Any] = {}
    for name, command in group.commands.items():
        if hasattr(command, "commands"):  # a group (typer's own click)
            found |= _commands(command, f"{prefix}{name} ")
        else:
            found[prefix + name] = command
    return found


COMMANDS = _commands(typer.main.get_command(app))


@pytest.fixture
def home(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    """A fresh home and no other CROSSPOST_ setting."""
    for name in [n for n in os.environ if n.startswith("CROSSPOST_")]:
        monkeypatch.delenv(name)
    monkeypatch.setenv("CROSSPOST_HOME", str(tmp_path / "home"))
    return tmp_path / "home"


@pytest.mark.parametrize("name", sorted(COMMANDS))
def test_every_command_takes_json_and_quiet(name: str) -> None:
    """Each command, a new one included, has --json and -q/--quiet (one shared decorator)."""
    options = {opt for param in COMMANDS[name].params for opt in getattr(param, "opts", [])}
    assert {"--json", "--quiet", "-q"} <= options, name


def test_local_commands_print_json_and_ids(home: Path) -> None:
    """--json is the whole result and nothing else on stdout (no home line either); -q is
    the ids, one a line; --json with -q is a usage error."""
    runner = CliRunner()
    made = runner.invoke(app, ["keys", "create", "--name", "a", "--json"])
    assert made.exit_code == 0, made.output
    key = json.loads(made.stdout)
    assert key["key"].startswith("cp_live_") and key["role"] == "developer"
    assert "home:" not in made.stderr  # the context line is for people only
    quiet = runner.invoke(app, ["keys", "create", "--name", "b", "-q"])
    key_id, secret = quiet.stdout.split()
    assert key_id.startswith("key_") and secret.startswith("cp_live_")
    listed = runner.invoke(app, ["keys", "list", "-q"])
    assert sorted(listed.stdout.split()) == sorted([key["id"], key_id])
    as_json = json.loads(runner.invoke(app, ["keys", "list", "--json"]).stdout)
    assert {k["name"] for k in as_json} == {"a", "b"}
    assert all("key" not in k for k in as_json)  # never a secret in a list
    revoked = runner.invoke(app, ["keys", "revoke", key_id, "--json"])
    assert json.loads(revoked.stdout) == {"id": key_id, "revoked": True}
    client = runner.invoke(app, ["oauth-clients", "create", "--name", "p", "--scope",
                                 "posts:read", "-q"])  # fmt: skip
    client_id, client_secret = client.stdout.split()
    assert client_id.startswith("cli_") and client_secret
    assert runner.invoke(app, ["oauth-clients", "list", "-q"]).stdout.split() == [client_id]
    usage = json.loads(runner.invoke(app, ["usage", "--json"]).stdout)
    assert "tenant" in usage and "period" in usage
    assert json.loads(runner.invoke(app, ["vault", "rotate", "--json"]).stdout)["rotated"] == 0
    assert runner.invoke(app, ["migrate", "-q"]).stdout.strip()
    both = runner.invoke(app, ["keys", "list", "--json", "-q"])
    assert both.exit_code == 2


def test_tables_keep_ids_and_urls_whole_at_80_columns() -> None:
    """At 80 columns a table wraps its other columns and keeps every id and URL on one
    line; when even those cannot fit, it prints each row as `name: value` lines."""
    url = "https://www.youtube.com/shorts/dQw4w9WgXcQ (sandbox)"
    target = "tgt_01M94JVDZKR1TB0RD2J9EHS46A"
    cols = [Col("target", keep=True), Col("status"), Col("url", keep=True), Col("error")]
    rows = [[target, "published", url, "transient: the platform answered 503 " * 3]]
    for width, columns in ((80, cols), (60, cols)):
        buffer = io.StringIO()
        out = Output()
        os.environ["COLUMNS"] = str(width)
        try:
            out.out = make_console(buffer)
        finally:
            del os.environ["COLUMNS"]
        out.table(columns, rows)
        text = buffer.getvalue()
        assert target in text and url in text, text
        assert max(len(line) for line in text.splitlines()) <= width, text


def test_keys_list_at_80_columns_keeps_full_ids(home: Path) -> None:
    """`crosspost keys list` with COLUMNS=80: every key id whole, no line over 80."""
    runner = CliRunner()
    ids = [runner.invoke(app, ["keys", "create", "--name", f"k{i}", "-q"]).stdout.split()[0]
           for i in range(2)]  # fmt: skip
    listed = runner.invoke(app, ["keys", "list"], env={"COLUMNS": "80"})
    assert all(key_id in listed.stdout for key_id in ids), listed.stdout
    assert max(len(line) for line in listed.stdout.splitlines()) <= 80


def _on_a_terminal(args: list[str], env: dict[str, str]) -> str:
    """Run `crosspost ARGS` with stdout and stderr on a pseudo-terminal; what it showed."""
    leader, follower = pty.openpty()
    proc = subprocess.Popen([sys.executable, "-m", "crosspost", *args], env=env,
                            stdout=follower, stderr=follower)  # fmt: skip
    os.close(follower)
    chunks = []
    while True:
        try:
            data = os.read(leader, 4096)
        except OSError:  # the terminal closed: the process is done
            break
        if not data:
            break
        chunks.append(data)
    proc.wait(timeout=60)
    os.close(leader)
    return b"".join(chunks).decode(errors="replace")


def test_no_escape_codes_when_piped_or_with_no_color(tmp_path: Path) -> None:
    """Piped: no escape code on stdout or stderr. On a terminal: colour, unless NO_COLOR
    is set, which leaves no escape code at all."""
    env = clean_env(CROSSPOST_HOME=str(tmp_path / "home"), COLUMNS="200")
    run_cli(env, "keys", "create", "--name", "k", cwd=tmp_path)
    piped = run_cli(env, "keys", "list", cwd=tmp_path)
    assert piped.returncode == 0 and "key_" in piped.stdout
    assert ESC not in piped.stdout + piped.stderr
    assert ESC in _on_a_terminal(["keys", "list"], env)  # the check can see them
    shown = _on_a_terminal(["keys", "list"], {**env, "NO_COLOR": "1"})
    assert "key_" in shown and ESC not in shown, repr(shown)


def test_server_logs_have_no_colour_off_a_terminal(
    process_logs: Callable[[Settings], io.StringIO], monkeypatch: pytest.MonkeyPatch
) -> None:
    """The console log format colours only a terminal's lines: a pipe or file gets plain
    text, and a report logs as words, not as a dataclass repr."""
    logged = process_logs(Settings(_env_file=None, log_json=False))  # type: ignore[call-arg]
    logging.getLogger("crosspost.test").warning("accounts checked: %s", CheckReport(6, 1, 0))
    text = logged.getvalue()
    assert "accounts checked: 6 checked, 1 token(s) refreshed" in text, text
    assert ESC not in text and "CheckReport(" not in text


@pytest.mark.slow
def test_commands_through_the_api_print_json_ids_and_full_values(
    serve: Callable[..., Served], tmp_path: Path
) -> None:
    """Against a served sandbox: publish/status/ledger/webhooks with --json and -q; status
    at 80 columns keeps ids and URLs whole and marks sandbox URLs; ledger times carry the
    date."""
    env = clean_env(CROSSPOST_HOME=str(tmp_path / "home"))
    served = serve(env, tmp_path)
    key = run_cli(env, "keys", "create", "--name", "demo", cwd=tmp_path).stdout.strip()
    env = {**env, "CROSSPOST_API_KEY": key, "CROSSPOST_API_URL": served.url}
    clip = make_video(tmp_path / "clip.mp4", seconds=1.0)
    posted = run_cli(env, "publish", str(clip), "--to", "youtube", "--json", cwd=tmp_path)
    assert posted.returncode == 0, posted.stderr
    post = json.loads(posted.stdout)
    assert post["status"] == "published", post
    quiet = run_cli(env, "publish", "--caption", "hi", "--to", "x", "-q", cwd=tmp_path)
    assert re.fullmatch(r"post_\w+\n", quiet.stdout), quiet.stdout + quiet.stderr
    shown = run_cli({**env, "COLUMNS": "80"}, "status", post["id"], cwd=tmp_path)
    url = post["targets"][0]["external_url"]
    assert post["targets"][0]["id"] in shown.stdout and f"{url} (sandbox)" in shown.stdout
    assert max(len(line) for line in shown.stdout.splitlines()) <= 80, shown.stdout
    assert run_cli(env, "status", post["id"], "-q", cwd=tmp_path).stdout == f"{post['id']}\n"
    ledger = run_cli(env, "ledger", post["id"], cwd=tmp_path)
    assert re.search(r"\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}\.\d{3}", ledger.stdout), ledger.stdout
    events = json.loads(run_cli(env, "ledger", post["id"], "--json", cwd=tmp_path).stdout)
    ids = run_cli(env, "ledger", post["id"], "-q", cwd=tmp_path).stdout.split()
    assert ids == [e["id"] for e in events] and ids
    added = run_cli(env, "webhooks", "add", "https://example.com/in", "--json", cwd=tmp_path)
    hook = json.loads(added.stdout)
    assert run_cli(env, "webhooks", "list", "-q", cwd=tmp_path).stdout.split() == [hook["id"]]
