"""The profiles file: private (0600 in a 0700 folder, refused when others may read it),
written atomically, edited in turns; and the order in which a command picks its API URL
and key (flags > environment > --profile/CROSSPOST_PROFILE > default profile > server.json)."""

from __future__ import annotations

import json
import os
import stat
import threading
import time
import tomllib
from pathlib import Path

import pytest
from typer.testing import CliRunner

from crosspost.cli import _known_secrets, app
from crosspost.cli._home import write_record
from crosspost.cli.profiles import (
    Profile,
    ProfileError,
    Profiles,
    config_dir,
    editing,
    load,
    mask,
    profiles_path,
    save,
)
from crosspost.domain.enums import Mode
from crosspost.fakes.server import free_port
from crosspost.vault.apikeys import generate_key


@pytest.fixture
def config(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    """No CROSSPOST_ setting, a home and a config folder of this test's own; returns where
    the profiles file goes."""
    for name in [n for n in os.environ if n.startswith("CROSSPOST_")]:
        monkeypatch.delenv(name)
    monkeypatch.setenv("CROSSPOST_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "config"))
    return tmp_path / "config" / "crosspost" / "profiles.toml"


def _two(path: Path) -> tuple[Profile, Profile]:
    a = Profile("a", f"http://127.0.0.1:{free_port()}", generate_key(Mode.TEST), "key_a")
    b = Profile("b", f"http://127.0.0.1:{free_port()}", generate_key(Mode.LIVE), "key_b")
    save(Profiles(path, "a", {"a": a, "b": b}))
    return a, b


def test_the_file_is_private_in_a_private_folder(config: Path) -> None:
    """Even with a umask that lets everyone read, the file is 0600 and its folder 0700;
    it holds exactly what was saved."""
    old = os.umask(0)
    try:
        a, b = _two(config)
    finally:
        os.umask(old)
    assert config == profiles_path()
    assert stat.S_IMODE(config.stat().st_mode) == 0o600
    assert stat.S_IMODE(config.parent.stat().st_mode) == 0o700
    data = tomllib.loads(config.read_text())
    assert data["default"] == "a"
    assert data["profiles"]["b"] == {"api_url": b.api_url, "key": b.key, "key_id": "key_b"}
    assert load(config) == Profiles(config, "a", {"a": a, "b": b})


def test_odd_values_survive_the_writer(config: Path) -> None:
    """Quotes, backslashes, control characters and non-ASCII text are written as valid
    TOML and read back unchanged (the writer is ours, the reader the standard library's)."""
    odd = 'http://h/"q"\\p\t\n\x7f\x01é✓😀'
    save(Profiles(config, "x", {"x": Profile("x", odd, "cp_test_\"\\'", None)}))
    again = load(config).get("x")
    assert (again.api_url, again.key, again.key_id) == (odd, "cp_test_\"\\'", None)


def test_no_key_in_a_repr_and_only_a_hint_shown(config: Path) -> None:
    """A profile's repr never holds its key; its hint is the prefix and the last four."""
    a, _ = _two(config)
    assert a.key not in repr(a) and a.key not in repr(load(config))
    assert a.hint == f"{a.key[:12]}…{a.key[-4:]}" and mask("short") == "…"


def test_a_reader_never_sees_a_partial_file(config: Path) -> None:
    """While profiles are saved again and again, a reader always finds a whole file (the
    old or the new), and no temporary file is left behind."""
    a, b = _two(config)
    stop = threading.Event()
    seen: list[int] = []
    errors: list[BaseException] = []

    def read() -> None:
        while not stop.is_set():
            try:
                seen.append(len(load(config).by_name))
            except BaseException as err:
                errors.append(err)
                return

    reader = threading.Thread(target=read)
    reader.start()
    try:
        for n in range(200):
            extra = {f"p{i}": Profile(f"p{i}", a.api_url, a.key) for i in range(n % 7)}
            save(Profiles(config, "a", {"a": a, "b": b, **extra}))
    finally:
        stop.set()
        reader.join(timeout=10)
    assert not errors, errors
    assert seen and all(2 <= count <= 8 for count in seen)
    assert sorted(p.name for p in config.parent.iterdir()) == ["profiles.toml"]


def test_a_failed_write_keeps_the_old_file(config: Path) -> None:
    """A save that fails half-way (a value that cannot be written) leaves the old file
    whole and no temporary file."""
    a, b = _two(config)
    before = config.read_bytes()
    broken = Profile("c", a.api_url, None)  # type: ignore[arg-type]
    with pytest.raises(AttributeError):
        save(Profiles(config, "a", {"a": a, "b": b, "c": broken}))
    assert config.read_bytes() == before
    assert sorted(p.name for p in config.parent.iterdir()) == ["profiles.toml"]


def test_edits_at_the_same_time_take_turns(config: Path) -> None:
    """Many writers adding a profile each at once: every profile is there at the end (the
    lock makes them take turns instead of overwriting one another)."""
    key = generate_key(Mode.TEST)

    def add(n: int) -> None:
        with editing(config) as profiles:
            time.sleep(0.001)  # widen the window a lost update needs
            profiles.by_name[f"p{n}"] = Profile(f"p{n}", "http://127.0.0.1:1", key)

    threads = [threading.Thread(target=add, args=(n,)) for n in range(16)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    assert set(load(config).by_name) == {f"p{n}" for n in range(16)}


@pytest.mark.parametrize("mode", [0o640, 0o604, 0o620, 0o660])
def test_a_file_others_may_read_is_refused(config: Path, mode: int) -> None:
    """As ssh refuses a private key others can read: any group or world bit and the file
    is not used (nor silently fixed): one line says to chmod 600 and to roll the keys, and
    every command that needs it exits 1 without a key in its output."""
    a, _ = _two(config)
    config.chmod(mode)
    with pytest.raises(ProfileError, match="chmod 600"):
        load(config)
    runner = CliRunner()
    for args in (["auth", "list"], ["auth", "status"], ["webhooks", "list"],
                 ["auth", "switch", "b"], ["login", "--key", a.key]):  # fmt: skip
        result = runner.invoke(app, args)
        assert result.exit_code == 1, (args, result.output)
        assert f"mode {mode:04o}" in result.stderr and "chmod 600" in result.stderr, args
        assert a.key not in result.output + result.stderr
    assert stat.S_IMODE(config.stat().st_mode) == mode
    assert 'default = "a"' in config.read_text()


@pytest.mark.skipif(os.getuid() != 0, reason="only root can give a file to another user")
def test_a_file_of_another_user_is_refused(config: Path) -> None:
    """A profiles file owned by someone else is refused, whatever its mode."""
    _two(config)
    os.chown(config, 12345, 12345)
    with pytest.raises(ProfileError, match="belongs to another user"):
        load(config)


def test_a_broken_file_is_named_without_its_contents(config: Path) -> None:
    """Invalid TOML, or a profile without its key, is one clear error naming the file and
    never quoting what is in it."""
    config.parent.mkdir(parents=True, mode=0o700)
    key = generate_key(Mode.LIVE)
    for text, expected in (
        (f'[profiles.a]\nkey = "{key}\napi_url = 1\n', "is not valid TOML"),
        (f'[profiles.a]\nkey = "{key}"\n', "needs api_url and key"),
        ('default = 3\n', "not a crosspost profiles file"),
    ):  # fmt: skip
        config.write_text(text)
        config.chmod(0o600)
        with pytest.raises(ProfileError, match=expected) as raised:
            load(config)
        assert str(config) in str(raised.value) and key not in str(raised.value)


def test_the_config_folder_follows_xdg(
    config: Path, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """$XDG_CONFIG_HOME/crosspost, else ~/.config/crosspost (a relative XDG_CONFIG_HOME
    is ignored, as the spec says)."""
    assert config_dir() == tmp_path / "config" / "crosspost"
    monkeypatch.setenv("HOME", str(tmp_path / "user"))
    monkeypatch.setenv("XDG_CONFIG_HOME", "relative")
    assert config_dir() == tmp_path / "user" / ".config" / "crosspost"
    monkeypatch.delenv("XDG_CONFIG_HOME")
    assert config_dir() == tmp_path / "user" / ".config" / "crosspost"


def _status(*args: str, env: dict[str, str] | None = None) -> dict[str, object]:
    result = CliRunner().invoke(app, [*args, "auth", "status", "--json"], env=env)
    # Nothing listens on these URLs: the key is not checked, the resolution is reported.
    assert result.exit_code == 1, result.output
    data: dict[str, object] = json.loads(result.stdout)
    return data


def _picked(data: dict[str, object]) -> tuple[object, object, object, object]:
    url, key = data["api_url"], data["key"]
    assert isinstance(url, dict)
    return (
        url["value"],
        url["from"],
        key["hint"] if isinstance(key, dict) else None,
        key["from"] if isinstance(key, dict) else None,
    )


def test_each_level_overrides_the_next(config: Path, tmp_path: Path) -> None:
    """server.json < default profile < CROSSPOST_PROFILE < --profile < environment
    variables < flags; URL and key each from the first level that has one."""
    local = f"http://127.0.0.1:{free_port()}"
    write_record(tmp_path / "home", api_url=local, sandbox=True, fakes_url=None)
    no_profiles = _status()
    assert _picked(no_profiles)[:2] == (local, f"the server running on {tmp_path / 'home'} "
                                               "(server.json)")  # fmt: skip
    assert no_profiles["key"] is None and no_profiles["profile"] is None
    a, b = _two(config)
    assert _picked(_status()) == (a.api_url, "the default profile 'a'", a.hint,
                                  "the default profile 'a'")  # fmt: skip
    by_env = {"CROSSPOST_PROFILE": "b"}
    assert _picked(_status(env=by_env)) == (b.api_url, "CROSSPOST_PROFILE=b", b.hint,
                                            "CROSSPOST_PROFILE=b")  # fmt: skip
    assert _picked(_status("--profile", "a", env=by_env))[:2] == (a.api_url, "--profile a")
    env_url, env_key = f"http://127.0.0.1:{free_port()}", generate_key(Mode.TEST)
    both = {**by_env, "CROSSPOST_API_URL": env_url, "CROSSPOST_API_KEY": env_key}
    assert _picked(_status("--profile", "a", env=both)) == (
        env_url, "CROSSPOST_API_URL", mask(env_key), "CROSSPOST_API_KEY")  # fmt: skip
    # One value from the environment, the other still from the profile.
    half = _status("--profile", "a", env={"CROSSPOST_API_KEY": env_key})
    assert _picked(half) == (a.api_url, "--profile a", mask(env_key), "CROSSPOST_API_KEY")
    flag_url, flag_key = f"http://127.0.0.1:{free_port()}", generate_key(Mode.LIVE)
    flagged = CliRunner().invoke(
        app, ["auth", "status", "--json", "--api-url", flag_url, "--key", flag_key], env=both
    )
    assert _picked(json.loads(flagged.stdout)) == (flag_url, "--api-url", mask(flag_key),
                                                   "--key")  # fmt: skip


def test_a_mixed_pair_is_pointed_out(config: Path) -> None:
    """A key from the environment sent to a profile's URL, or a profile's key sent to a URL
    from a flag: status warns on stderr; URL and key from the same profile: no warning."""
    a, _ = _two(config)
    runner = CliRunner()
    env_key = runner.invoke(
        app, ["auth", "status"], env={"CROSSPOST_API_KEY": generate_key(Mode.TEST)}
    )
    assert "the URL comes from the default profile 'a' but the key from CROSSPOST_API_KEY" in (
        " ".join(env_key.stderr.split())
    )
    flag_url = runner.invoke(app, ["--profile", "b", "auth", "status", "--api-url", a.api_url])
    assert "the URL comes from --api-url but the key from --profile b" in (
        " ".join(flag_url.stderr.split())
    )
    same = runner.invoke(app, ["auth", "status"])
    assert same.exit_code == 1 and "warning" not in same.stderr, same.stderr


def test_an_unknown_profile_is_an_error_not_a_fallback(config: Path) -> None:
    """--profile or CROSSPOST_PROFILE naming no profile fails (exit 1) and lists the known
    ones, even when flags give both URL and key: a typo is never silently ignored."""
    a, _ = _two(config)
    runner = CliRunner()
    for args, env in (
        (["--profile", "nope", "auth", "status"], None),
        (["auth", "status"], {"CROSSPOST_PROFILE": "nope"}),
        (["--profile", "nope", "webhooks", "list", "--api-url", a.api_url, "--key", a.key],
         None),
    ):  # fmt: skip
        result = runner.invoke(app, args, env=env)
        assert result.exit_code == 1, result.output
        assert "no profile 'nope' (profiles: a, b)" in result.stderr


def test_a_crash_report_masks_the_profiles_keys(config: Path) -> None:
    """The crash reporter knows every profile's key as a secret to mask."""
    a, b = _two(config)
    assert {a.key, b.key} <= set(_known_secrets())
