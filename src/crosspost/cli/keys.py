"""`crosspost keys`: API keys and their signing secrets, on the local state."""

from __future__ import annotations

from datetime import timedelta
from typing import Annotated, Any

import typer

from crosspost.cli._common import (
    App,
    Col,
    ExitCode,
    TenantOpt,
    cli_errors,
    default_mode,
    examples,
    out,
    services,
    ts,
)
from crosspost.config import Settings
from crosspost.domain.enums import KeyRole, Mode

app = App(help="API keys: create, list, show, roll, revoke, signing secrets (on the local state).")


@app.command(
    "create",
    epilog=examples(
        "export CROSSPOST_API_KEY=$(crosspost keys create --name demo)",
        "crosspost keys create --name ops --role admin --expires-in-days 30",
        "crosspost keys create --name reader --scope posts:read --json",
    ),
)
def keys_create(
    name: Annotated[str, typer.Option(help="A label for the key.", metavar="TEXT")],
    mode: Annotated[
        Mode | None,
        typer.Option(
            help="test (reaches only the sandbox fakes) or live; default: the mode of the "
            "server last started on this home (test after `serve --sandbox`), else live."
        ),
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
        list[str] | None,
        typer.Option(help="An explicit scope instead of a role (repeat).", metavar="SCOPE"),
    ] = None,
    tier: Annotated[
        str | None,
        typer.Option(help="Rate-limit tier: free, pro or enterprise.", metavar="TIER"),
    ] = None,
    expires_in_days: Annotated[
        float | None,
        typer.Option(help="The key stops working after this many days.", metavar="DAYS"),
    ] = None,
    tenant: TenantOpt = None,
) -> None:
    """Create an API key and print it once (stdout: the key alone).

    The key is a developer key unless --role or --scope says otherwise.
    """
    from crosspost.engine.keys import default_tenant, issue_key  # noqa: PLC0415

    settings = Settings()
    svc = services(settings)
    if mode is None:
        mode = default_mode(settings)
    role = role or (None if scope else KeyRole.DEVELOPER)  # the API's default
    expires = (
        svc.clock.now() + timedelta(days=expires_in_days) if expires_in_days is not None else None
    )
    with cli_errors():
        key_id, raw = issue_key(
            svc,
            tenant_id=default_tenant(svc, tenant),
            name=name,
            mode=mode,
            role=role,
            scopes=tuple(scope) if scope else None,
            tier=tier,
            expires_at=expires,
        )
    svc.close()
    data = {"id": key_id, "name": name, "mode": mode.value, "role": role, "key": raw}
    out().note(f"created {mode.value} key {key_id} ({name}); it is shown only once:")
    out().result(data, ids=[key_id, raw], human=lambda: out().line(raw))


@app.command("revoke", epilog=examples("crosspost keys revoke key_01J…"))
def keys_revoke(
    key_id: Annotated[str, typer.Argument(metavar="KEY_ID")], tenant: TenantOpt = None
) -> None:
    """Revoke a key at once (other API processes notice within seconds)."""
    from crosspost.engine.keys import default_tenant, revoke_key  # noqa: PLC0415

    svc = services(Settings())
    with cli_errors():
        revoke_key(svc, tenant_id=default_tenant(svc, tenant), key_id=key_id)
    svc.close()
    out().result(
        {"id": key_id, "revoked": True}, ids=[key_id], human=lambda: out().line(f"revoked {key_id}")
    )


@app.command(
    "roll",
    epilog=examples(
        "crosspost keys roll key_01J… --overlap-hours 24",
        "crosspost keys roll key_01J… --overlap-hours 0   # the old key stops now",
    ),
)
def keys_roll(
    key_id: Annotated[str, typer.Argument(metavar="KEY_ID")],
    overlap_hours: Annotated[
        float,
        typer.Option(help="How long the old key keeps working (0 = stop it now).", metavar="HOURS"),
    ] = 24.0,
    tenant: TenantOpt = None,
) -> None:
    """Replace a key with a new secret of the same powers and print the new one once."""
    from crosspost.engine.keys import default_tenant, roll_key  # noqa: PLC0415

    svc = services(Settings())
    with cli_errors():
        # Before the write below: SQLite has one writer at a time.
        tenant_id = default_tenant(svc, tenant)
    with cli_errors(), svc.db.write() as conn:
        row, raw = roll_key(
            svc,
            conn,
            tenant_id=tenant_id,
            key_id=key_id,
            overlap=timedelta(hours=overlap_hours),
        )
    svc.close()
    out().note(
        f"rolled {key_id} to {row['id']}; the old key works for {overlap_hours:g} h more. "
        "The new key is shown only once:"
    )
    data = {"id": row["id"], "previous_id": key_id, "overlap_hours": overlap_hours, "key": raw}
    out().result(data, ids=[row["id"], raw], human=lambda: out().line(raw))


@app.command("signing-secret", epilog=examples("crosspost keys signing-secret key_01J…"))
def keys_signing_secret(
    key_id: Annotated[str, typer.Argument(metavar="KEY_ID")], tenant: TenantOpt = None
) -> None:
    """Create (or rotate) a key's HMAC signing secret and print it once; a previous secret
    keeps working for CROSSPOST_SIGNING_GRACE_SECONDS (24 h)."""
    from crosspost.engine.keys import default_tenant  # noqa: PLC0415
    from crosspost.vault.signing_secrets import issue_secret  # noqa: PLC0415

    svc = services(Settings())
    with cli_errors():
        made = issue_secret(
            svc.db,
            svc.keyring,
            tenant_id=default_tenant(svc, tenant),
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
    out().note(
        f"signing secret {made.id} for {key_id}{previous}. Send its id as X-Key-Id; the "
        "secret is shown only once:"
    )
    data = {
        "id": made.id,
        "key_id": key_id,
        "secret": made.secret,
        "previous_expires_at": made.previous_expires_at,
    }
    out().result(data, ids=[made.id, made.secret], human=lambda: out().line(made.secret))


def _key_view(r: Any) -> dict[str, Any]:
    """A key row as the CLI shows it (never its hash)."""
    return {
        "id": r["id"],
        "name": r["name"],
        "mode": r["mode"],
        "prefix": r["display_prefix"],
        "role": r["role"],
        "scopes": list(r["scopes"]),
        "tier": r["tier"],
        "created_at": r["created_at"],
        "last_used_at": r["last_used_at"],
        "expires_at": r["expires_at"],
        "revoked_at": r["revoked_at"],
    }


@app.command(
    "show", epilog=examples("crosspost keys show key_01J…", "crosspost keys show key_01J… --json")
)
def keys_show(
    key_id: Annotated[str, typer.Argument(metavar="KEY_ID")], tenant: TenantOpt = None
) -> None:
    """Show one API key: mode, role and scopes, tier, when it was used, when it ends."""
    from crosspost.engine.keys import default_tenant  # noqa: PLC0415
    from crosspost.store import tenants  # noqa: PLC0415

    svc = services(Settings())
    with cli_errors():
        tenant_id = default_tenant(svc, tenant)
    with svc.db.read() as conn:
        row = tenants.get_api_key(conn, tenant_id, key_id)
    svc.close()
    if row is None:
        out().error(f"no API key {key_id!r} on this home; `crosspost keys list` shows them")
        raise typer.Exit(ExitCode.ERROR)
    key = _key_view(row)
    fields = [
        ("id", key["id"]),
        ("name", key["name"]),
        ("mode", key["mode"]),
        ("prefix", key["prefix"] + "…"),
        ("role", key["role"] or "-"),
        ("scopes", " ".join(key["scopes"]) or "(the role's)"),
        ("tier", key["tier"] or "-"),
        ("created", ts(key["created_at"])),
        ("last used", ts(key["last_used_at"])),
        ("expires", ts(key["expires_at"])),
        ("revoked", ts(key["revoked_at"])),
    ]
    out().result(
        key,
        ids=[key["id"]],
        human=lambda: out().table([Col("field"), Col("value", keep=True)], fields),
    )


@app.command("list", epilog=examples("crosspost keys list", "crosspost keys list --json"))
def keys_list(tenant: TenantOpt = None) -> None:
    """List API keys (never their secrets)."""
    from crosspost.engine.keys import default_tenant  # noqa: PLC0415
    from crosspost.store import tenants  # noqa: PLC0415

    svc = services(Settings())
    with cli_errors():
        tenant_id = default_tenant(svc, tenant)
    with svc.db.read() as conn:
        rows = tenants.list_api_keys(conn, tenant_id)
    svc.close()
    data = [_key_view(r) for r in rows]
    cols = [Col("id", keep=True), Col("name"), Col("mode"), Col("prefix"), Col("role"),
            Col("tier"), Col("created"), Col("last used"), Col("ends")]  # fmt: skip
    table = [
        [
            k["id"],
            k["name"],
            k["mode"],
            k["prefix"] + "…",
            k["role"] or ",".join(k["scopes"]),
            k["tier"] or "-",
            ts(k["created_at"]),
            ts(k["last_used_at"]),
            ("revoked " if k["revoked_at"] else "") + ts(k["revoked_at"] or k["expires_at"]),
        ]
        for k in data
    ]
    out().result(data, ids=[k["id"] for k in data], human=lambda: out().table(cols, table))
