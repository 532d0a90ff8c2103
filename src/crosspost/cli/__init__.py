"""The `crosspost` command: one module per command group, the way `api/routes/` has one
module per resource; `_common` holds what they share."""

from __future__ import annotations

import contextlib
import os
import sys
import traceback
from typing import Annotated

import typer

from crosspost import __version__
from crosspost.cli import (
    accounts,
    auth,
    brand_kits,
    export,
    flags,
    keys,
    media,
    metrics,
    oauth_clients,
    openapi,
    operator_keys,
    pipeline,
    posts,
    projects,
    publish,
    release_artwork,  # noqa: F401 - registers `releases artwork` on the releases app
    releases,
    sample,
    serve,
    tenants,
    upload,
    usage,
    vault,
    webhooks,
)
from crosspost.cli._common import App, ExitCode, examples
from crosspost.cli._credentials import name_profile
from crosspost.cli.profiles import load
from crosspost.config import Settings

app = App(
    help="crosspost: hand it a clip once, it publishes everywhere, exactly once.",
    epilog=examples(
        "crosspost serve --sandbox",
        "export CROSSPOST_API_KEY=$(crosspost keys create --name demo)",
        'crosspost publish clip.mp4 --caption "first #clip" --to youtube --to tiktok',
        "crosspost COMMAND --help   # every command has examples",
    ),
    # `crosspost --install-completion` adds tab completion to bash, zsh, fish or PowerShell.
    add_completion=True,
)


def _print_version(value: bool) -> None:
    if value:
        typer.echo(__version__)
        raise typer.Exit()


@app.callback()
def root(
    version: Annotated[
        bool,
        typer.Option(
            "--version", callback=_print_version, is_eager=True, help="Print the version and exit."
        ),
    ] = False,
    profile: Annotated[
        str | None,
        typer.Option(
            help="Use this profile's server and key (env CROSSPOST_PROFILE; see "
            "`crosspost auth list`).",
            metavar="NAME",
        ),
    ] = None,
) -> None:
    """crosspost: hand it a clip once, it publishes everywhere, exactly once."""
    name_profile(profile)


app.add_typer(serve.app)
app.add_typer(keys.app, name="keys")
app.add_typer(tenants.app, name="tenants")
app.add_typer(operator_keys.app, name="operator-keys")
app.add_typer(flags.app, name="flags")
app.add_typer(vault.app, name="vault")
app.add_typer(accounts.app, name="accounts")
app.add_typer(oauth_clients.app, name="oauth-clients")
app.add_typer(webhooks.app, name="webhooks")
app.add_typer(publish.app)
app.add_typer(posts.app)
app.add_typer(posts.group, name="posts")
app.add_typer(sample.app, name="sample")
app.add_typer(media.app, name="media")
app.add_typer(brand_kits.app, name="brand-kits")
app.add_typer(usage.app)
app.add_typer(metrics.app)
app.add_typer(export.app)
app.add_typer(projects.app, name="projects")
app.add_typer(pipeline.app, name="pipeline")
app.add_typer(releases.app, name="releases")
app.add_typer(releases.top)
app.add_typer(projects.top)
app.add_typer(upload.app)
app.add_typer(openapi.app)
app.add_typer(auth.login_app)
app.add_typer(auth.app, name="auth")


def main() -> None:
    """Entry point of the `crosspost` script: the last line of defence for secrets when a
    command crashes (one redacted line; the traceback, redacted and without locals, only
    with CROSSPOST_DEBUG=1), and a quiet Ctrl-C."""
    try:
        app(standalone_mode=True)
    except KeyboardInterrupt:
        sys.exit(ExitCode.INTERRUPTED)
    except Exception as exc:
        report_crash(exc)
        sys.exit(ExitCode.CRASH)


def report_crash(exc: BaseException) -> None:
    """Tell on stderr that a command crashed, with every known and secret-shaped value
    masked."""
    from crosspost.logs import redact  # noqa: PLC0415

    known = _known_secrets()
    line = redact(f"{type(exc).__name__}: {exc}", known).splitlines() or [""]
    print(f"crosspost stopped on an unexpected error: {line[0]}", file=sys.stderr)
    if os.environ.get("CROSSPOST_DEBUG"):
        # The standard traceback never shows local variables; redact its text too.
        print(redact("".join(traceback.format_exception(exc)), known), file=sys.stderr)
    else:
        print("run with CROSSPOST_DEBUG=1 for the traceback", file=sys.stderr)


def _known_secrets() -> list[str]:
    """The secrets this process was given: API key, signing secrets, configured keys."""
    from crosspost.logs import secret_values  # noqa: PLC0415

    names = ("CROSSPOST_API_KEY", "CROSSPOST_SIGNING_SECRET", "CROSSPOST_LISTEN_SECRET")
    found = [os.environ.get(n, "") for n in names]
    with contextlib.suppress(Exception):
        found += [profile.key for profile in load().by_name.values()]
    # The crash may be a bad setting: mask what can still be read.
    with contextlib.suppress(Exception):
        found += secret_values(Settings())
    return [value for value in found if value]
