"""`crosspost accounts`: social accounts, through the API."""

from __future__ import annotations

from typing import Annotated

import typer

from crosspost.cli._common import ApiKey, ApiUrl, api, console, notes

app = typer.Typer(help="Social accounts.", no_args_is_help=True)


@app.command("connect")
def accounts_connect(
    platform: Annotated[str, typer.Argument(help="youtube, tiktok, x, linkedin or soundcloud.")],
    browser: Annotated[bool, typer.Option(help="Open the consent page in a browser.")] = True,
    timeout: Annotated[float, typer.Option(help="Seconds to wait for the consent.")] = 300.0,
    api_url: ApiUrl = None,
    key: ApiKey = None,
) -> None:
    """Connect an account by OAuth: open the platform's consent page, wait for the answer.

    The platform returns the user to crosspost, which stores the account and sends the
    browser on to a one-shot listener on this machine's loopback, so this command can say
    which account it was.
    """
    import webbrowser  # noqa: PLC0415

    from crosspost.cli.loopback import LoopbackCatcher  # noqa: PLC0415

    with api(api_url, key) as client, LoopbackCatcher() as catcher:
        link = client.connect_account(platform, return_to=catcher.url)
        notes.print(f"open this page to connect your {platform} account:", highlight=False)
        typer.echo(link["authorize_url"])
        if browser:
            webbrowser.open(link["authorize_url"])
        answer = catcher.wait(timeout)
    if answer is None:
        notes.print(f"[red]no answer within {timeout:.0f} s; run the command again[/]")
        raise typer.Exit(1)
    console.print(
        f"{answer.get('status', 'connected')} {platform} account {answer.get('account_id')} "
        f"({answer.get('handle')})",
        highlight=False,
    )
