"""`crosspost export`: posts or the ledger to a file, through the API."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from crosspost.cli._common import ApiKey, ApiUrl, api, notes

app = typer.Typer()


@app.command("export")
def export(
    out: Annotated[Path, typer.Option(help="Where to save the file.", dir_okay=False)],
    kind: Annotated[str, typer.Option(help="posts (with their targets) or ledger.")] = "posts",
    format: Annotated[str, typer.Option("--format", help="jsonl or csv.")] = "jsonl",
    since: Annotated[
        str | None, typer.Option(help="Only rows created at or after (ISO 8601 with offset).")
    ] = None,
    until: Annotated[
        str | None, typer.Option(help="Only rows created before (ISO 8601 with offset).")
    ] = None,
    timeout: Annotated[float, typer.Option(help="Seconds to wait for the file.")] = 600.0,
    api_url: ApiUrl = None,
    key: ApiKey = None,
) -> None:
    """Export posts or the ledger to a file: start the export, wait for it, download it."""
    with api(api_url, key) as client:
        made = client.create_export(kind=kind, format=format, since=since, until=until)
        done = client.follow_export(made["id"], timeout=timeout)
        if done["status"] != "ready":
            reason = done.get("error") or f"still {done['status']} after {timeout:g} s"
            notes.print(f"export {made['id']} is not ready: {reason}", highlight=False)
            raise typer.Exit(1)
        size = client.download_export(done, out)
    notes.print(
        f"saved export {made['id']} ({kind}: {done['progress']['done']} rows, {size} bytes) "
        f"to {out}",
        style="dim",
        highlight=False,
    )
    typer.echo(made["id"])
