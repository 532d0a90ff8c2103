"""The `crosspost` command: one module per command group, the way `api/routes/` has one
module per resource; `_common` holds what they share."""

from __future__ import annotations

from typing import Annotated

import typer

from crosspost import __version__
from crosspost.cli import (
    accounts,
    export,
    keys,
    oauth_clients,
    posts,
    serve,
    usage,
    vault,
    webhooks,
)
from crosspost.cli._common import App, examples

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
) -> None:
    """crosspost: hand it a clip once, it publishes everywhere, exactly once."""


app.add_typer(serve.app)
app.add_typer(keys.app, name="keys")
app.add_typer(vault.app, name="vault")
app.add_typer(accounts.app, name="accounts")
app.add_typer(oauth_clients.app, name="oauth-clients")
app.add_typer(webhooks.app, name="webhooks")
app.add_typer(posts.app)
app.add_typer(usage.app)
app.add_typer(export.app)


def main() -> None:
    """Entry point of the `crosspost` script."""
    app()
