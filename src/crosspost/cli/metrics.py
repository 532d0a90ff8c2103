"""`crosspost metrics POST_ID`: how a post performed on each platform, through the API."""

from __future__ import annotations

from typing import Annotated, Any

import typer

from crosspost.cli._common import ApiKey, ApiUrl, App, Col, api, examples, out, plain, ts

app = App()

_COUNTS = ("views", "likes", "comments", "shares")


@app.command(
    epilog=examples(
        "crosspost metrics POST_ID",
        "crosspost metrics POST_ID --series",
        "crosspost metrics POST_ID --json",
    )
)
def metrics(
    post_id: Annotated[str, typer.Argument(metavar="POST_ID")],
    series: Annotated[
        bool, typer.Option("--series", help="Every fetch, not only the latest.")
    ] = False,
    api_url: ApiUrl = None,
    key: ApiKey = None,
) -> None:
    """Show a post's views, likes, comments and shares on each platform (fetched 1 h, 6 h,
    24 h, 72 h and 7 days after publishing, then weekly for 90 days), and when they are
    fetched next."""
    with api(api_url, key) as client:
        found = plain(client.posts.metrics(post_id))
    targets: list[dict[str, Any]] = found["targets"]
    cols = [Col("target", keep=True), Col("platform"), *(Col(c) for c in _COUNTS),
            Col("fetched"), Col("next / why not")]  # fmt: skip
    rows = []
    for t in targets:
        shown = t["series"] if series else [t["latest"]]
        for sample in shown or [None]:
            counts = [_count(sample, c) for c in _COUNTS]
            fetched = ts(sample["fetched_at"]) if sample else "-"
            rows.append([t["target_id"], t["platform"], *counts, fetched, _next(t["schedule"])])
    totals = found["totals"]
    title = f"post {post_id}: " + ", ".join(f"{_count(totals, c)} {c}" for c in _COUNTS)
    out().result(found, ids=[t["target_id"] for t in targets],
                 human=lambda: out().table(cols, rows, title=title))  # fmt: skip


def _count(sample: dict[str, Any] | None, name: str) -> str:
    value = sample.get(name) if sample else None
    return "-" if value is None else f"{value:,}"


def _next(schedule: dict[str, Any]) -> str:
    """When the next fetch is, or why there is none; a failing fetch says why."""
    error = schedule.get("last_error")
    if schedule["state"] == "stopped":
        return f"stopped: {schedule['stop_reason']}"
    if schedule["state"] == "finished":
        return "finished"
    when = ts(schedule["next_fetch_at"]) if schedule.get("next_fetch_at") else "soon"
    return f"{when} (last try: {error['code']}: {error['message']})" if error else when
