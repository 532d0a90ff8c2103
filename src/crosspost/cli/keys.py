"""`crosspost keys`: API keys and their signing secrets, on the local state."""

from __future__ import annotations

from datetime import timedelta
from typing import Annotated

import typer
from rich.table import Table

from crosspost.cli._common import cli_errors, console, default_mode, notes, services, ts
from crosspost.config import Settings
from crosspost.domain.enums import KeyRole, Mode

app = typer.Typer(help="Manage API keys.", no_args_is_help=True)


@app.command("create")
def keys_create(
    name: Annotated[str, typer.Option(help="A label for the key.")],
    mode: Annotated[
        Mode | None,
        typer.Option(help="test or live (default: test after `serve --sandbox`, else live)."),
    ] = None,
    role: Annotated[
        KeyRole | None,
        typer.Option(
            help="What the key may do: developer (the default, as in the API: everything "
            "but the admin scope, i.e. not manage keys, signing or quotas), viewer (read "
            "posts and usage), admin or owner (every scope). Least privilege: ask for admin "
            "only for a key that manages other keys."
        ),
    ] = None,
    scope: Annotated[
        list[str] | None, typer.Option(help="An explicit scope instead of a role (repeat).")
    ] = None,
    tier: Annotated[
        str | None, typer.Option(help="Rate-limit tier: free, pro or enterprise.")
    ] = None,
    expires_in_days: Annotated[
        float | None, typer.Option(help="The key stops working after this many days.")
    ] = None,
) -> None:
    """Create an API key and print it once.

    The key is a developer key unless --role or --scope says otherwise.
    """
    from crosspost.engine.keys import default_tenant, issue_key  # noqa: PLC0415

    settings = Settings()
    svc = services(settings)
    if mode is None:
        mode = default_mode(settings)
    expires = (
        svc.clock.now() + timedelta(days=expires_in_days) if expires_in_days is not None else None
    )
    with cli_errors():
        key_id, raw = issue_key(
            svc,
            tenant_id=default_tenant(svc),
            name=name,
            mode=mode,
            # The API's default: least privilege, not every scope.
            role=role or (None if scope else KeyRole.DEVELOPER),
            scopes=tuple(scope) if scope else None,
            tier=tier,
            expires_at=expires,
        )
    svc.close()
    notes.print(
        f"created {mode.value} key {key_id} ({name}); it is shown only once:",
        style="dim",
        highlight=False,
    )
    typer.echo(raw)


@app.command("revoke")
def keys_revoke(key_id: str) -> None:
    """Revoke a key at once (other API processes notice within seconds)."""
    from crosspost.engine.keys import default_tenant, revoke_key  # noqa: PLC0415

    svc = services(Settings())
    with cli_errors():
        revoke_key(svc, tenant_id=default_tenant(svc), key_id=key_id)
    svc.close()
    typer.echo(f"revoked {key_id}")


@app.command("roll")
def keys_roll(
    key_id: str,
    overlap_hours: Annotated[
        float, typer.Option(help="How long the old key keeps working (0 = stop it now).")
    ] = 24.0,
) -> None:
    """Replace a key with a new secret of the same powers and print the new one once."""
    from crosspost.engine.keys import default_tenant, roll_key  # noqa: PLC0415

    svc = services(Settings())
    tenant = default_tenant(svc)  # before the write below: SQLite has one writer at a time
    with cli_errors(), svc.db.write() as conn:
        row, raw = roll_key(
            svc,
            conn,
            tenant_id=tenant,
            key_id=key_id,
            overlap=timedelta(hours=overlap_hours),
        )
    svc.close()
    notes.print(
        f"rolled {key_id} to {row['id']}; the old key works for {overlap_hours:g} h more. "
        "The new key is shown only once:",
        style="dim",
        highlight=False,
    )
    typer.echo(raw)


@app.command("signing-secret")
def keys_signing_secret(key_id: str) -> None:
    """Create (or rotate) a key's HMAC signing secret and print it once; a previous secret
    keeps working for CROSSPOST_SIGNING_GRACE_SECONDS (24 h)."""
    from crosspost.engine.keys import default_tenant  # noqa: PLC0415
    from crosspost.vault.signing_secrets import issue_secret  # noqa: PLC0415

    svc = services(Settings())
    with cli_errors():
        made = issue_secret(
            svc.db,
            svc.keyring,
            tenant_id=default_tenant(svc),
            key_id=key_id,
            now=svc.clock.now(),
            grace=timedelta(seconds=svc.settings.signing_grace_seconds),
        )
    svc.close()
    previous = (
        f"; the previous secret works until {ts(made.previous_expires_at)}"
        if made.previous_expires_at
        else ""
    )
    notes.print(
        f"signing secret {made.id} for {key_id}{previous}. Send its id as X-Key-Id; the "
        "secret is shown only once:",
        style="dim",
        highlight=False,
    )
    typer.echo(made.secret)


@app.command("list")
def keys_list() -> None:
    """List API keys (never their secrets)."""
    from crosspost.engine.keys import default_tenant  # noqa: PLC0415
    from crosspost.store import tenants  # noqa: PLC0415

    svc = services(Settings())
    with svc.db.read() as conn:
        rows = tenants.list_api_keys(conn, default_tenant(svc))
    table = Table("id", "name", "mode", "prefix", "role", "tier", "created", "last used", "ends")
    for r in rows:
        ends = r["revoked_at"] or r["expires_at"]
        table.add_row(
            r["id"],
            r["name"],
            r["mode"],
            r["display_prefix"] + "…",
            r["role"] or ",".join(r["scopes"]),
            r["tier"] or "-",
            ts(r["created_at"]),
            ts(r["last_used_at"]),
            ("revoked " if r["revoked_at"] else "") + ts(ends),
        )
    console.print(table)
    svc.close()
