"""`crosspost flags`: feature flags on the local state; every change is in the audit log."""

from __future__ import annotations

from typing import Annotated, Any

import typer

from crosspost.cli._common import App, Col, cli_errors, examples, out, services, ts
from crosspost.config import Settings

app = App(help="Feature flags: list, show, set, kill, delete, check (on the local state).")

Key = Annotated[str, typer.Argument(metavar="KEY", help="The flag's key, e.g. admin.tenants.")]


def _state(row: Any) -> str:
    if row["killed"]:
        return "killed"
    if not row["enabled"]:
        return "off"
    return f"on {row['rollout_percent']} %"


def _view(row: Any) -> dict[str, Any]:
    """A flag as the CLI shows it."""
    return {k: row[k] for k in _SHOWN}


_SHOWN = (
    "key", "description", "enabled", "killed", "rollout_percent", "allow_tenants", "deny_tenants",
    "version", "stored", "registered", "created_at", "updated_at",
)  # fmt: skip


@app.command("list", epilog=examples("crosspost flags list", "crosspost flags list --json"))
def flags_list() -> None:
    """List the stored flags and those the code registers (on until set otherwise)."""
    from crosspost.flags.manage import list_flags  # noqa: PLC0415

    svc = services(Settings())
    data = [_view(r) for r in list_flags(svc.db)]
    svc.close()
    cols = [Col("key", keep=True), Col("state"), Col("allow"), Col("deny"), Col("version"),
            Col("description")]  # fmt: skip
    table = [
        [
            f["key"],
            _state(f) + ("" if f["stored"] else " (code default)"),
            str(len(f["allow_tenants"])),
            str(len(f["deny_tenants"])),
            str(f["version"]),
            f["description"],
        ]
        for f in data
    ]
    out().result(data, ids=[f["key"] for f in data], human=lambda: out().table(cols, table))


@app.command("show", epilog=examples("crosspost flags show admin.tenants"))
def flags_show(key: Key) -> None:
    """Show one flag: state, rollout, allow- and deny-lists, version."""
    from crosspost.flags.manage import get_flag  # noqa: PLC0415

    svc = services(Settings())
    with cli_errors():
        flag = _view(get_flag(svc.db, key))
    svc.close()
    _print_flag(flag)


@app.command(
    "set",
    epilog=examples(
        "crosspost flags set publish.threads --on --percent 10",
        "crosspost flags set publish.threads --percent 50   # the first 10 % stay in",
        "crosspost flags set publish.threads --allow ten_01J… --deny ten_01K…",
        "crosspost flags set publish.threads --revive   # undo a kill",
    ),
)
def flags_set(
    key: Key,
    on: Annotated[
        bool | None, typer.Option("--on/--off", help="Switch the flag on or off.")
    ] = None,
    percent: Annotated[
        int | None,
        typer.Option(
            help="Share of tenants it is on for, 0-100; raising it keeps those already in.",
            metavar="PERCENT",
        ),
    ] = None,
    allow: Annotated[
        list[str] | None,
        typer.Option(help="Always on for this tenant (repeat; replaces the list).", metavar="ID"),
    ] = None,
    deny: Annotated[
        list[str] | None,
        typer.Option(help="Always off for this tenant (repeat; replaces the list).", metavar="ID"),
    ] = None,
    clear_allow: Annotated[
        bool, typer.Option("--clear-allow", help="Empty the allow-list.")
    ] = False,
    clear_deny: Annotated[bool, typer.Option("--clear-deny", help="Empty the deny-list.")] = False,
    description: Annotated[
        str | None, typer.Option(help="What the flag guards.", metavar="TEXT")
    ] = None,
    revive: Annotated[bool, typer.Option("--revive", help="Undo a kill.")] = False,
) -> None:
    """Create a flag (on at 100 % unless told otherwise) or change what is given."""
    from crosspost.flags.manage import set_flag  # noqa: PLC0415
    from crosspost.identity.audit import Actor  # noqa: PLC0415

    changes: dict[str, Any] = {}
    if on is not None:
        changes["enabled"] = on
    if percent is not None:
        changes["rollout_percent"] = percent
    if allow or clear_allow:
        changes["allow_tenants"] = list(allow or [])
    if deny or clear_deny:
        changes["deny_tenants"] = list(deny or [])
    if description is not None:
        changes["description"] = description
    if revive:
        changes["killed"] = False
    svc = services(Settings())
    with cli_errors():
        flag = _view(set_flag(svc.db, key, changes, actor=Actor.cli(), now=svc.clock.now()))
    svc.close()
    out().note(f"{key}: {_state(flag)}, version {flag['version']}")
    _print_flag(flag)


@app.command("kill", epilog=examples("crosspost flags kill publish.threads"))
def flags_kill(key: Key) -> None:
    """Switch a flag off for every tenant at once (within a second in every process),
    allow-list included; `set KEY --revive` undoes it."""
    from crosspost.flags.manage import kill_flag  # noqa: PLC0415
    from crosspost.identity.audit import Actor  # noqa: PLC0415

    svc = services(Settings())
    with cli_errors():
        flag = _view(kill_flag(svc.db, key, actor=Actor.cli(), now=svc.clock.now()))
    svc.close()
    out().result(flag, ids=[key], human=lambda: out().line(f"killed {key}"))


@app.command("delete", epilog=examples("crosspost flags delete publish.threads"))
def flags_delete(key: Key) -> None:
    """Delete a stored flag; one the code registers goes back to its default (on)."""
    from crosspost.flags.manage import delete_flag  # noqa: PLC0415
    from crosspost.identity.audit import Actor  # noqa: PLC0415

    svc = services(Settings())
    with cli_errors():
        delete_flag(svc.db, key, actor=Actor.cli(), now=svc.clock.now())
    svc.close()
    out().result(
        {"key": key, "deleted": True}, ids=[key], human=lambda: out().line(f"deleted {key}")
    )


@app.command(
    "check",
    epilog=examples(
        "crosspost flags check publish.threads ten_01J…",
        "crosspost flags check publish.threads ten_01J… --json",
    ),
)
def flags_check(
    key: Key,
    tenant_id: Annotated[str, typer.Argument(metavar="TENANT_ID", help="The tenant to ask for.")],
) -> None:
    """Say whether a flag is on for a tenant, and why (as stored now; every process agrees
    within a second)."""
    from crosspost.flags.manage import check  # noqa: PLC0415
    from crosspost.flags.rules import Flag, explain  # noqa: PLC0415

    svc = services(Settings())
    with cli_errors():
        row, decision = check(svc.db, key, tenant_id)
    svc.close()
    why = explain(Flag.from_row(row) if row["stored"] else None, tenant_id, decision)
    data = {"key": key, "tenant_id": tenant_id, "on": decision.on,
            "reason": decision.reason.value, "why": why, "version": row["version"]}  # fmt: skip
    line = f"{key} is {'on' if decision.on else 'off'} for {tenant_id}: {why}"
    out().result(data, ids=[key], human=lambda: out().line(line))


def _print_flag(flag: dict[str, Any]) -> None:
    fields = [
        ("key", flag["key"]),
        ("state", _state(flag)),
        ("description", flag["description"] or "-"),
        ("allow", " ".join(flag["allow_tenants"]) or "-"),
        ("deny", " ".join(flag["deny_tenants"]) or "-"),
        ("version", str(flag["version"])),
        ("stored", "yes" if flag["stored"] else "no (the code's default)"),
        ("created", ts(flag["created_at"])),
        ("updated", ts(flag["updated_at"])),
    ]
    out().result(
        flag,
        ids=[flag["key"]],
        human=lambda: out().table([Col("field"), Col("value", keep=True)], fields),
    )
