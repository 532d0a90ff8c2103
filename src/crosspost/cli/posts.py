"""Posts through the API: `crosspost posts list|show|edit|cancel|retry|delete|ledger`, and
`status` and `ledger`, the short names of `posts show` and `posts ledger` (the same
commands)."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Annotated, Any

import typer

from crosspost.cli import preflight
from crosspost.cli._common import (
    ApiKey,
    ApiUrl,
    App,
    Col,
    ExitCode,
    api,
    examples,
    out,
    plain,
    sandboxed,
    ts,
)
from crosspost.cli.follow import DORMANT, local_time
from crosspost.domain.enums import PostStatus

# Top-level shortcuts (`crosspost status`, `crosspost ledger`).
app = App()
# The group (`crosspost posts …`).
group = App(
    help="Posts: list, show (and follow), edit, cancel, retry, delete on the platforms, "
    "ledger (through the API)."
)

PostId = Annotated[str, typer.Argument(metavar="POST_ID")]


def show_post(post: dict[str, Any], answer: dict[str, Any] | None = None) -> None:
    """A post as the command's result: its targets in a table (JSON: `answer`, by default
    the post as is)."""
    sandbox = post.get("mode") == "test"
    cols = [Col("target", keep=True), Col("platform"), Col("status", keep=True),
            Col("url", keep=True), Col("error / next attempt")]  # fmt: skip
    rows = []
    for t in post["targets"]:
        err = t.get("last_error") or {}
        detail = f"{err.get('kind')}: {err.get('message')}" if err else ""
        if t.get("next_attempt_at") and t["status"] in DORMANT:
            detail += f" (next attempt {local_time(t['next_attempt_at'])})"
        url = sandboxed(t.get("external_url"), sandbox)
        rows.append([t["id"], t["platform"], t["status"], url or "-", detail.strip() or "-"])
    title = f"post {post['id']}: {post['status']}" + (" (sandbox)" if sandbox else "")

    def human() -> None:
        out().table(cols, rows, title=title)

    out().result(post if answer is None else answer, ids=[post["id"]], human=human)


def show(
    post_id: PostId,
    watch: Annotated[
        bool,
        typer.Option(
            "--watch",
            help="Follow the post as `publish` does, and exit with its exit codes.",
        ),
    ] = False,
    wait: Annotated[
        bool,
        typer.Option("--wait", help="With --watch: follow through waits that end by themselves."),
    ] = False,
    timeout: Annotated[
        float | None,
        typer.Option(
            min=0,
            help="With --watch: stop following after this many seconds (default 600, none "
            "with --wait).",
            metavar="SECONDS",
        ),
    ] = None,
    api_url: ApiUrl = None,
    key: ApiKey = None,
) -> None:
    """Show a post and its targets: status, URL or error, next attempt; --watch follows it."""
    from crosspost.cli import follow  # noqa: PLC0415
    from crosspost.cli.publish import follow_timeout  # noqa: PLC0415

    with api(api_url, key) as client:
        post = plain(client.posts.get(post_id))
        if not watch or (post["status"] == "scheduled" and not wait):
            show_post(post)
            return
        outcome = follow.watch(client, post_id, timeout=follow_timeout(timeout, wait), wait=wait)
    show_post(outcome.post)
    follow.report(outcome)
    if outcome.code is not ExitCode.OK:
        raise typer.Exit(outcome.code)


def ledger(post_id: PostId, api_url: ApiUrl = None, key: ApiKey = None) -> None:
    """Show every event of a post's publishing, with its date and time (UTC)."""
    with api(api_url, key) as client:
        events = plain(client.posts.ledger(post_id))
    rows = []
    for e in events:
        data = dict(e["data"])
        platform = str(data.pop("platform", ""))
        details = ", ".join(f"{k}={json.dumps(v, ensure_ascii=False)}" for k, v in data.items())
        rows.append([_utc(e["created_at"]), e["event_type"], platform, details])
    cols = [Col("time (UTC)", keep=True), Col("event", keep=True), Col("platform"), Col("details")]
    out().result(
        events,
        ids=[e["id"] for e in events],
        human=lambda: out().table(cols, rows, title=f"ledger of {post_id}"),
    )


@group.command(
    "list",
    epilog=examples(
        "crosspost posts list",
        "crosspost posts list --status failed --limit 5",
        "crosspost posts list -q",
    ),
)
def posts_list(
    status: Annotated[PostStatus | None, typer.Option(help="Only posts in this status.")] = None,
    limit: Annotated[
        int, typer.Option(min=1, max=100, help="How many, newest first.", metavar="N")
    ] = 20,
    api_url: ApiUrl = None,
    key: ApiKey = None,
) -> None:
    """List posts, newest first: status, targets, when."""
    with api(api_url, key) as client:
        params = {"status": status.value if status else None, "limit": limit}
        page = client.request("GET", "/v1/posts", params=params)
    posts = page["data"]
    rows = [
        [
            p["id"],
            p["status"] + (" (sandbox)" if p.get("mode") == "test" else ""),
            ", ".join(f"{t['platform']} {t['status']}" for t in p["targets"]),
            ts(p.get("publish_at") or p["created_at"]),
            (p.get("text") or "").splitlines()[0][:60] if p.get("text") else "",
        ]
        for p in posts
    ]
    cols = [Col("id", keep=True), Col("status"), Col("targets"), Col("at"), Col("text")]
    more = " (more: raise --limit)" if page.get("has_more") else ""
    out().result(
        posts,
        ids=[p["id"] for p in posts],
        human=lambda: out().table(cols, rows, title=f"{len(posts)} post(s){more}"),
    )


_SHOW_EXAMPLES = ("POST_ID", "POST_ID --watch", "POST_ID --json")
app.command("status", epilog=examples(*(f"crosspost status {e}" for e in _SHOW_EXAMPLES)))(show)
group.command("show", epilog=examples(*(f"crosspost posts show {e}" for e in _SHOW_EXAMPLES)))(show)


@group.command(
    "edit",
    epilog=examples(
        'crosspost posts edit POST_ID --text "New caption"',
        "crosspost posts edit POST_ID --at +2h",
        "crosspost posts edit POST_ID --at 2030-01-31T18:00 --tz Europe/Paris",
        "crosspost posts edit POST_ID --at now",
        "crosspost posts edit POST_ID --add linkedin --remove tgt_01J…",
        "crosspost posts edit POST_ID --override youtube.title=Hi",
    ),
)
def posts_edit(
    post_id: PostId,
    text: Annotated[str | None, typer.Option(help="The new caption.", metavar="TEXT")] = None,
    at: Annotated[
        str | None,
        typer.Option(
            help="New publish time: now, from now (+2h, +1d), or ISO 8601 (a local time read "
            "in --tz, else in the post's zone).",
            metavar="TIME",
        ),
    ] = None,
    tz: Annotated[str | None, typer.Option(help="IANA time zone for --at.", metavar="ZONE")] = None,
    fold: Annotated[
        int | None,
        typer.Option(min=0, max=1, help="For an --at the clocks pass twice.", metavar="0|1"),
    ] = None,
    add: Annotated[
        list[str] | None,
        typer.Option(help="A destination to add (platform or acc_…), repeatable.", metavar="TO"),
    ] = None,
    remove: Annotated[
        list[str] | None,
        typer.Option(help="A target to remove (tgt_…), repeatable.", metavar="TARGET_ID"),
    ] = None,
    override: Annotated[
        list[str] | None,
        typer.Option(
            help="One platform option to change, repeatable: PLATFORM.OPTION=VALUE.",
            metavar="NAME=VALUE",
        ),
    ] = None,
    api_url: ApiUrl = None,
    key: ApiKey = None,
) -> None:
    """Change a post not yet published everywhere; targets already under way keep what they
    started with (listed as left alone)."""
    changes = _edit_body(text, at, tz, fold, add or [], remove or [], override or [])
    with api(api_url, key) as client:
        answer = plain(client.posts.update(post_id, changes))
    for alone in answer["left_alone"]:
        out().warn(f"{alone['target_id']} ({alone['platform']}): {alone['reason']}")
    show_post(answer["post"], answer)


def _edit_body(
    text: str | None,
    at: str | None,
    tz: str | None,
    fold: int | None,
    add: list[str],
    remove: list[str],
    overrides: list[str],
) -> dict[str, Any]:
    """The PATCH body for the flags given; a flag checked here ends the command."""
    changes: dict[str, Any] = {}
    if text is not None:
        changes["text"] = text
    try:
        if at is not None and at.strip().lower() == "now":
            if tz is not None or fold is not None:
                raise preflight.Refusal("--tz and --fold read a time; --at now has none")
            changes["publish_at"] = None
        else:
            changes.update(preflight.check_time(at, tz, fold, preflight.now_utc()))
        if overrides:
            options = preflight.build_options(
                settings=None, title=None, privacy=None, overrides=overrides, platforms=[],
                only_platforms=False,
            )  # fmt: skip
            changes["overrides"] = options.overrides
    except preflight.Refusal as refusal:
        out().error(str(refusal))
        raise typer.Exit(refusal.code) from None
    if add:
        changes["add_targets"] = add
    if remove:
        changes["remove_targets"] = remove
    if not changes:
        out().error("nothing to change: give --text, --at, --add, --remove or --override")
        raise typer.Exit(ExitCode.USAGE)
    return changes


@group.command(
    "cancel", epilog=examples("crosspost posts cancel POST_ID", "crosspost posts cancel POST_ID -q")
)
def posts_cancel(post_id: PostId, api_url: ApiUrl = None, key: ApiKey = None) -> None:
    """Cancel every target not yet at its irreversible publish step (the others finish)."""
    with api(api_url, key) as client:
        post = plain(client.posts.cancel(post_id))
    show_post(post)


@group.command(
    "retry",
    epilog=examples("crosspost posts retry POST_ID", "crosspost posts retry POST_ID tgt_01J…"),
)
def posts_retry(
    post_id: PostId,
    target_ids: Annotated[
        list[str] | None,
        typer.Argument(help="Targets to retry (default: every failed one).", metavar="TARGET_ID"),
    ] = None,
    api_url: ApiUrl = None,
    key: ApiKey = None,
) -> None:
    """Try failed targets again (or ones waiting for a reconnected account), each with a
    fresh attempt budget."""
    with api(api_url, key) as client:
        post = plain(client.posts.get(post_id))
        wanted = target_ids or [
            t["id"] for t in post["targets"] if t["status"] in ("failed", "needs_reauth")
        ]
        if not wanted:
            out().error(f"post {post_id} has no failed target to retry")
            raise typer.Exit(ExitCode.ERROR)
        for target_id in wanted:
            client.posts.targets.retry(post_id, target_id)
        post = plain(client.posts.get(post_id))
    show_post(post)


@group.command(
    "delete",
    epilog=examples(
        "crosspost posts delete POST_ID",
        "crosspost posts delete POST_ID --target tgt_01J…",
        "crosspost posts delete POST_ID --json",
    ),
)
def posts_delete(
    post_id: PostId,
    target_ids: Annotated[
        list[str] | None,
        typer.Option(
            "--target",
            help="Only this target (repeat for several; default: every published one).",
            metavar="TARGET_ID",
        ),
    ] = None,
    api_url: ApiUrl = None,
    key: ApiKey = None,
) -> None:
    """Take a published post down on its platforms (YouTube, X, LinkedIn, SoundCloud;
    Instagram and TikTok offer no deletion). Exits 1 when something stays up."""
    with api(api_url, key) as client:
        if target_ids:
            results = [plain(client.posts.targets.delete_remote(post_id, t)) for t in target_ids]
            post = plain(client.posts.get(post_id))
        else:
            done = plain(client.posts.delete_remote(post_id))
            post, results = done["post"], done["targets"]
    left = [r for r in results if r["outcome"] == "not_deleted" and r["code"] not in _NOT_UP]
    cols = [Col("target", keep=True), Col("platform"), Col("outcome", keep=True),
            Col("why")]  # fmt: skip
    rows = [[r["target_id"], r["platform"], r["outcome"], r.get("detail") or "-"] for r in results]
    title = f"post {post_id}: {post['status']}"
    out().result(
        {"post": post, "targets": results},
        ids=[r["target_id"] for r in results if r["outcome"] != "not_deleted"],
        human=lambda: out().table(cols, rows, title=title),
    )
    if left:
        out().error(f"{len(left)} target(s) of post {post_id} are still up: see why above")
        raise typer.Exit(ExitCode.ERROR)


# Targets with nothing on the platform to take down: not a failure of the delete.
_NOT_UP = frozenset({"not_published", "already_deleted"})


def _utc(stamp: str) -> str:
    """An API timestamp as `2026-05-01 18:00:03.125`: the date too, to the millisecond."""
    return datetime.fromisoformat(stamp).strftime("%Y-%m-%d %H:%M:%S.%f")[:-3]


app.command("ledger", epilog=examples("crosspost ledger POST_ID", "crosspost ledger POST_ID -q"))(
    ledger
)
group.command(
    "ledger",
    epilog=examples("crosspost posts ledger POST_ID", "crosspost posts ledger POST_ID --json"),
)(ledger)
