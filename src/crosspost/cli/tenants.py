"""`crosspost tenants`: the operator's tenants (workspaces), on the server's own state."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from typing import Annotated, Any

import typer

from crosspost.cli._common import App, Col, cli_errors, examples, out, services, ts
from crosspost.cli._home import running_server
from crosspost.cli._sandbox import home_fakes
from crosspost.config import Settings
from crosspost.domain.enums import KeyRole

app = App(help="Tenants (workspaces): create, list, show, update, suspend, resume, delete.")


def _view(row: Any) -> dict[str, Any]:
    return {
        "id": row["id"],
        "name": row["name"],
        "status": row["status"],
        "is_default": bool(row["is_default"]),
        "created_at": row["created_at"],
        "suspended_at": row["suspended_at"],
        "deleted_at": row["deleted_at"],
        "purge_after": row["purge_after"],
        "default_tier": row["default_tier"],
        "require_signing": bool(row["require_signing"]),
        "webhook_max_endpoints": row["webhook_max_endpoints"],
        "webhook_payload_retention_days": row["webhook_payload_retention_days"],
        "analytics_retention_days": row["analytics_retention_days"],
        "media_retention_days": row["media_retention_days"],
    }


def _show(row: Any, note: str | None = None, **extra: Any) -> None:
    tenant = {**_view(row), **extra}
    if note:
        out().note(note)
    fields = [(k.replace("_", " "), "-" if v is None else ts(v) if k.endswith("_at") or k ==
               "purge_after" else str(v)) for k, v in tenant.items()]  # fmt: skip
    out().result(
        tenant,
        ids=[tenant["id"]],
        human=lambda: out().table([Col("field"), Col("value", keep=True)], fields),
    )


def _linking_settings() -> Settings:
    """Settings whose base URL is where people reach this home's server: links mailed from
    the command line must point there, not at the default port."""
    settings = Settings()
    record = running_server(settings.home) if settings.public_url is None else None
    if record is not None:
        settings = settings.model_copy(update={"public_url": record.api_url})
    return settings


def _sandbox_accounts(tenant_id: str) -> int:
    """Beside a running `serve --sandbox`, a new tenant gets sandbox accounts minted by that
    server's fakes, as the default tenant has, so its test keys publish at once."""
    from crosspost.engine.sandbox import provision_sandbox_accounts  # noqa: PLC0415

    settings = _linking_settings()
    record = running_server(settings.home)
    if record is None or not record.sandbox or not record.fakes_url:
        return 0
    svc = services(home_fakes(settings), expect_server=False, announce=False)
    try:
        return len(provision_sandbox_accounts(svc, tenant_id))
    finally:
        svc.close()


def _write(change: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
    from crosspost.identity.audit import Actor  # noqa: PLC0415

    svc = services(_linking_settings())
    with cli_errors(), svc.db.write() as conn:
        row = change(svc, conn, *args, actor=Actor.cli(), **kwargs)
    svc.close()
    return row


Tier = Annotated[str | None, typer.Option(help="Tier of keys created without one.", metavar="TIER")]
Signing = Annotated[
    bool | None,
    typer.Option("--require-signing/--no-require-signing", help="Every key must sign requests."),
]
MaxEndpoints = Annotated[
    int | None, typer.Option(help="Webhook endpoints the tenant may have.", metavar="N")
]
PayloadDays = Annotated[
    int | None, typer.Option(help="Days webhook payloads are kept.", metavar="DAYS")
]
MediaDays = Annotated[
    int | None,
    typer.Option(help="Days unused media is kept (0: until deleted).", metavar="DAYS"),
]
AnalyticsDays = Annotated[
    int | None, typer.Option(help="Days API analytics are kept.", metavar="DAYS")
]


def _settings(**given: Any) -> dict[str, Any]:
    return {k: v for k, v in given.items() if v is not None}


@app.command(
    "create",
    epilog=examples(
        "crosspost tenants create acme",
        "crosspost tenants create acme --default-tier pro --require-signing --json",
    ),
)
def tenants_create(
    name: Annotated[str, typer.Argument(metavar="NAME")],
    default_tier: Tier = None,
    require_signing: Signing = None,
    webhook_max_endpoints: MaxEndpoints = None,
    webhook_payload_retention_days: PayloadDays = None,
    analytics_retention_days: AnalyticsDays = None,
    media_retention_days: MediaDays = None,
    owner_email: Annotated[
        str | None,
        typer.Option(
            help="Invite this person as the tenant's owner (prints the link).", metavar="EMAIL"
        ),
    ] = None,
) -> None:
    """Create a tenant; --owner-email invites its owner, and `crosspost keys create
    --tenant ID` gives it keys."""
    from crosspost.engine import tenants  # noqa: PLC0415

    settings = _settings(
        default_tier=default_tier,
        require_signing=require_signing,
        webhook_max_endpoints=webhook_max_endpoints,
        webhook_payload_retention_days=webhook_payload_retention_days,
        analytics_retention_days=analytics_retention_days,
        media_retention_days=media_retention_days,
    )
    invitation: list[Any] = []

    def create(svc: Any, conn: Any, actor: Any) -> Any:
        from crosspost.identity import invitations  # noqa: PLC0415

        made = tenants.create(svc, conn, name=name, actor=actor, **settings)
        if owner_email:
            link = invitations.invite(
                svc, conn, tenant_id=made["id"], email=owner_email, role=KeyRole.OWNER,
                actor=actor, inviter_role=KeyRole.OWNER,
            )  # fmt: skip
            invitation.append((svc, link))
        return made

    row = _write(create)
    note, extra = f"created tenant {row['id']} ({name})", {}
    connected = _sandbox_accounts(row["id"])
    if connected:
        note += f"; {connected} sandbox accounts connected"
    if invitation:
        from crosspost.identity import invitations  # noqa: PLC0415

        svc, link = invitation[0]
        sent = invitations.send_invitation(svc, link)
        note += (f"; owner invitation {'mailed' if sent else 'not mailed'} to "
                 f"{link.row['email']}: {link.url}")  # fmt: skip
        extra = {"owner_invitation_url": link.url}
    _show(row, note, **extra)


@app.command(
    "update",
    epilog=examples(
        "crosspost tenants update ten_01J… --default-tier enterprise",
        "crosspost tenants update ten_01J… --name 'Acme Inc.' --no-require-signing",
    ),
)
def tenants_update(
    tenant_id: Annotated[str, typer.Argument(metavar="TENANT_ID")],
    name: Annotated[str | None, typer.Option(help="A new name.", metavar="TEXT")] = None,
    default_tier: Tier = None,
    require_signing: Signing = None,
    webhook_max_endpoints: MaxEndpoints = None,
    webhook_payload_retention_days: PayloadDays = None,
    analytics_retention_days: AnalyticsDays = None,
    media_retention_days: MediaDays = None,
) -> None:
    """Change a tenant's name or settings."""
    from crosspost.engine import tenants  # noqa: PLC0415

    changes = _settings(
        name=name,
        default_tier=default_tier,
        require_signing=require_signing,
        webhook_max_endpoints=webhook_max_endpoints,
        webhook_payload_retention_days=webhook_payload_retention_days,
        analytics_retention_days=analytics_retention_days,
        media_retention_days=media_retention_days,
    )
    row = _write(lambda svc, conn, actor: tenants.update(svc, conn, tenant_id, changes, actor))
    _show(row, f"updated tenant {tenant_id}")


@app.command("list", epilog=examples("crosspost tenants list", "crosspost tenants list --json"))
def tenants_list(
    status: Annotated[
        str | None,
        typer.Option(help="Only tenants of this status: active, suspended, deleted, purged."),
    ] = None,
) -> None:
    """List tenants, newest first."""
    from crosspost.store import tenants  # noqa: PLC0415

    svc = services(Settings())
    with svc.db.read() as conn:
        rows = tenants.page_tenants(conn, limit=10_000, status=status)
    svc.close()
    data = [_view(r) for r in rows]
    cols = [Col("id", keep=True), Col("name"), Col("status"), Col("tier"), Col("created"),
            Col("purge after")]  # fmt: skip
    table = [
        [t["id"], t["name"] + (" (default)" if t["is_default"] else ""), t["status"],
         t["default_tier"] or "-", ts(t["created_at"]), ts(t["purge_after"])]
        for t in data
    ]  # fmt: skip
    out().result(data, ids=[t["id"] for t in data], human=lambda: out().table(cols, table))


@app.command("show", epilog=examples("crosspost tenants show ten_01J…"))
def tenants_show(tenant_id: Annotated[str, typer.Argument(metavar="TENANT_ID")]) -> None:
    """Show one tenant and its settings."""
    from crosspost.engine import tenants  # noqa: PLC0415

    svc = services(Settings())
    with cli_errors(), svc.db.read() as conn:
        row = tenants.get(conn, tenant_id)
    svc.close()
    _show(row)


@app.command("suspend", epilog=examples("crosspost tenants suspend ten_01J…"))
def tenants_suspend(tenant_id: Annotated[str, typer.Argument(metavar="TENANT_ID")]) -> None:
    """Refuse a tenant's keys (403 tenant_suspended) and hold its targets; nothing is lost."""
    from crosspost.engine import tenants  # noqa: PLC0415

    row = _write(tenants.suspend, tenant_id)
    _show(row, f"suspended {tenant_id}: its keys are refused within seconds, its posts wait")


@app.command("resume", epilog=examples("crosspost tenants resume ten_01J…"))
def tenants_resume(tenant_id: Annotated[str, typer.Argument(metavar="TENANT_ID")]) -> None:
    """Make a suspended (or deleted, not yet purged) tenant active; its posts go on."""
    from crosspost.engine import tenants  # noqa: PLC0415

    row = _write(tenants.resume, tenant_id)
    _show(row, f"resumed {tenant_id}")


@app.command(
    "delete",
    epilog=examples(
        "crosspost tenants delete ten_01J…",
        "crosspost tenants delete ten_01J… --retention-days 0   # purge at the next run",
    ),
)
def tenants_delete(
    tenant_id: Annotated[str, typer.Argument(metavar="TENANT_ID")],
    retention_days: Annotated[
        int | None,
        typer.Option(help="Days before the purge (default CROSSPOST_TENANT_RETENTION_DAYS)."),
    ] = None,
) -> None:
    """Soft-delete a tenant: refused at once, purged (rows, media, secrets) after the
    retention window; `resume` restores it until then."""
    from crosspost.engine import tenants  # noqa: PLC0415

    settings = Settings()
    days = settings.tenant_retention_days if retention_days is None else retention_days
    row = _write(tenants.delete, tenant_id, retention=timedelta(days=days))
    _show(row, f"deleted {tenant_id}; purged after {ts(row['purge_after'])} unless resumed")
