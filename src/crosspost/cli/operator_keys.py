"""`crosspost operator-keys`: the server operator's keys for `/v1/admin/*`."""

from __future__ import annotations

from typing import Annotated

import typer

from crosspost.cli._common import App, Col, cli_errors, examples, out, services, ts
from crosspost.config import Settings

app = App(help="Operator keys (cp_op_…) for the admin API: create, list, revoke.")


@app.command(
    "create",
    epilog=examples("export CROSSPOST_OPERATOR_KEY=$(crosspost operator-keys create --name ops)"),
)
def operator_keys_create(
    name: Annotated[str, typer.Option(help="A label for the key.", metavar="TEXT")],
) -> None:
    """Create an operator key and print it once (stdout: the key alone)."""
    from crosspost.identity.operators import issue  # noqa: PLC0415

    svc = services(Settings())
    with cli_errors():
        row, raw = issue(svc, name=name)
    svc.close()
    out().note(f"created operator key {row['id']} ({name}); it is shown only once:")
    data = {"id": row["id"], "name": name, "key": raw}
    out().result(data, ids=[row["id"], raw], human=lambda: out().line(raw))


@app.command("list", epilog=examples("crosspost operator-keys list"))
def operator_keys_list() -> None:
    """List operator keys (never their secrets)."""
    from crosspost.store import operator_keys  # noqa: PLC0415

    svc = services(Settings())
    with svc.db.read() as conn:
        rows = operator_keys.every_key(conn)
    svc.close()
    data = [{k: r[k] for k in ("id", "name", "display_prefix", "created_at", "last_used_at",
                               "revoked_at")} for r in rows]  # fmt: skip
    cols = [Col("id", keep=True), Col("name"), Col("prefix"), Col("created"), Col("last used"),
            Col("revoked")]  # fmt: skip
    table = [[k["id"], k["name"], k["display_prefix"] + "…", ts(k["created_at"]),
              ts(k["last_used_at"]), ts(k["revoked_at"])] for k in data]  # fmt: skip
    out().result(data, ids=[k["id"] for k in data], human=lambda: out().table(cols, table))


@app.command("revoke", epilog=examples("crosspost operator-keys revoke opk_01J…"))
def operator_keys_revoke(key_id: Annotated[str, typer.Argument(metavar="KEY_ID")]) -> None:
    """Revoke an operator key at once."""
    from crosspost.identity.operators import revoke  # noqa: PLC0415

    svc = services(Settings())
    with cli_errors():
        revoke(svc, key_id)
    svc.close()
    out().result(
        {"id": key_id, "revoked": True}, ids=[key_id], human=lambda: out().line(f"revoked {key_id}")
    )
