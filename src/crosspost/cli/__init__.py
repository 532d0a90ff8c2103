"""The `crosspost` command: one module per command group, the way `api/routes/` has one
module per resource; `_common` holds what they share."""

from __future__ import annotations

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
from crosspost.cli._common import App, out

app = App(
    help="crosspost: hand it a clip once, it publishes everywhere, exactly once.",
    add_completion=False,
)


@app.command()
def version() -> None:
    """Print the version."""
    out().result({"version": __version__}, ids=[__version__], human=lambda: out().line(__version__))


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
