"""`crosspost login` and `crosspost auth`: named profiles (a server and a key on it), which
one a command uses and why, and whether its key works."""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Annotated, Any

import typer

from crosspost.cli._common import (
    ApiKey,
    ApiUrl,
    App,
    Col,
    ExitCode,
    credentials,
    examples,
    out,
    plain,
    sandboxed,
    signing_secret,
    ts,
)
from crosspost.cli._credentials import Credentials, chosen_profile, local_server_url
from crosspost.cli.profiles import NAME, Profile, ProfileError, Profiles, editing, load, mask

app = App(
    help="Profiles (a server and a key): which one is in use and whether its key works; "
    "log in with `crosspost login`."
)
login_app = App()


def _fail(text: str, code: ExitCode = ExitCode.ERROR) -> typer.Exit:
    out().error(f"error: {text}")
    return typer.Exit(code)


@contextmanager
def _changing() -> Iterator[Profiles]:
    """`editing()`, where a refused file or an unknown profile is one line and exit status
    1 (and nothing is saved)."""
    try:
        with editing() as profiles:
            yield profiles
    except ProfileError as err:
        raise _fail(str(err)) from None


def _profiles() -> Profiles:
    try:
        return load()
    except ProfileError as err:
        raise _fail(str(err)) from None


def _ask_server(url: str, key: str) -> tuple[dict[str, Any] | None, dict[str, Any] | None]:
    """GET /v1/me with `key`: (who the key is, None), or (None, the problem) when the server
    refuses the key or cannot be reached. The problem never holds the key."""
    import httpx  # noqa: PLC0415 - keep `--help` fast

    from crosspost.logs import redact  # noqa: PLC0415
    from crosspost_sdk import APIConnectionError, Client  # noqa: PLC0415
    from crosspost_sdk import APIError as ApiError  # noqa: PLC0415

    try:
        client = Client(
            key, base_url=url, timeout=15, signing_secret=signing_secret(key), retries=1, raw=True
        )
    except (httpx.InvalidURL, ValueError):
        return None, {"status": None, "code": "invalid_url", "detail": f"{url!r} is not a URL"}
    try:
        return plain(client.me.get()), None
    except ApiError as err:
        detail = str(err.problem.get("detail") or err.problem.get("title") or "")
        return None, {"status": err.status, "code": err.code, "detail": redact(detail, [key])}
    except (APIConnectionError, httpx.HTTPError) as err:
        detail = f"cannot reach {url}: {redact(str(err), [key])}"
        return None, {"status": None, "code": "unreachable", "detail": detail}
    finally:
        client.close()


def _describe(problem: dict[str, Any], url: str) -> str:
    if problem["status"] == 401:
        return f"the server at {url} refused the key: {problem['detail']} ({problem['code']})"
    if problem["status"] is not None:
        return f"the server at {url} answered {problem['status']}: {problem['detail']}"
    return str(problem["detail"])


def _who(caller: dict[str, Any]) -> list[str]:
    """Lines that say what the key is: its id, name, powers, tenant and end."""
    key = caller.get("key")
    who = (
        f"key {key['id']} ({key['name']})"
        if key
        else f"OAuth client {caller.get('oauth_client_id')}"
    )
    powers = f"role {caller['role']}" if caller.get("role") else "custom scopes"
    ends = ts(key.get("expires_at")) if key and key.get("expires_at") else "never"
    tenant = caller["tenant"]
    return [
        f"as:       {who}, {caller['mode']} mode, {powers}, expires {ends}",
        f"scopes:   {', '.join(caller['scopes']) or '-'}",
        f"tenant:   {tenant['name']} ({tenant['id']})",
    ]


def _read_key(key: str | None, with_key: bool) -> str:
    if key and with_key:
        raise _fail("give the key with --key or --with-key, not both", ExitCode.USAGE)
    if with_key:
        read = sys.stdin.read().strip()
        if not read:
            raise _fail("--with-key read nothing on standard input", ExitCode.USAGE)
        return read
    if key:
        out().note("tip: --with-key reads the key from standard input, out of shell history")
        return key
    if not sys.stdin.isatty():
        raise _fail(
            "no key: pipe it with --with-key "
            "(`crosspost keys create --name me | crosspost login --with-key`) or pass --key",
            ExitCode.USAGE,
        )
    typed: str = typer.prompt("API key (not shown)", hide_input=True, err=True)
    return typed.strip()


def _login_url(given: str | None, existing: Profile | None) -> tuple[str, str]:
    """The server to log in to and why: --api-url, CROSSPOST_API_URL, the profile's own
    server when logging in again, else the server running on the home."""
    if given:
        return given, "--api-url"
    if os.environ.get("CROSSPOST_API_URL"):
        return os.environ["CROSSPOST_API_URL"], "CROSSPOST_API_URL"
    if existing is not None:
        return existing.api_url, f"profile {existing.name!r}"
    return local_server_url()


def _check_url(url: str) -> None:
    import httpx  # noqa: PLC0415

    try:
        parsed = httpx.URL(url)
    except httpx.InvalidURL:
        parsed = None
    if parsed is None or parsed.scheme not in ("http", "https") or not parsed.host:
        raise _fail(
            f"{url!r} is not an API URL; give one like https://crosspost.example.com",
            ExitCode.USAGE,
        )
    if parsed.scheme == "http" and parsed.host not in ("127.0.0.1", "localhost", "::1"):
        out().warn(f"{parsed.host} is reached over plain http: the key crosses the network "
                   "unencrypted; use https://")  # fmt: skip


@login_app.command(
    "login",
    epilog=examples(
        "crosspost keys create --name me | crosspost login --with-key",
        "crosspost login --profile prod --api-url https://crosspost.example.com",
        "crosspost login --profile ci --api-url https://crosspost.example.com --with-key < key",
    ),
)
def login(
    profile: Annotated[
        str | None,
        typer.Option(
            help="Save as this profile (else the root --profile, CROSSPOST_PROFILE, or 'default').",
            metavar="NAME",
        ),
    ] = None,
    api_url: Annotated[
        str | None,
        typer.Option(
            help="The server (else CROSSPOST_API_URL, the profile's when logging in again, "
            "the server running on the home).",
            metavar="URL",
        ),
    ] = None,
    key: Annotated[
        str | None,
        typer.Option(
            help="The API key. It stays in your shell history; --with-key or the prompt "
            "(which does not echo it) keep it out.",
            metavar="KEY",
        ),
    ] = None,
    with_key: Annotated[
        bool, typer.Option("--with-key", help="Read the key from standard input.")
    ] = False,
) -> None:
    """Check an API key with its server, then save both as a profile.

    Profiles live in $XDG_CONFIG_HOME/crosspost/profiles.toml (~/.config/crosspost/), a
    file only you may read. The first profile becomes the default one; `crosspost auth
    switch NAME` changes it. Without --key or --with-key, the key is asked for (not echoed).
    """
    from crosspost.vault.apikeys import parse_key  # noqa: PLC0415

    chosen = chosen_profile()
    name = profile or (chosen[0] if chosen else "default")
    if not NAME.fullmatch(name):
        raise _fail(f"a profile name is 1 to 64 letters, digits, - or _; not {name!r}",
                    ExitCode.USAGE)  # fmt: skip
    url, url_from = _login_url(api_url, _profiles().by_name.get(name))
    _check_url(url)
    raw = _read_key(key, with_key)
    if parse_key(raw) is None:
        raise _fail(
            "that is not a crosspost API key (cp_test_… or cp_live_…, 55 characters; "
            "mistyped?); nothing was saved",
            ExitCode.USAGE,
        )
    out().note(f"checking the key against {url} (from {url_from})")
    caller, problem = _ask_server(url, raw)
    if caller is None:
        assert problem is not None
        raise _fail(f"{_describe(problem, url)}; nothing was saved")
    key_id = caller["key"]["id"] if caller.get("key") else None
    with _changing() as profiles:
        saved = Profile(name, url, raw, key_id)
        profiles.by_name[name] = saved
        if profiles.default not in profiles.by_name:
            profiles.default = name
    is_default = profiles.default == name
    data = {
        "profile": name,
        "default": is_default,
        "path": str(profiles.path),
        "api_url": url,
        "sandbox": saved.sandbox,
        "key_hint": saved.hint,
        "caller": caller,
    }

    def human() -> None:
        out().line(f"logged in to {sandboxed(url, saved.sandbox)} with {saved.hint}")
        for line in _who(caller):
            out().line(line)
        role = "the default profile" if is_default else f"default stays {profiles.default!r}"
        out().line(f"saved as profile {name!r} ({role}) in {profiles.path}")

    out().result(data, ids=[name], human=human)
    if not is_default:
        out().note(f"use it with `crosspost --profile {name} …` or `crosspost auth switch {name}`")
    for variable in ("CROSSPOST_API_URL", "CROSSPOST_API_KEY"):
        if os.environ.get(variable):
            out().warn(f"{variable} is set: it overrides the profile's value until unset")


def _status_data(creds: Credentials) -> dict[str, Any]:
    profile = creds.profile
    return {
        "profile": {"name": profile.name, "from": creds.profile_from} if profile else None,
        "api_url": {"value": creds.url, "from": creds.url_from},
        "key": {"hint": mask(creds.key), "from": creds.key_from} if creds.key else None,
        "sandbox": bool(creds.key and creds.key.startswith("cp_test_")),
    }


@app.command(
    "status",
    epilog=examples(
        "crosspost auth status",
        "crosspost --profile prod auth status --json",
    ),
)
def auth_status(api_url: ApiUrl = None, key: ApiKey = None) -> None:
    """Say which profile, URL and key a command would use and why, and ask the server what
    the key is (role, scopes, mode, expiry). Exits 1 when the key is missing or refused."""
    creds = credentials(api_url, key)
    data = _status_data(creds)
    caller, problem = (
        _ask_server(creds.url, creds.key)
        if creds.key
        else (None, {"status": None, "code": "no_key", "detail": "no API key"})
    )
    data.update(ok=caller is not None, caller=caller, problem=problem)

    def human() -> None:
        named = {"--profile": "named by --profile", "CROSSPOST_PROFILE": "CROSSPOST_PROFILE"}
        out().line(
            f"profile:  {creds.profile.name} ({named.get(creds.profile_from or '', 'default')})"
            if creds.profile
            else "profile:  none (`crosspost login` makes one)"
        )
        out().line(f"api:      {sandboxed(creds.url, data['sandbox'])}, from {creds.url_from}")
        if creds.key:
            out().line(f"key:      {mask(creds.key)}, from {creds.key_from}")
        if caller is not None:
            for line in _who(caller):
                out().line(line)
            out().line("status:   ok, the key works")
        elif creds.key and problem is not None:
            out().line(f"status:   {_describe(problem, creds.url)}")
        else:
            out().line("status:   not logged in: run `crosspost login` or set CROSSPOST_API_KEY")

    out().result(data, ids=[caller["key"]["id"]] if caller and caller.get("key") else [],
                 human=human)  # fmt: skip
    if creds.mixed:
        out().warn(
            f"the URL comes from {creds.url_from} but the key from {creds.key_from}: "
            "make sure the key belongs to that server"
        )
    if caller is None:
        raise typer.Exit(ExitCode.ERROR)


@app.command(
    "url",
    epilog=examples(
        "export CROSSPOST_API_URL=$(crosspost auth url)",
        'curl "$(crosspost auth url)/healthz"',
    ),
)
def auth_url(api_url: ApiUrl = None) -> None:
    """Print the API URL commands use (stdout: the URL alone; stderr: where it comes from),
    for curl and scripts: the server running on this home may have moved off port 8000."""
    creds = credentials(api_url, None)
    out().note(f"from {creds.url_from}")
    data = {"value": creds.url, "from": creds.url_from}
    out().result(data, ids=[creds.url], human=lambda: out().line(creds.url))


@app.command("list", epilog=examples("crosspost auth list", "crosspost auth list --json"))
def auth_list() -> None:
    """List the profiles (never their keys: a prefix and the last characters only); the
    default one is marked with *."""
    profiles = _profiles()
    listed = [profiles.by_name[name] for name in sorted(profiles.by_name)]
    data = [
        {
            "name": p.name,
            "default": p.name == profiles.default,
            "api_url": p.api_url,
            "sandbox": p.sandbox,
            "mode": "test" if p.sandbox else "live",
            "key_hint": p.hint,
            "key_id": p.key_id,
        }
        for p in listed
    ]
    cols = [Col(""), Col("name", keep=True), Col("api url", keep=True), Col("key", keep=True),
            Col("key id", keep=True)]  # fmt: skip
    rows = [
        [
            "*" if p.name == profiles.default else "",
            p.name,
            sandboxed(p.api_url, p.sandbox),
            p.hint,
            p.key_id or "-",
        ]
        for p in listed
    ]

    def human() -> None:
        if rows:
            out().table(cols, rows)
        else:
            out().note("no profiles yet: run `crosspost login`")

    out().result(data, ids=[p.name for p in listed], human=human)


@app.command(
    "logout",
    epilog=examples("crosspost auth logout", "crosspost auth logout --profile prod"),
)
def auth_logout(
    profile: Annotated[
        str | None,
        typer.Option(
            help="The profile to forget (else the root --profile, CROSSPOST_PROFILE, or the "
            "default one).",
            metavar="NAME",
        ),
    ] = None,
) -> None:
    """Forget a profile and its key on this machine; the key itself works until it is
    revoked on its server."""
    chosen = chosen_profile()
    with _changing() as profiles:
        name = profile or (chosen[0] if chosen else profiles.default)
        if name is None:
            raise _fail("not logged in: no default profile (`crosspost auth list`)")
        gone = profiles.get(name)
        del profiles.by_name[name]
        if profiles.default == name:
            profiles.default = None
    data = {"profile": name, "removed": True, "default": profiles.default}

    def human() -> None:
        out().line(f"logged out of profile {name!r} ({gone.api_url})")
        which = f"{gone.hint} ({gone.key_id})" if gone.key_id else gone.hint
        out().note(
            f"its key {which} works until revoked on its server "
            "(`crosspost keys revoke KEY_ID` there, or DELETE /v1/keys/KEY_ID)"
        )
        if profiles.default is None and profiles.by_name:
            out().note("no default profile now: `crosspost auth switch NAME` picks one")

    out().result(data, ids=[name], human=human)


@app.command(
    "switch",
    epilog=examples("crosspost auth switch prod", "crosspost auth switch sandbox -q"),
)
def auth_switch(
    name: Annotated[str, typer.Argument(help="A profile (`crosspost auth list`).", metavar="NAME")],
) -> None:
    """Make a profile the default one: commands use it unless --profile, CROSSPOST_PROFILE
    or a flag or environment variable says otherwise."""
    with _changing() as profiles:
        chosen = profiles.get(name)
        profiles.default = name
    data = {"default": name, "api_url": chosen.api_url, "sandbox": chosen.sandbox}
    out().result(
        data,
        ids=[name],
        human=lambda: out().line(
            f"default profile: {name} ({sandboxed(chosen.api_url, chosen.sandbox)})"
        ),
    )
    overriding = os.environ.get("CROSSPOST_PROFILE")
    if overriding and overriding != name:
        out().warn(f"CROSSPOST_PROFILE={overriding} still wins in this shell until unset")
