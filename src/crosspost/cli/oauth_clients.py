"""`crosspost oauth-clients`: OAuth 2.0 clients of partner backends, on the local state."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.table import Table

from crosspost.cli._common import cli_errors, console, notes, services, ts
from crosspost.config import Settings
from crosspost.domain.enums import Mode

app = typer.Typer(
    help="OAuth 2.0 clients of partner backends (client credentials).", no_args_is_help=True
)


@app.command("create")
def clients_create(
    name: Annotated[str, typer.Option(help="A label for the client.")],
    scope: Annotated[list[str], typer.Option(help="A scope the client may ask for (repeat).")],
    tier: Annotated[str | None, typer.Option(help="Rate-limit tier of its tokens.")] = None,
    mode: Annotated[Mode, typer.Option(help="test (sandbox) or live.")] = Mode.LIVE,
) -> None:
    """Create a client; prints its id and secret (the secret only this once)."""
    from crosspost.engine.keys import default_tenant  # noqa: PLC0415
    from crosspost.engine.oauth_clients import create_client  # noqa: PLC0415

    svc = services(Settings())
    tenant = default_tenant(svc)
    with cli_errors(), svc.db.write() as conn:
        row, secret = create_client(
            svc, conn, tenant_id=tenant, name=name, mode=mode, scopes=scope, tier=tier
        )
    svc.close()
    notes.print(
        f"created {mode.value} OAuth client {row['id']} ({name}); client_id and the secret, "
        "shown only once:",
        style="dim",
        highlight=False,
    )
    typer.echo(row["id"])
    typer.echo(secret)


@app.command("list")
def clients_list() -> None:
    """List OAuth clients (never their secrets)."""
    from crosspost.engine.keys import default_tenant  # noqa: PLC0415
    from crosspost.engine.oauth_clients import list_clients  # noqa: PLC0415

    svc = services(Settings())
    table = Table("client_id", "name", "mode", "scopes", "tier", "created", "revoked")
    for r in list_clients(svc, default_tenant(svc)):
        table.add_row(
            r["id"],
            r["name"],
            r["mode"],
            " ".join(r["scopes"]),
            r["tier"] or "-",
            ts(r["created_at"]),
            ts(r["revoked_at"]),
        )
    console.print(table)
    svc.close()


@app.command("revoke")
def clients_revoke(client_id: str) -> None:
    """Revoke a client: its tokens stop working within seconds."""
    from crosspost.engine.keys import default_tenant  # noqa: PLC0415
    from crosspost.engine.oauth_clients import revoke_client  # noqa: PLC0415

    svc = services(Settings())
    with cli_errors():
        revoke_client(svc, tenant_id=default_tenant(svc), client_id=client_id)
    svc.close()
    typer.echo(f"revoked {client_id}")
