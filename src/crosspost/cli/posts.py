"""Posts through the API: publish, status, ledger."""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.progress import BarColumn, DownloadColumn, Progress, TransferSpeedColumn

from crosspost.cli._common import (
    ApiKey,
    ApiUrl,
    App,
    Col,
    ExitCode,
    api,
    examples,
    out,
    sandboxed,
)
from crosspost.domain.enums import Platform

app = App()

PostId = Annotated[str, typer.Argument(metavar="POST_ID")]


@app.command(
    epilog=examples(
        'crosspost publish clip.mp4 --caption "first #clip" --to youtube --to tiktok',
        "crosspost publish clip.mp4 --to youtube --at 2030-01-31T18:00 --tz Europe/Paris",
        "crosspost publish --caption 'text only' --to x --to linkedin -q",
    ),
)
def publish(
    file: Annotated[
        Path | None,
        typer.Argument(
            exists=True, dir_okay=False, help="Media file (none: a text post).", metavar="FILE"
        ),
    ] = None,
    caption: Annotated[
        str, typer.Option(help="Caption / title / description.", metavar="TEXT")
    ] = "",
    to: Annotated[
        list[str] | None,
        typer.Option(
            help="Where to publish, repeatable: a platform ("
            + ", ".join(p.value for p in Platform)
            + ") or a social account id (acc_…).",
            metavar="PLATFORM",
        ),
    ] = None,
    at: Annotated[
        str | None,
        typer.Option(
            help="Publish time, ISO 8601: a local time read in --tz (2030-01-31T18:00) or "
            "with its offset; default: now.",
            metavar="TIME",
        ),
    ] = None,
    tz: Annotated[
        str | None,
        typer.Option(help="IANA time zone for --at, e.g. Europe/Paris.", metavar="ZONE"),
    ] = None,
    fold: Annotated[
        int | None,
        typer.Option(
            min=0,
            max=1,
            help="For an --at the clocks pass twice (going back): 0 the first, 1 the second.",
            metavar="0|1",
        ),
    ] = None,
    follow: Annotated[bool, typer.Option(help="Wait for the final status.")] = True,
    api_url: ApiUrl = None,
    key: ApiKey = None,
) -> None:
    """Upload a file, create a post, and follow it to the end."""
    if not to:
        out().error("name at least one destination with --to youtube (repeatable)")
        raise typer.Exit(ExitCode.USAGE)
    with api(api_url, key) as client:
        body: dict[str, Any] = {"text": caption, "targets": to}
        if file is not None:
            with Progress(
                "[progress.description]{task.description}",
                BarColumn(),
                DownloadColumn(),
                TransferSpeedColumn(),
                console=out().err,
                disable=not out().human,
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
        out().line(f"post {post['id']}: {post['status']}")
        if follow and post["status"] != "scheduled":
            post = client.follow(post["id"])
        show_post(post)


def show_post(post: dict[str, Any]) -> None:
    """A post as the command's result: its targets in a table (JSON: the post as is)."""
    sandbox = post.get("mode") == "test"
    cols = [Col("target", keep=True), Col("platform"), Col("status"), Col("url", keep=True),
            Col("error / next attempt")]  # fmt: skip
    rows = []
    for t in post["targets"]:
        err = t.get("last_error") or {}
        detail = f"{err.get('kind')}: {err.get('message')}" if err else ""
        if t.get("next_attempt_at") and not t.get("external_url"):
            detail += f" (next attempt {t['next_attempt_at']})"
        url = sandboxed(t.get("external_url"), sandbox)
        rows.append([t["id"], t["platform"], t["status"], url or "-", detail.strip() or "-"])
    title = f"post {post['id']}: {post['status']}" + (" (sandbox)" if sandbox else "")
    out().result(post, ids=[post["id"]], human=lambda: out().table(cols, rows, title=title))


@app.command(epilog=examples("crosspost status post_01J…", "crosspost status post_01J… --json"))
def status(post_id: PostId, api_url: ApiUrl = None, key: ApiKey = None) -> None:
    """Show a post and its targets: status, URL or error, next attempt."""
    with api(api_url, key) as client:
        show_post(client.get_post(post_id))


@app.command(epilog=examples("crosspost ledger post_01J…", "crosspost ledger post_01J… --json"))
def ledger(post_id: PostId, api_url: ApiUrl = None, key: ApiKey = None) -> None:
    """Show every event of a post's publishing, with its date and time (UTC)."""
    with api(api_url, key) as client:
        events = client.ledger(post_id)
    rows = []
    for e in events:
        data = dict(e["data"])
        platform = str(data.pop("platform", ""))
        details = ", ".join(f"{k}={json.dumps(v, ensure_ascii=False)}" for k, v in data.items())
        rows.append([_utc(e["created_at"]), e["event_type"], platform, details])
    cols = [Col("time (UTC)", keep=True), Col("event"), Col("platform"), Col("details")]
    out().result(
        events,
        ids=[e["id"] for e in events],
        human=lambda: out().table(cols, rows, title=f"ledger of {post_id}"),
    )


def _utc(stamp: str) -> str:
    """An API timestamp as `2026-05-01 18:00:03.125`: the date too, to the millisecond."""
    return datetime.fromisoformat(stamp).strftime("%Y-%m-%d %H:%M:%S.%f")[:-3]
