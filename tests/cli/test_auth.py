"""`crosspost login` and `crosspost auth status|list|switch|logout` against a served
sandbox: the key is checked before anything is saved, never printed, and every command
then finds its server and key in the profile."""

from __future__ import annotations

import json
import os
import pty
import select
import stat
import subprocess
import sys
import time
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from typer.testing import CliRunner, Result

from crosspost.cli import app
from crosspost.cli._home import write_record
from crosspost.config import Settings
from crosspost.domain.enums import KeyRole, Mode
from crosspost.engine.keys import default_tenant, issue_key
from crosspost.engine.services import Services
from crosspost.fakes.server import free_port
from tests.served import Servers, clean_env


@dataclass
class Sandbox:
    """A served sandbox, the environment of `crosspost` processes beside it (no URL or key
    in it) and where the profiles go."""

    url: str
    env: dict[str, str]
    cwd: Path
    profiles: Path
    tenant_id: str
    made: list[str]

    def key(self, name: str = "me", **options: Any) -> tuple[str, str]:
        """A new key on the served home: (its id, the secret); remembered, so that tests
        can look for every secret in every output."""
        svc = Services.build(Settings())
        try:
            options.setdefault("mode", Mode.TEST)
            key_id, raw = issue_key(svc, tenant_id=default_tenant(svc), name=name, **options)
        finally:
            svc.close()
        self.made.append(raw)
        return key_id, raw

    def run(self, *args: str, stdin: str = "") -> subprocess.CompletedProcess[str]:
        """`crosspost ARGS` as a real process, `stdin` piped to it."""
        return subprocess.run(
            [sys.executable, "-m", "crosspost", *args],
            env=self.env,
            cwd=self.cwd,
            input=stdin,
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )

    def assert_no_key(self, *outputs: str) -> None:
        """No key made in this test appears in any of `outputs`, whole or as its secret
        part (a hint shows 4 characters of it and 4 of the checksum)."""
        for raw in self.made:
            for text in outputs:
                assert raw not in text and raw[12:-4] not in text


@pytest.fixture
def sandbox(serve: Servers, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Sandbox:
    """`crosspost serve --sandbox` on its own home; this process and the ones it starts use
    that home and a config folder of this test's own, and no other CROSSPOST_ setting."""
    for name in [n for n in os.environ if n.startswith("CROSSPOST_")]:
        monkeypatch.delenv(name)
    home, config = tmp_path / "home", tmp_path / "config"
    monkeypatch.setenv("CROSSPOST_HOME", str(home))
    monkeypatch.setenv("XDG_CONFIG_HOME", str(config))
    env = clean_env(CROSSPOST_HOME=str(home), XDG_CONFIG_HOME=str(config))
    served = serve(env, tmp_path)
    svc = Services.build(Settings())
    try:
        tenant_id = default_tenant(svc)
    finally:
        svc.close()
    return Sandbox(served.url, env, tmp_path, config / "crosspost" / "profiles.toml",
                   tenant_id, [])  # fmt: skip


def _cli(*args: str, stdin: str | None = None, env: dict[str, str] | None = None) -> Result:
    return CliRunner().invoke(app, list(args), input=stdin, env=env)


def test_login_with_key_on_stdin_checks_and_saves_a_private_profile(sandbox: Sandbox) -> None:
    """`keys create | login --with-key` finds the served API, shows who the key is (key id,
    role, mode, tenant, sandbox marked), saves URL and key in a 0600 file in a 0700 folder,
    and then an API command needs no URL or key; no output holds the key."""
    key_id, raw = sandbox.key(role=KeyRole.DEVELOPER)
    logged = sandbox.run("login", "--with-key", stdin=raw + "\n")
    assert logged.returncode == 0, logged.stderr
    shown = " ".join(logged.stdout.split())
    assert f"logged in to {sandbox.url} (sandbox) with {raw[:12]}…{raw[-4:]}" in shown
    assert f"key {key_id} (me), test mode, role developer" in shown
    assert f"default ({sandbox.tenant_id})" in shown
    assert "saved as profile 'default' (the default profile)" in shown
    assert stat.S_IMODE(sandbox.profiles.stat().st_mode) == 0o600
    assert stat.S_IMODE(sandbox.profiles.parent.stat().st_mode) == 0o700
    saved = tomllib.loads(sandbox.profiles.read_text())
    assert saved["default"] == "default"
    assert saved["profiles"]["default"] == {"api_url": sandbox.url, "key": raw, "key_id": key_id}
    listed = sandbox.run("webhooks", "list", "--json")
    assert listed.returncode == 0, listed.stderr
    assert json.loads(listed.stdout) == []
    status = sandbox.run("auth", "status")
    assert status.returncode == 0, status.stderr
    assert "status:   ok, the key works" in status.stdout
    sandbox.assert_no_key(logged.stdout, logged.stderr, status.stdout, status.stderr,
                          listed.stdout, listed.stderr)  # fmt: skip


def test_a_refused_key_saves_nothing(sandbox: Sandbox) -> None:
    """A revoked key (the server answers 401), a mistyped one (refused before any request)
    and an unreachable server each say why, exit non-zero and save nothing; no output holds
    the key."""
    key_id, revoked = sandbox.key()
    _cli("keys", "revoke", key_id)
    refused = _cli("login", "--api-url", sandbox.url, "--with-key", stdin=revoked)
    assert refused.exit_code == 1
    assert (
        f"the server at {sandbox.url} refused the key: Invalid API key (invalid_api_key); "
        "nothing was saved"
    ) in " ".join(refused.stderr.split())
    _, good = sandbox.key()
    typo = good[:20] + ("x" if good[20] != "x" else "y") + good[21:]
    sandbox.made.append(typo)
    mistyped = _cli("login", "--api-url", sandbox.url, "--key", typo)
    assert mistyped.exit_code == 2 and "not a crosspost API key" in mistyped.stderr
    nowhere = f"http://127.0.0.1:{free_port()}"
    unreachable = _cli("login", "--api-url", nowhere, "--key", good)
    assert unreachable.exit_code == 1
    assert f"cannot reach {nowhere}" in unreachable.stderr
    assert "nothing was saved" in unreachable.stderr
    not_a_url = _cli("login", "--api-url", "ftp://example.com", "--key", good)
    assert not_a_url.exit_code == 2 and "is not an API URL" in not_a_url.stderr
    assert not sandbox.profiles.exists()
    sandbox.assert_no_key(*(r.output + r.stderr for r in (refused, mistyped, unreachable)))


def test_the_key_must_come_from_one_place(sandbox: Sandbox) -> None:
    """--key and --with-key together, an empty stdin, or no key at all off a terminal are
    usage errors that say how to give the key; --key gets a tip about shell history."""
    _, raw = sandbox.key()
    both = _cli("login", "--key", raw, "--with-key", stdin=raw)
    assert both.exit_code == 2 and "not both" in both.stderr
    empty = _cli("login", "--with-key", stdin="\n")
    assert empty.exit_code == 2 and "read nothing" in empty.stderr
    none = _cli("login", stdin="")
    assert none.exit_code == 2 and "crosspost login --with-key" in none.stderr
    flagged = _cli("login", "--key", raw)
    assert flagged.exit_code == 0, flagged.output
    assert "--with-key reads the key from standard input" in flagged.stderr
    sandbox.assert_no_key(*(r.output + r.stderr for r in (both, empty, none, flagged)))


def _read_until_exit(fd: int, proc: subprocess.Popen[bytes], deadline: float) -> bytes:
    seen = b""
    while time.monotonic() < deadline:
        ready, _, _ = select.select([fd], [], [], 0.1)
        if ready:
            try:
                chunk = os.read(fd, 4096)
            except OSError:  # the child closed the terminal
                break
            if not chunk:
                break
            seen += chunk
        elif proc.poll() is not None:
            break
    return seen


def test_on_a_terminal_the_key_is_asked_for_and_not_echoed(sandbox: Sandbox) -> None:
    """Without --key or --with-key on a terminal, login prompts; what is typed does not
    appear on the terminal, and the profile is saved."""
    key_id, raw = sandbox.key()
    leader, follower = pty.openpty()
    proc = subprocess.Popen(
        [sys.executable, "-m", "crosspost", "login", "--profile", "typed"],
        env=sandbox.env,
        cwd=sandbox.cwd,
        stdin=follower,
        stdout=follower,
        stderr=follower,
        start_new_session=True,  # its terminal is the pty alone, never pytest's
    )
    os.close(follower)
    try:
        deadline = time.monotonic() + 60
        seen = b""
        # The prompt's last space comes once echo is off and pending input flushed: what
        # is typed before it would be thrown away.
        while b"API key (not shown): " not in seen and time.monotonic() < deadline:
            ready, _, _ = select.select([leader], [], [], 0.1)
            if ready:
                seen += os.read(leader, 4096)
        assert b"API key (not shown): " in seen, seen
        os.write(leader, raw.encode() + b"\r")
        seen += _read_until_exit(leader, proc, deadline)
        assert proc.wait(timeout=30) == 0, seen
    finally:
        os.close(leader)
        if proc.poll() is None:
            proc.kill()
    assert f"key {key_id} (me)".encode() in seen
    sandbox.assert_no_key(seen.decode())
    assert tomllib.loads(sandbox.profiles.read_text())["profiles"]["typed"]["key"] == raw


def test_status_list_switch_logout_speak_json_and_quiet(sandbox: Sandbox) -> None:
    """Two profiles (a sandbox one and a live one): list marks the default and the sandbox,
    switch changes the default, status says which profile and why, logout forgets one;
    each with --json (no key in it, only a hint) and -q (names or ids)."""
    dev_id, dev = sandbox.key("dev")
    ops_id, ops = sandbox.key("ops", mode=Mode.LIVE, role=KeyRole.ADMIN)
    assert _cli("login", "--profile", "dev", "--with-key", stdin=dev).exit_code == 0
    second = _cli("login", "--profile", "ops", "--api-url", sandbox.url, "--with-key",
                  stdin=ops)  # fmt: skip
    assert second.exit_code == 0, second.output
    assert "default stays 'dev'" in second.stdout
    assert "crosspost auth switch ops" in second.stderr
    listed = json.loads(_cli("auth", "list", "--json").stdout)
    assert listed == [
        {"name": "dev", "default": True, "api_url": sandbox.url, "sandbox": True,
         "mode": "test", "key_hint": f"{dev[:12]}…{dev[-4:]}", "key_id": dev_id},
        {"name": "ops", "default": False, "api_url": sandbox.url, "sandbox": False,
         "mode": "live", "key_hint": f"{ops[:12]}…{ops[-4:]}", "key_id": ops_id},
    ]  # fmt: skip
    table = _cli("auth", "list", env={"COLUMNS": "200"}).stdout
    assert f"*  dev   {sandbox.url} (sandbox)" in table and f"ops   {sandbox.url}  " in table
    assert _cli("auth", "list", "-q").stdout == "dev\nops\n"

    switched = _cli("auth", "switch", "ops", "--json")
    assert json.loads(switched.stdout) == {"default": "ops", "api_url": sandbox.url,
                                           "sandbox": False}  # fmt: skip
    status = json.loads(_cli("auth", "status", "--json").stdout)
    assert status["profile"] == {"name": "ops", "from": "default"} and status["ok"] is True
    assert status["key"] == {"hint": f"{ops[:12]}…{ops[-4:]}",
                             "from": "the default profile 'ops'"}  # fmt: skip
    assert status["caller"]["key"]["id"] == ops_id and status["caller"]["role"] == "admin"
    assert status["caller"]["mode"] == "live" and status["sandbox"] is False
    assert _cli("auth", "status", "-q").stdout == f"{ops_id}\n"
    named = _cli("--profile", "dev", "auth", "status")
    assert "profile:  dev (named by --profile)" in named.stdout
    assert f"api:      {sandbox.url} (sandbox), from --profile dev" in named.stdout
    assert _cli("auth", "switch", "nope").exit_code == 1

    gone = _cli("auth", "logout", "--profile", "ops", "--json")
    assert json.loads(gone.stdout) == {"profile": "ops", "removed": True, "default": None}
    assert _cli("auth", "list", "-q").stdout == "dev\n"
    assert _cli("auth", "logout", "-q").exit_code == 1  # no default left to log out of
    assert _cli("auth", "logout", "--profile", "dev", "-q").stdout == "dev\n"
    after = _cli("auth", "status", "--json")
    assert after.exit_code == 1 and json.loads(after.stdout)["problem"]["code"] == "no_key"
    outputs = [second.stdout, second.stderr, table, switched.stdout, named.stdout, gone.stdout]
    sandbox.assert_no_key(*outputs, json.dumps(listed), json.dumps(status))


def test_status_says_when_the_key_no_longer_works(sandbox: Sandbox) -> None:
    """After the profile's key is revoked, status exits 1 and says the server refuses it;
    its JSON carries the problem's code, never the key."""
    key_id, raw = sandbox.key()
    assert _cli("login", "--with-key", stdin=raw).exit_code == 0
    # Through the API: the server forgets the key at once (it has it cached since login).
    _, admin = sandbox.key("admin", role=KeyRole.ADMIN)
    revoked = httpx.delete(
        f"{sandbox.url}/v1/keys/{key_id}", headers={"Authorization": f"Bearer {admin}"}
    )
    assert revoked.status_code == 204, revoked.text
    human = _cli("auth", "status")
    assert human.exit_code == 1
    assert "refused the key: Invalid API key (invalid_api_key)" in human.stdout
    machine = _cli("auth", "status", "--json")
    data = json.loads(machine.stdout)
    assert machine.exit_code == 1 and data["ok"] is False and data["caller"] is None
    assert data["problem"]["status"] == 401 and data["problem"]["code"] == "invalid_api_key"
    sandbox.assert_no_key(human.stdout, human.stderr, machine.stdout, machine.stderr)


def test_login_again_keeps_the_profiles_server(sandbox: Sandbox) -> None:
    """Logging in again to a profile without --api-url keeps its server and replaces its
    key, even when another server runs on the home now."""
    _, first = sandbox.key("first")
    other = f"http://127.0.0.1:{free_port()}"
    assert _cli("login", "--profile", "p", "--api-url", sandbox.url, "--key", first).exit_code == 0
    write_record(Settings().home, api_url=other, sandbox=True, fakes_url=None)
    second_id, second = sandbox.key("second")
    again = _cli("login", "--profile", "p", "--with-key", stdin=second)
    assert again.exit_code == 0, again.output
    saved = tomllib.loads(sandbox.profiles.read_text())["profiles"]["p"]
    assert saved == {"api_url": sandbox.url, "key": second, "key_id": second_id}


def test_the_environments_signing_secret_signs_only_for_its_own_key(sandbox: Sandbox) -> None:
    """With CROSSPOST_API_KEY and its CROSSPOST_SIGNING_SECRET exported (the README's signing
    section), logging in with another key checks that key unsigned, as it has no such
    secret, while commands with the exported key still sign with it."""
    env_id, env_key = sandbox.key("signer")
    made = sandbox.run("keys", "signing-secret", env_id)
    assert made.returncode == 0, made.stderr
    sandbox.env |= {"CROSSPOST_API_KEY": env_key, "CROSSPOST_SIGNING_SECRET": made.stdout.strip()}
    _, other = sandbox.key("other")
    logged = sandbox.run("login", "--with-key", stdin=other + "\n")
    assert logged.returncode == 0, logged.stderr
    assert "logged in to" in logged.stdout
    wrong = {**sandbox.env, "CROSSPOST_SIGNING_SECRET": "cpsig_" + "A" * 43}
    signed = subprocess.run(
        [sys.executable, "-m", "crosspost", "posts", "list"],
        env=wrong,
        cwd=sandbox.cwd,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert signed.returncode == 4 and "invalid_signature" in signed.stderr, signed.stderr
