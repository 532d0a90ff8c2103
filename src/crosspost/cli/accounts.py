"""`crosspost accounts`: social accounts, through the API."""

from __future__ import annotations

from typing import Annotated

import typer

from crosspost.cli._common import (
    ApiKey,
    ApiUrl,
    App,
    ExitCode,
    api,
    api_key,
    examples,
    is_test_key,
    out,
)
from crosspost.domain.enums import Platform

app = App(help="Social accounts (through the API).")

PLATFORMS = ", ".join(p.value for p in Platform)


@app.command(
    "connect",
    epilog=examples(
        "crosspost accounts connect youtube",
        "crosspost accounts connect soundcloud --no-browser --timeout 600",
    ),
)
def accounts_connect(
    platform: Annotated[Platform, typer.Argument(help=f"One of {PLATFORMS}.", metavar="PLATFORM")],
    browser: Annotated[bool, typer.Option(help="Open the consent page in a browser.")] = True,
    timeout: Annotated[
        float, typer.Option(help="Seconds to wait for the consent.", metavar="SECONDS")
    ] = 300.0,
    api_url: ApiUrl = None,
    key: ApiKey = None,
) -> None:
    """Connect an account by OAuth: open the platform's consent page, wait for the answer.

    The platform returns the user to crosspost, which stores the account and sends the
    browser on to a one-shot listener on this machine's loopback, so this command can say
    which account it was. With a test key (cp_test_…) the consent page is the sandbox's.
    """
    import webbrowser  # noqa: PLC0415

    from crosspost.cli.loopback import LoopbackCatcher  # noqa: PLC0415

    name = platform.value
    with api(api_url, key) as client, LoopbackCatcher() as catcher:
        link = client.connect_account(name, return_to=catcher.url)
        where = " (sandbox: the fake's consent page)" if is_test_key(api_key(key)) else ""
        out().note(f"open this page to connect your {name} account{where}:")
        out().line(link["authorize_url"])
        if browser:
            webbrowser.open(link["authorize_url"])
        answer = catcher.wait(timeout)
    if answer is None:
        out().error(f"no answer within {timeout:.0f} s; run the command again")
        raise typer.Exit(ExitCode.ERROR)
    data = {"platform": name, **answer}
    out().result(
        data,
        ids=[answer.get("account_id", "")],
        human=lambda: out().line(
            f"{answer.get('status', 'connected')} {name} account {answer.get('account_id')} "
            f"({answer.get('handle')})"
        ),
    )
