"""`crosspost oauth-clients`: OAuth 2.0 clients of partner backends, on the local state."""

from __future__ import annotations

from typing import Annotated

import typer

from crosspost.cli._common import App, Col, cli_errors, default_mode, examples, out, services, ts
from crosspost.config import Settings
from crosspost.domain.enums import Mode

app = App(help="OAuth 2.0 clients of partner backends (client credentials), on the local state.")


@app.command(
    "create",
    epilog=examples(
        "crosspost oauth-clients create --name partner --scope posts:read --scope posts:write",
        "crosspost oauth-clients create --name partner --scope posts:read --mode live --json",
    ),
)
def clients_create(
    name: Annotated[str, typer.Option(help="A label for the client.", metavar="TEXT")],
    scope: Annotated[
        list[str], typer.Option(help="A scope the client may ask for (repeat).", metavar="SCOPE")
    ],
    tier: Annotated[
        str | None, typer.Option(help="Rate-limit tier of its tokens.", metavar="TIER")
    ] = None,
    mode: Annotated[
        Mode | None,
        typer.Option(
            help="test (sandbox) or live; default: the mode of the server last started on "
            "this home (test under `serve --sandbox`), else live."
        ),
    ] = None,
) -> None:
    """Create a client; prints its id and secret (the secret only this once)."""
    from crosspost.engine.keys import default_tenant  # noqa: PLC0415
    from crosspost.engine.oauth_clients import create_client  # noqa: PLC0415

    settings = Settings()
    svc = services(settings)
    mode = mode or default_mode(settings)
    tenant = default_tenant(svc)
    with cli_errors(), svc.db.write() as conn:
        row, secret = create_client(
            svc, conn, tenant_id=tenant, name=name, mode=mode, scopes=scope, tier=tier
        )
    svc.close()
    out().note(
        f"created {mode.value} OAuth client {row['id']} ({name}); client_id and the secret, "
        "shown only once:"
    )
    data = {"id": row["id"], "name": name, "mode": mode.value, "scopes": scope, "secret": secret}

    def human() -> None:
        out().line(row["id"])
        out().line(secret)

    out().result(data, ids=[row["id"], secret], human=human)


@app.command("list", epilog=examples("crosspost oauth-clients list"))
def clients_list() -> None:
    """List OAuth clients (never their secrets)."""
    from crosspost.engine.keys import default_tenant  # noqa: PLC0415
    from crosspost.engine.oauth_clients import list_clients  # noqa: PLC0415

    svc = services(Settings())
    rows = list_clients(svc, default_tenant(svc))
    svc.close()
    data = [
        {k: r[k] for k in ("id", "name", "mode", "scopes", "tier", "created_at", "revoked_at")}
        for r in rows
    ]
    cols = [Col("client_id", keep=True), Col("name"), Col("mode"), Col("scopes"), Col("tier"),
            Col("created"), Col("revoked")]  # fmt: skip
    table = [
        [
            c["id"],
            c["name"],
            c["mode"],
            " ".join(c["scopes"]),
            c["tier"] or "-",
            ts(c["created_at"]),
            ts(c["revoked_at"]),
        ]
        for c in data
    ]
    out().result(data, ids=[c["id"] for c in data], human=lambda: out().table(cols, table))


@app.command("revoke", epilog=examples("crosspost oauth-clients revoke cli_01J…"))
def clients_revoke(client_id: Annotated[str, typer.Argument(metavar="CLIENT_ID")]) -> None:
    """Revoke a client: its tokens stop working within seconds."""
    from crosspost.engine.keys import default_tenant  # noqa: PLC0415
    from crosspost.engine.oauth_clients import revoke_client  # noqa: PLC0415

    svc = services(Settings())
    with cli_errors():
        revoke_client(svc, tenant_id=default_tenant(svc), client_id=client_id)
    svc.close()
    out().result(
        {"id": client_id, "revoked": True},
        ids=[client_id],
        human=lambda: out().line(f"revoked {client_id}"),
    )
