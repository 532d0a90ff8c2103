"""The everyday commands: `posts list|show|cancel|ledger` (with `status` and `ledger` as
their short names), `accounts list|show`, `keys show`, `sample video|audio|image`
(issue 13, item 8)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from typer.testing import CliRunner

from crosspost.cli import app
from crosspost.domain.enums import MediaKind, Platform
from crosspost.media.probe import probe
from tests.served import Served, clean_env, run_cli, servers


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Served, dict[str, str]]]:
    """One served sandbox for the module, and the environment of a test key on it."""
    tmp = tmp_path_factory.mktemp("everyday")
    with servers(tmp) as start:
        served = start(clean_env(CROSSPOST_HOME=str(tmp / "home")), tmp)
        made = run_cli(served.env, "keys", "create", "--name", "demo", "--json", cwd=tmp)
        key = json.loads(made.stdout)
        env = {**served.env, "CROSSPOST_API_KEY": key["key"], "CROSSPOST_API_URL": served.url}
        yield served, {**env, "KEY_ID": key["id"]}


@pytest.mark.slow
def test_posts_list_show_cancel_and_their_short_names(
    site: tuple[Served, dict[str, str]],
) -> None:
    """A text post and a scheduled one: `posts list` shows both (filtered by --status,
    limited by --limit), `posts show` is `status`, `posts ledger` is `ledger`, and
    `posts cancel` cancels the scheduled one (and refuses the published one)."""
    served, env = site
    cwd = served.cwd
    now = run_cli(env, "publish", "--caption", "now", "--to", "x", "-q", cwd=cwd)
    assert now.returncode == 0, now.stderr
    later = run_cli(env, "publish", "--caption", "later", "--to", "x", "--at", "+2h", "-q",
                    cwd=cwd)  # fmt: skip
    assert later.returncode == 0, later.stderr
    now_id, later_id = now.stdout.strip(), later.stdout.strip()
    listed = run_cli(env, "posts", "list", "-q", cwd=cwd).stdout.split()
    assert listed[:2] == [later_id, now_id]
    scheduled = run_cli(env, "posts", "list", "--status", "scheduled", "--json", cwd=cwd)
    assert [p["id"] for p in json.loads(scheduled.stdout)] == [later_id]
    assert run_cli(env, "posts", "list", "--limit", "1", "-q", cwd=cwd).stdout.split() == [later_id]
    shown = run_cli(env, "posts", "show", now_id, "--json", cwd=cwd)
    short = run_cli(env, "status", now_id, "--json", cwd=cwd)
    assert json.loads(shown.stdout) == json.loads(short.stdout)
    assert json.loads(shown.stdout)["status"] == "published"
    ledger = run_cli(env, "posts", "ledger", now_id, "-q", cwd=cwd).stdout
    assert ledger == run_cli(env, "ledger", now_id, "-q", cwd=cwd).stdout and ledger
    cancelled = run_cli(env, "posts", "cancel", later_id, "--json", cwd=cwd)
    assert cancelled.returncode == 0, cancelled.stderr
    assert json.loads(cancelled.stdout)["status"] == "cancelled"
    done = run_cli(env, "posts", "cancel", now_id, cwd=cwd)  # published: too late
    assert done.returncode == 1 and "not_cancellable" in done.stderr


@pytest.mark.slow
def test_accounts_list_and_show(site: tuple[Served, dict[str, str]]) -> None:
    """Every sandbox account is listed, marked as sandbox, never with a token; `show` has
    the details; an unknown id is refused."""
    served, env = site
    listed = run_cli(env, "accounts", "list", "--json", cwd=served.cwd)
    accounts = json.loads(listed.stdout)
    assert {a["platform"] for a in accounts} == {p.value for p in Platform}
    assert "token" not in json.dumps([{k: v for k, v in a.items() if k != "token_expires_at"}
                                      for a in accounts])  # fmt: skip
    table = run_cli({**env, "COLUMNS": "80"}, "accounts", "list", cwd=served.cwd).stdout
    assert "youtube (sandbox)" in table and accounts[0]["id"] in table
    youtube = next(a for a in accounts if a["platform"] == "youtube")
    shown = run_cli(env, "accounts", "show", youtube["id"], cwd=served.cwd)
    assert shown.returncode == 0 and "sandbox_youtube" in shown.stdout, shown.stderr
    assert run_cli(env, "accounts", "show", youtube["id"], "-q", cwd=served.cwd).stdout.strip() \
        == youtube["id"]  # fmt: skip
    missing = run_cli(env, "accounts", "show", "acc_nope", cwd=served.cwd)
    assert missing.returncode == 1 and "not_found" in missing.stderr


@pytest.mark.slow
def test_keys_show(site: tuple[Served, dict[str, str]]) -> None:
    """`keys show` has one key's role, scopes and dates (never the secret); an unknown id
    exits 1 and says where to look."""
    served, env = site
    shown = run_cli(served.env, "keys", "show", env["KEY_ID"], "--json", cwd=served.cwd)
    key = json.loads(shown.stdout)
    assert key["id"] == env["KEY_ID"] and key["role"] == "developer" and key["mode"] == "test"
    assert env["CROSSPOST_API_KEY"] not in shown.stdout + shown.stderr
    missing = run_cli(served.env, "keys", "show", "key_nope", cwd=served.cwd)
    assert missing.returncode == 1 and "crosspost keys list" in missing.stderr


def test_sample_files_are_real_media(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """`sample video|audio|image` write files the prober reads as such, of the size asked;
    a bad --size is a usage error."""
    monkeypatch.chdir(tmp_path)
    runner = CliRunner()
    made = runner.invoke(app, ["sample", "video", "--seconds", "1", "--size", "320x240", "-q"])
    assert made.exit_code == 0, made.output
    assert made.stdout == "clip.mp4\n"
    found = probe(tmp_path / "clip.mp4")
    assert found.kind is MediaKind.VIDEO and (found.width, found.height) == (320, 240)
    assert found.duration_seconds is not None and 0.9 <= found.duration_seconds <= 1.2
    tone = runner.invoke(app, ["sample", "audio", "tone.wav", "--seconds", "1", "--json"])
    assert json.loads(tone.stdout)["kind"] == "audio"
    assert probe(tmp_path / "tone.wav").kind is MediaKind.AUDIO
    image = runner.invoke(app, ["sample", "image", "cover.jpg", "--size", "64x48"])
    assert image.exit_code == 0 and "wrote cover.jpg" in image.stdout
    assert (probe(tmp_path / "cover.jpg").width, probe(tmp_path / "cover.jpg").height) == (64, 48)
    odd = runner.invoke(app, ["sample", "video", "x.mp4", "--size", "33x20"])
    assert odd.exit_code == 2 and "even numbers" in odd.stderr
    bad = runner.invoke(app, ["sample", "image", "x.bmp"])
    assert bad.exit_code == 1 and "cannot write x.bmp" in bad.stderr
