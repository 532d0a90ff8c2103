"""`crosspost media list|rm`: the media library, through the API."""

from __future__ import annotations

from typing import Annotated

import typer

from crosspost.cli._common import ApiKey, ApiUrl, App, Col, api, examples, out, ts

app = App(help="The media library: list uploads, delete them (through the API).")

_COLS = [Col("id", keep=True), Col("status"), Col("kind"), Col("file"), Col("MB"), Col("posts"),
         Col("uploaded")]  # fmt: skip


@app.command(
    "list", epilog=examples("crosspost media list", "crosspost media list --kind video --json")
)
def media_list(
    kind: Annotated[str | None, typer.Option(help="Only video, image or audio.")] = None,
    limit: Annotated[int, typer.Option(help="At most this many, newest first.")] = 50,
    api_url: ApiUrl = None,
    key: ApiKey = None,
) -> None:
    """List uploaded media, newest first, with status, sizes and how many posts use each
    (an item still fetching from its URL has no kind or size yet)."""
    with api(api_url, key) as client:
        page = client.request("GET", "/v1/media", params={"kind": kind, "limit": limit})
    items = page["data"]
    rows = [
        [m["id"], m.get("status") or "ready", m["kind"] or "-", m["filename"],
         f"{m['size_bytes'] / 1e6:.1f}" if m["size_bytes"] is not None else "-",
         str(m["used_by"]), ts(m["created_at"])]
        for m in items
    ]  # fmt: skip
    more = " (more: raise --limit)" if page.get("has_more") else ""
    out().result(
        items,
        ids=[m["id"] for m in items],
        human=lambda: out().table(_COLS, rows, title=f"{len(items)} media item(s){more}"),
    )


@app.command("rm", epilog=examples("crosspost media rm med_01J…"))
def media_rm(
    media_ids: Annotated[list[str], typer.Argument(metavar="MEDIA_ID")],
    api_url: ApiUrl = None,
    key: ApiKey = None,
) -> None:
    """Delete media and their files (refused while a post still to publish uses one)."""
    with api(api_url, key) as client:
        for media_id in media_ids:
            client.media.delete(media_id)
            out().note(f"deleted {media_id}")
    out().result({"deleted": media_ids}, ids=media_ids, human=lambda: None)
