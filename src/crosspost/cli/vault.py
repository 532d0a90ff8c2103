"""`crosspost vault`: the encrypted credential vault, on the local state."""

from __future__ import annotations

from crosspost.cli._common import App, examples, out, services
from crosspost.config import Settings

app = App(help="The encrypted credential vault (on the local state).")


@app.command(
    "rotate",
    epilog=examples("CROSSPOST_MASTER_KEYS=new:…,old:… crosspost vault rotate"),
)
def vault_rotate() -> None:
    """Re-encrypt every stored secret under the first key of CROSSPOST_MASTER_KEYS (online)."""
    from crosspost.vault.rotation import rotate_secrets  # noqa: PLC0415

    svc = services(Settings())
    report = rotate_secrets(svc.db, svc.keyring)
    svc.close()
    data = {
        "key": svc.keyring.current_kid,
        "rotated": report.rotated,
        "current": report.current,
        "changed_meanwhile": report.changed_meanwhile,
    }
    out().result(
        data,
        human=lambda: out().line(
            f"re-encrypted {report.rotated} secret(s) under key {svc.keyring.current_kid}; "
            f"{report.current} already current"
            + (
                f"; {report.changed_meanwhile} changed meanwhile: run again to finish"
                if report.changed_meanwhile
                else ""
            )
        ),
    )
