"""Which API URL and key a command uses, and why. Each is taken from the first of: its flag
(--api-url, --key), its environment variable (CROSSPOST_API_URL, CROSSPOST_API_KEY), the
profile named by --profile or CROSSPOST_PROFILE, the default profile, and for the URL
the server running on the home (its server.json), else the address `serve` listens on."""

from __future__ import annotations

import os
from contextvars import ContextVar
from dataclasses import dataclass, field

from crosspost.cli._home import running_server
from crosspost.cli.profiles import Profile, load
from crosspost.config import Settings


@dataclass(frozen=True)
class Credentials:
    """The URL and key resolved, each with where it came from, and the profile consulted."""

    url: str
    url_from: str
    key: str | None = field(repr=False)
    key_from: str | None
    profile: Profile | None = None
    profile_from: str | None = None  # --profile, CROSSPOST_PROFILE or default
    profile_said: str | None = None  # how url_from and key_from name the profile

    @property
    def mixed(self) -> bool:
        """Whether a profile gave one of URL and key and something else the other: the key
        may then go to a server it is not for."""
        said = self.profile_said
        return said is not None and (self.url_from == said) != (self.key_from == said)


# The root's --profile: set by its callback on every invocation, before any command runs.
_PROFILE_FLAG: ContextVar[str | None] = ContextVar("crosspost_profile_flag", default=None)


def name_profile(name: str | None) -> None:
    """Record the root's --profile (None: not given) for this invocation."""
    _PROFILE_FLAG.set(name)


def chosen_profile() -> tuple[str, str] | None:
    """The profile named for this invocation, and by what: the root's --profile, else
    CROSSPOST_PROFILE."""
    name = _PROFILE_FLAG.get()
    if name:
        return name, "--profile"
    if os.environ.get("CROSSPOST_PROFILE"):
        return os.environ["CROSSPOST_PROFILE"], "CROSSPOST_PROFILE"
    return None


def resolve(url: str | None, key: str | None) -> Credentials:
    """The URL and key to use given the flags' values (None: not given); raises
    ProfileError when a profile is needed and cannot be used."""
    url_from = "--api-url" if url else None
    key_from = "--key" if key else None
    if not url and os.environ.get("CROSSPOST_API_URL"):
        url, url_from = os.environ["CROSSPOST_API_URL"], "CROSSPOST_API_URL"
    if not key and os.environ.get("CROSSPOST_API_KEY"):
        key, key_from = os.environ["CROSSPOST_API_KEY"], "CROSSPOST_API_KEY"
    chosen = chosen_profile()
    profile, profile_from, said = None, None, None
    # A named profile is looked up even when flags give both values: a typo in its name
    # is said, not ignored.
    if chosen is not None or not (url and key):
        profiles = load()
        if chosen is not None:
            profile, profile_from = profiles.get(chosen[0]), chosen[1]
        elif profiles.default is not None:
            profile, profile_from = profiles.get(profiles.default), "default"
    if profile is not None:
        said = {
            "--profile": f"--profile {profile.name}",
            "CROSSPOST_PROFILE": f"CROSSPOST_PROFILE={profile.name}",
        }.get(profile_from or "", f"the default profile {profile.name!r}")
        if not url:
            url, url_from = profile.api_url, said
        if not key:
            key, key_from = profile.key, said
    if not url or url_from is None:
        url, url_from = local_server_url()
    return Credentials(url, url_from, key, key_from, profile, profile_from, said)


def local_server_url() -> tuple[str, str]:
    """The URL of the server running on the home (its server.json), else the address
    `crosspost serve` listens on; and which of the two it is."""
    config = Settings()
    record = running_server(config.home)
    if record is not None:
        return record.api_url, f"the server running on {config.home} (server.json)"
    return config.base_url, "the address `crosspost serve` listens on"
