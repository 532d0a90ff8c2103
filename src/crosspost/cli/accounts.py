"""`crosspost accounts`: social accounts, through the API."""

from __future__ import annotations

from typing import Annotated, Any

import typer

from crosspost.cli._common import (
    ApiKey,
    ApiUrl,
    App,
    Col,
    api,
    api_key,
    examples,
    is_test_key,
    out,
    plain,
    ts,
)
from crosspost.domain.enums import Platform

app = App(help="Social accounts: connect, list, show (through the API).")

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
    from crosspost.cli.loopback import await_consent  # noqa: PLC0415

    name = platform.value
    where = " (sandbox: the fake's consent page)" if is_test_key(api_key(key)) else ""
    with api(api_url, key) as client:
        answer = await_consent(
            lambda back: plain(
                client.accounts.connect({"platform": name, **({"return_to": back} if back else {})})
            )["authorize_url"],
            what=f"your {name} account{where}",
            browser=browser,
            timeout=timeout,
        )
    data = {"platform": name, **answer}
    out().result(
        data,
        ids=[answer.get("account_id", "")],
        human=lambda: out().line(
            f"{answer.get('status', 'connected')} {name} account {answer.get('account_id')} "
            f"({answer.get('handle')})"
        ),
    )


def _account_rows(accounts: list[dict[str, Any]]) -> list[list[str]]:
    return [
        [
            a["id"],
            a["platform"] + (" (sandbox)" if a.get("mode") == "test" else ""),
            a["handle"],
            a["status"],
            ts(a.get("token_expires_at")),
            ts(a.get("last_published_at")),
            a.get("last_error") or "-",
        ]
        for a in accounts
    ]


_COLS = [Col("id", keep=True), Col("platform"), Col("handle"), Col("status"),
         Col("token ends"), Col("last publish"), Col("last error")]  # fmt: skip


@app.command("list", epilog=examples("crosspost accounts list", "crosspost accounts list --json"))
def accounts_list(api_url: ApiUrl = None, key: ApiKey = None) -> None:
    """List the connected accounts of this key's mode and their health (never tokens)."""
    with api(api_url, key) as client:
        accounts = plain(client.accounts.list())
    reauth = [a for a in accounts if a["status"] == "needs_reauth"]
    out().result(
        accounts,
        ids=[a["id"] for a in accounts],
        human=lambda: out().table(_COLS, _account_rows(accounts)),
    )
    for account in reauth:
        out().warn(
            f"{account['platform']} account {account['id']} needs_reauth — run "
            f"`crosspost accounts connect {account['platform']}`"
        )


@app.command("disconnect", epilog=examples("crosspost accounts disconnect acc_01J…"))
def accounts_disconnect(
    account_id: Annotated[str, typer.Argument(metavar="ACCOUNT_ID")],
    api_url: ApiUrl = None,
    key: ApiKey = None,
) -> None:
    """Disconnect an account: revoke our access at the platform where it allows that, erase
    its credentials, and fail what was still to publish on it."""
    with api(api_url, key) as client:
        done = plain(client.accounts.disconnect(account_id))
    revocation = done["platform_revocation"]
    said = {
        "revoked": "the platform revoked our access",
        "unsupported": "the platform offers no revocation: remove the app in its settings",
        "failed": f"the platform did not confirm the revocation ({done['revocation_detail']})",
    }[revocation]
    failed = len(done["failed_targets"])
    out().result(
        done,
        ids=[account_id],
        human=lambda: out().line(
            f"disconnected {account_id}; {said}; {failed} target(s) still to publish failed"
        ),
    )


@app.command(
    "show",
    epilog=examples("crosspost accounts show acc_01J…", "crosspost accounts show acc_01J… --json"),
)
def accounts_show(
    account_id: Annotated[str, typer.Argument(metavar="ACCOUNT_ID")],
    api_url: ApiUrl = None,
    key: ApiKey = None,
) -> None:
    """Show one account: status, token expiry, scopes (and missing ones), last error."""
    with api(api_url, key) as client:
        account = plain(client.accounts.get(account_id))
    fields = [
        ("id", account["id"]),
        ("platform", account["platform"]),
        ("mode", account["mode"]),
        ("handle", account["handle"]),
        ("external id", account["external_id"]),
        (
            "role",
            account["role"] + (f" of {account['parent_id']}" if account.get("parent_id") else ""),
        ),
        ("status", account["status"]),
        ("token ends", ts(account.get("token_expires_at"))),
        ("scopes", " ".join(account.get("scopes") or []) or "-"),
        ("scopes missing", " ".join(account.get("scopes_missing") or []) or "-"),
        ("last publish", ts(account.get("last_published_at"))),
        ("last error", account.get("last_error") or "-"),
        ("connected", ts(account.get("created_at"))),
    ]
    out().result(
        account,
        ids=[account["id"]],
        human=lambda: out().table([Col("field"), Col("value", keep=True)], fields),
    )
    if account["status"] == "needs_reauth":
        out().warn(f"reconnect it: `crosspost accounts connect {account['platform']}`")
