"""`crosspost vault`: the encrypted credential vault, on the local state."""

from __future__ import annotations

import typer

from crosspost.cli._common import services
from crosspost.config import Settings

app = typer.Typer(help="The encrypted credential vault.", no_args_is_help=True)


@app.command("rotate")
def vault_rotate() -> None:
    """Re-encrypt every stored secret under the first key of CROSSPOST_MASTER_KEYS (online)."""
    from crosspost.vault.rotation import rotate_secrets  # noqa: PLC0415

    svc = services(Settings())
    report = rotate_secrets(svc.db, svc.keyring)
    svc.close()
    typer.echo(
        f"re-encrypted {report.rotated} secret(s) under key {svc.keyring.current_kid}; "
        f"{report.current} already current"
        + (
            f"; {report.changed_meanwhile} changed meanwhile: run again to finish"
            if report.changed_meanwhile
            else ""
        )
    )
