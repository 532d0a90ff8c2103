"""Posts through the API: publish, status, ledger."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.progress import BarColumn, DownloadColumn, Progress, TransferSpeedColumn
from rich.table import Table

from crosspost.cli._common import ApiKey, ApiUrl, api, console

app = typer.Typer()


@app.command()
def publish(
    file: Annotated[
        Path | None, typer.Argument(exists=True, dir_okay=False, help="Media file.")
    ] = None,
    caption: Annotated[str, typer.Option(help="Caption / title / description.")] = "",
    to: Annotated[list[str] | None, typer.Option(help="Platform or account id; repeat.")] = None,
    at: Annotated[str | None, typer.Option(help="Publish time, e.g. 2026-12-01T18:00.")] = None,
    tz: Annotated[str | None, typer.Option(help="IANA time zone for --at.")] = None,
    fold: Annotated[
        int | None,
        typer.Option(
            min=0,
            max=1,
            help="For an --at the clocks pass twice (going back): 0 the first, 1 the second.",
        ),
    ] = None,
    follow: Annotated[bool, typer.Option(help="Wait for the final status.")] = True,
    api_url: ApiUrl = None,
    key: ApiKey = None,
) -> None:
    """Upload a file, create a post, and follow it to the end."""
    if not to:
        console.print("[red]name at least one destination with --to youtube (repeatable)[/]")
        raise typer.Exit(2)
    with api(api_url, key) as client:
        body: dict[str, Any] = {"text": caption, "targets": to}
        if file is not None:
            with Progress(
                "[progress.description]{task.description}",
                BarColumn(),
                DownloadColumn(),
                TransferSpeedColumn(),
                console=console,
            ) as bar:
                task = bar.add_task(f"uploading {file.name}", total=file.stat().st_size)
                media = client.upload_media(file, progress=lambda n: bar.advance(task, n))
            body["media_id"] = media["id"]
        if at:
            body["publish_at"] = at
            body["timezone"] = tz
        if fold is not None:
            body["fold"] = fold
        post = client.create_post(body)
        console.print(f"post {post['id']}: {post['status']}")
        if follow and post["status"] != "scheduled":
            post = client.follow(post["id"])
        _print_post(post)


def _print_post(post: dict[str, Any]) -> None:
    table = Table(
        "target", "platform", "status", "url / error", title=f"post {post['id']}: {post['status']}"
    )
    for t in post["targets"]:
        err = t.get("last_error") or {}
        detail = t.get("external_url") or (
            f"{err.get('kind')}: {err.get('message')}" if err else ""
        )
        if t.get("next_attempt_at") and not t.get("external_url"):
            detail += f" (next attempt {t['next_attempt_at']})"
        table.add_row(t["id"], t["platform"], t["status"], detail)
    console.print(table)


@app.command()
def status(post_id: str, api_url: ApiUrl = None, key: ApiKey = None) -> None:
    """Show a post and its targets."""
    with api(api_url, key) as client:
        _print_post(client.get_post(post_id))


@app.command()
def ledger(post_id: str, api_url: ApiUrl = None, key: ApiKey = None) -> None:
    """Show every event of a post's publishing."""
    with api(api_url, key) as client:
        table = Table("time (UTC)", "event", "platform", "details", title=f"ledger of {post_id}")
        for e in client.ledger(post_id):
            data = dict(e["data"])
            platform = str(data.pop("platform", ""))
            details = ", ".join(f"{k}={json.dumps(v, ensure_ascii=False)}" for k, v in data.items())
            table.add_row(e["created_at"][11:23], e["event_type"], platform, details)
        console.print(table)
