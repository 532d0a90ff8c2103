"""`crosspost export`: posts or the ledger to a file, through the API."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from crosspost.cli._common import ApiKey, ApiUrl, App, ExitCode, api, examples, out, plain, waited

app = App()


@app.command(
    "export",
    epilog=examples(
        "crosspost export --out posts.csv --format csv --since 2026-11-01T00:00:00Z",
        "crosspost export --out ledger.jsonl --kind ledger",
    ),
)
def export(
    out_path: Annotated[
        Path, typer.Option("--out", help="Where to save the file.", dir_okay=False, metavar="FILE")
    ],
    kind: Annotated[
        str, typer.Option(help="posts (with their targets) or ledger.", metavar="KIND")
    ] = "posts",
    format: Annotated[str, typer.Option("--format", help="jsonl or csv.", metavar="FORMAT")] = (
        "jsonl"
    ),
    since: Annotated[
        str | None,
        typer.Option(help="Only rows created at or after (ISO 8601 with offset).", metavar="TIME"),
    ] = None,
    until: Annotated[
        str | None,
        typer.Option(help="Only rows created before (ISO 8601 with offset).", metavar="TIME"),
    ] = None,
    timeout: Annotated[
        float, typer.Option(help="Seconds to wait for the file.", metavar="SECONDS")
    ] = 600.0,
    api_url: ApiUrl = None,
    key: ApiKey = None,
) -> None:
    """Export posts or the ledger to a file: start the export, wait for it, download it.

    Prints the export's id; what it holds, and where, goes to stderr.
    """
    with api(api_url, key) as client:
        body = {"kind": kind, "format": format, "since": since, "until": until}
        made = plain(client.exports.create({k: v for k, v in body.items() if v is not None}))
        done = waited(client.exports.wait, made["id"], timeout=timeout)
        if done["status"] != "ready":
            reason = done.get("error") or f"still {done['status']} after {timeout:g} s"
            out().error(f"export {made['id']} is not ready: {reason}")
            raise typer.Exit(ExitCode.ERROR)
        size = client.exports.save(done["id"], out_path, sha256=done["sha256"])
    from crosspost.engine.exports import COUNTED  # noqa: PLC0415 - keep `--help` fast

    counted = f"{done['progress']['done']} {COUNTED.get(kind, 'rows')}"
    if kind == "posts" and format == "csv":
        counted += ", one CSV row per target"
    out().note(f"saved export {made['id']} ({counted}, {size} bytes) to {out_path}")
    out().result(
        {**done, "path": str(out_path), "bytes": size},
        ids=[made["id"]],
        human=lambda: out().line(made["id"]),
    )
