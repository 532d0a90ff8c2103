"""The CLI's profiles: named pairs of API URL and key in `$XDG_CONFIG_HOME/crosspost/
profiles.toml`, a file only its owner may read (refused otherwise, as ssh refuses a
private key others can read), written whole and atomically."""

from __future__ import annotations

import fcntl
import os
import re
import stat
import tempfile
import tomllib
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

FILE = "profiles.toml"
# Bare TOML keys (no quoting needed in `[profiles.NAME]`), and easy to type.
NAME = re.compile(r"[A-Za-z0-9_-]{1,64}")
_HEADER = (
    "# crosspost CLI profiles, written by `crosspost login` and `crosspost auth`.\n"
    "# It holds API keys: keep it readable by you alone (chmod 600).\n"
)


class ProfileError(Exception):
    """The profiles file cannot be used, or names no such profile; the message says what
    to do and never holds a key."""


@dataclass(frozen=True)
class Profile:
    """One server and the key to use on it."""

    name: str
    api_url: str
    key: str = field(repr=False)
    key_id: str | None = None

    @property
    def sandbox(self) -> bool:
        """Whether its key is a test key, which only ever reaches the sandbox fakes."""
        return self.key.startswith("cp_test_")

    @property
    def hint(self) -> str:
        """The key as it may be shown: its prefix and last four characters."""
        return mask(self.key)


@dataclass
class Profiles:
    """Every profile, and the one used when none is named."""

    path: Path
    default: str | None = None
    by_name: dict[str, Profile] = field(default_factory=dict)

    def get(self, name: str) -> Profile:
        """The profile `name`, or a ProfileError that lists the others."""
        if name not in self.by_name:
            known = ", ".join(sorted(self.by_name)) or "none yet"
            raise ProfileError(
                f"no profile {name!r} (profiles: {known}); log in with "
                f"`crosspost login --profile {name}`"
            )
        return self.by_name[name]


def mask(key: str) -> str:
    """`cp_test_AbCd…wXyZ`: enough to tell keys apart (and match `keys list`), never
    enough to use."""
    if len(key) < 24:
        return "…"
    cut = len("cp_test_") + 4 if key.startswith(("cp_test_", "cp_live_")) else 4
    return f"{key[:cut]}…{key[-4:]}"


def config_dir(environ: Mapping[str, str] | None = None) -> Path:
    """`$XDG_CONFIG_HOME/crosspost`, else `~/.config/crosspost`."""
    env = os.environ if environ is None else environ
    base = env.get("XDG_CONFIG_HOME", "")
    # The XDG spec ignores a relative XDG_CONFIG_HOME.
    return (Path(base) if os.path.isabs(base) else Path.home() / ".config") / "crosspost"


def profiles_path() -> Path:
    """Where the profiles are kept."""
    return config_dir() / FILE


def load(path: Path | None = None) -> Profiles:
    """The profiles in `path` (none when it does not exist); refused when anyone but its
    owner may read or write it, or when it is not what `save` writes."""
    path = path or profiles_path()
    try:
        with path.open("rb") as fh:
            _check_private(path, os.fstat(fh.fileno()))
            data = tomllib.load(fh)
    except FileNotFoundError:
        return Profiles(path)
    except tomllib.TOMLDecodeError as err:
        # The parser's message names a line and column, never the text found there.
        raise ProfileError(f"{path} is not valid TOML ({err}); fix it or delete it") from None
    except OSError as err:
        raise ProfileError(f"cannot read {path}: {err.strerror}") from None
    return _parse(path, data)


def _check_private(path: Path, info: os.stat_result) -> None:
    if info.st_uid != os.getuid():
        raise ProfileError(
            f"{path} belongs to another user; it holds API keys, so crosspost will not use "
            "it. Remove it and log in again"
        )
    if info.st_mode & 0o077:
        raise ProfileError(
            f"{path} may be read by others (mode {stat.S_IMODE(info.st_mode):04o}); it holds "
            f"API keys, so crosspost will not use it. Run `chmod 600 {path}` and, if others "
            "could have read it, roll its keys on their servers (`crosspost keys roll KEY_ID` "
            "there, or POST /v1/keys/KEY_ID/roll)"
        )


def _parse(path: Path, data: dict[str, object]) -> Profiles:
    default = data.get("default")
    tables = data.get("profiles", {})
    if not isinstance(tables, dict) or not (default is None or isinstance(default, str)):
        raise ProfileError(f"{path} is not a crosspost profiles file; fix it or delete it")
    found = Profiles(path, default)
    for name, table in tables.items():
        if not (
            isinstance(table, dict)
            and isinstance(table.get("api_url"), str)
            and isinstance(table.get("key"), str)
        ):
            raise ProfileError(
                f"profile {name!r} in {path} needs api_url and key; run "
                f"`crosspost login --profile {name}` again"
            )
        key_id = table.get("key_id")
        found.by_name[name] = Profile(
            name, table["api_url"], table["key"], key_id if isinstance(key_id, str) else None
        )
    return found


def save(profiles: Profiles) -> None:
    """Write the profiles whole: a private temporary file in the same folder, renamed over
    the old one, so a reader sees the old file or the new, never a part, and never a
    moment when others could read it."""
    folder = profiles.path.parent
    folder.mkdir(mode=0o700, parents=True, exist_ok=True)
    fd, temporary = tempfile.mkstemp(prefix=f".{FILE}.", dir=folder)  # mode 0600
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(dumps(profiles))
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(temporary, profiles.path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
    _sync_folder(folder)


def _sync_folder(folder: Path) -> None:
    # The rename itself survives a crash only once the folder is flushed too.
    fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


@contextmanager
def editing(path: Path | None = None) -> Iterator[Profiles]:
    """The profiles to change, saved on leaving; two commands changing them at once take
    turns (a lock file beside them) instead of one losing the other's change."""
    path = path or profiles_path()
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    lock = os.open(path.parent / f".{FILE}.lock", os.O_RDWR | os.O_CREAT, 0o600)
    try:
        fcntl.flock(lock, fcntl.LOCK_EX)
        profiles = load(path)
        yield profiles
        save(profiles)
    finally:
        os.close(lock)  # releases the lock


def dumps(profiles: Profiles) -> str:
    """The file's text: a top-level `default` and one `[profiles.NAME]` table each."""
    lines = [_HEADER]
    if profiles.default is not None:
        lines.append(f"default = {_quote(profiles.default)}\n")
    for name in sorted(profiles.by_name):
        profile = profiles.by_name[name]
        lines.append(f"\n[profiles.{_quote(name)}]\n")
        lines.append(f"api_url = {_quote(profile.api_url)}\n")
        lines.append(f"key = {_quote(profile.key)}\n")
        if profile.key_id is not None:
            lines.append(f"key_id = {_quote(profile.key_id)}\n")
    return "".join(lines)


def _quote(value: str) -> str:
    """A TOML basic string: backslash and quote escaped, control characters as \\uXXXX."""
    escaped = value.replace("\\", "\\\\").replace('"', '\\"')
    return '"' + "".join(c if " " <= c != "\x7f" else f"\\u{ord(c):04x}" for c in escaped) + '"'
