"""`crosspost publish`: check everything that can be checked here, upload, create the post,
and follow it to its end (or to a state that waits for the user), exiting with a code that
says how it ended."""

from __future__ import annotations

import uuid
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.progress import BarColumn, DownloadColumn, Progress, TransferSpeedColumn

from crosspost.cli import follow, preflight
from crosspost.cli._common import (
    ApiKey,
    ApiUrl,
    App,
    ExitCode,
    api,
    api_key,
    examples,
    exit_code_for,
    out,
    plain,
)
from crosspost.cli.posts import show_post
from crosspost.domain.enums import Platform

app = App()

EXIT_CODES = (
    "Exit codes: 0 every target published (or, with --no-wait, the post was created; a "
    "scheduled post, scheduled); 10 failed or cancelled; 11 partially_published; 12 a "
    "target waits for you (needs_reauth: reconnect the account; waiting for a quota day "
    "without --wait; unconfirmed past --timeout); 13 still publishing at --timeout; 1 "
    "refused by the API; 2 a wrong flag or argument (checked before any upload); 3 the "
    "API unreachable or busy (5xx, 429); 4 the API key missing, mistyped or refused; 130 "
    "Ctrl-C (the post keeps publishing)."
)

Timeout = Annotated[
    float | None,
    typer.Option(
        min=0,
        help="Stop following after this many seconds (the post keeps publishing); default "
        "600, or no limit with --wait.",
        metavar="SECONDS",
    ),
]
Wait = Annotated[
    bool | None,
    typer.Option(
        "--wait/--no-wait",
        " /--detach",
        help="--wait: follow through waits that end by themselves (a platform's quota day, "
        "a scheduled time) instead of stopping on them. --no-wait (--detach): return as soon "
        "as the post is created.",
    ),
]


def follow_timeout(timeout: float | None, wait: bool | None) -> float | None:
    """The follow timeout: as given, else none with --wait, else 600 s."""
    if timeout is not None:
        return timeout or None
    return None if wait else 600.0


@app.command(
    epilog=examples(
        'crosspost publish clip.mp4 --caption "first #clip" --to youtube --to tiktok',
        "crosspost publish clip.mp4 --to youtube --at +2h",
        "crosspost publish clip.mp4 --to youtube --at 2030-01-31T18:00 --tz Europe/Paris",
        'crosspost publish clip.mp4 --to youtube --title "First clip" --privacy unlisted',
        "crosspost publish clip.mp4 --to youtube --override youtube.tags='[\"demo\"]'",
        "crosspost publish --render rnd_01J… --caption launch --to tiktok --to youtube --to x",
        "crosspost publish --caption 'text only' --to x --to linkedin --no-wait -q",
    )
    + "\n\n"
    + EXIT_CODES,
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
            help="Publish time: from now (+2h, +90m, +1h30m, +1d), or ISO 8601, a local time "
            "read in --tz (2030-01-31T18:00) or with its offset; default: now.",
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
    title: Annotated[
        str | None,
        typer.Option(
            help="Title, on every target that has one (youtube, linkedin, soundcloud).",
            metavar="TEXT",
        ),
    ] = None,
    privacy: Annotated[
        str | None,
        typer.Option(
            help="public, unlisted or private: on every target that has such a setting.",
            metavar="LEVEL",
        ),
    ] = None,
    override: Annotated[
        list[str] | None,
        typer.Option(
            help="One platform option, repeatable: PLATFORM.OPTION=VALUE, the value read as "
            "JSON when it is JSON, else as text: youtube.title=Hi, youtube.made_for_kids=true.",
            metavar="NAME=VALUE",
        ),
    ] = None,
    settings: Annotated[
        str | None,
        typer.Option(
            help='Every platform\'s options as JSON, or @file.json: {"youtube": {"title": "Hi"}}.',
            metavar="JSON|@FILE",
        ),
    ] = None,
    render: Annotated[
        str | None,
        typer.Option(
            help="Publish a ready clip render (rnd_…, `crosspost render`) instead of a FILE.",
            metavar="RENDER_ID",
        ),
    ] = None,
    auto_fit: Annotated[
        bool,
        typer.Option(
            "--auto-fit",
            help="Where the video breaks a platform's limits (too long, wrong aspect…), "
            "render a variant that fits instead of failing that destination.",
        ),
    ] = False,
    wait: Wait = None,
    timeout: Timeout = None,
    api_url: ApiUrl = None,
    key: ApiKey = None,
) -> None:
    """Upload a file (or take a ready render), create a post, follow it to the end (exit
    codes below).

    Before any upload: flags, key and file checked here, then accounts and quotas by the server.
    """
    if not to:
        out().error("name at least one destination with --to youtube (repeatable)")
        raise typer.Exit(ExitCode.USAGE)
    if render is not None and file is not None:
        out().error("give a FILE or --render, not both")
        raise typer.Exit(ExitCode.USAGE)
    body = _checked(
        file,
        caption,
        to,
        at,
        tz,
        fold,
        title,
        privacy,
        override or [],
        settings,
        key,
        stored_media=render is not None or auto_fit,
    )
    if render is not None:
        body["render_id"] = render  # the server checks it is ready
    if auto_fit:
        body["auto_fit"] = True
    with api(api_url, key) as client:
        _validated(client, body, file)
        if file is not None:
            body["media_id"] = _upload(client, file)["id"]
        try:
            post = plain(client.posts.create(body, idempotency_key=str(uuid.uuid4())))
        except Exception as err:
            _refused(err, to)
            raise
        out().note(f"post {post['id']}: {post['status']}")
        if wait is False or (post["status"] == "scheduled" and not wait):
            show_post(post)
            if post["status"] == "scheduled":
                out().note(
                    f"publishes at {follow.local_time(post['publish_at'])}; "
                    f"`crosspost status {post['id']} --watch --wait` follows it"
                )
            return
        outcome = follow.watch(
            client, post["id"], timeout=follow_timeout(timeout, wait), wait=bool(wait)
        )
    show_post(outcome.post)
    follow.report(outcome)
    if outcome.code is not ExitCode.OK:
        raise typer.Exit(outcome.code)


def _checked(
    file: Path | None,
    caption: str,
    to: list[str],
    at: str | None,
    tz: str | None,
    fold: int | None,
    title: str | None,
    privacy: str | None,
    overrides: list[str],
    settings: str | None,
    key: str | None,
    *,
    stored_media: bool = False,
) -> dict[str, Any]:
    """The post's body, once every local check passed; a failed check ends the command
    with its message and code. With `stored_media` (a render), the server checks the media."""
    try:
        preflight.check_key(api_key(key))
        platforms = preflight.check_targets(to)
        # Options for a platform not in --to can be refused only if every --to names one.
        only_platforms = len(platforms) == len(to)
        options = preflight.build_options(
            settings=settings,
            title=title,
            privacy=privacy,
            overrides=overrides,
            platforms=platforms,
            only_platforms=only_platforms,
        )
        when = preflight.check_time(at, tz, fold, preflight.now_utc())
        if not stored_media:
            preflight.check_file(file, caption, platforms, options)
    except preflight.Refusal as refusal:
        for line in str(refusal).splitlines():
            out().error(line)
        raise typer.Exit(refusal.code) from None
    body: dict[str, Any] = {"text": caption, "targets": to, **when}
    if options.overrides:
        body["overrides"] = options.overrides
    return body


def _upload(client: Any, file: Path) -> dict[str, Any]:
    """Upload with a progress bar on stderr; Ctrl-C here leaves nothing to publish."""
    with Progress(
        "[progress.description]{task.description}",
        BarColumn(),
        DownloadColumn(),
        TransferSpeedColumn(),
        console=out().err,
        disable=not out().human,
    ) as bar:
        task = bar.add_task(f"uploading {file.name}", total=file.stat().st_size)
        try:
            media: dict[str, Any] = plain(
                client.media.upload(
                    file, progress=lambda sent, _total: bar.update(task, completed=sent)
                )
            )
        except KeyboardInterrupt:
            out().error("upload stopped; no post was created")
            raise typer.Exit(ExitCode.INTERRUPTED) from None
    return media


def _described(body: dict[str, Any], file: Path | None) -> dict[str, Any]:
    """`body` to validate: with a local file, that file as probed here, in place of
    `media_id`, so it is checked before its upload."""
    if file is None:
        return body
    # Imported here: PyAV is needed only when a file is described.
    from crosspost.media.describe import describe  # noqa: PLC0415

    return {**body, "media": describe(file).model_dump(mode="json")}


def _validated(client: Any, body: dict[str, Any], file: Path | None) -> None:
    """Ask the server, in one request, whether it would take this post — the key, the
    accounts, the quotas (the upload's too), the time, the options, the file as probed
    here — before minutes of upload; print the warnings with their fix (an account that
    needs reconnecting), end the command on a refusal. A server older than the check is
    not asked."""
    from crosspost_sdk import APIError as ApiError  # noqa: PLC0415

    to = body["targets"]
    try:
        verdict = plain(client.posts.validate(_described(body, file)))
    except ApiError as err:
        if err.status in (404, 405):
            out().note("this server cannot check a post before the upload; uploading")
            return
        _refused(err, to, uploaded=False)
        raise
    refused = []
    for target in verdict["targets"]:
        for warning in target.get("warnings") or []:
            out().warn(preflight.in_cli_terms(warning["message"]))
        if fit := target.get("fit"):
            cut = f", cut to {fit['max_duration']:g} s" if fit.get("max_duration") else ""
            out().note(
                f"{target['platform']}: a {fit['aspect']} variant{cut} is rendered for it "
                f"({', '.join(b['type'] for b in fit['because'])})"
            )
        for problem in target.get("problems") or []:
            flag = preflight.field_flag(str(problem.get("field", "")), to)
            if not flag.endswith(f" {target['platform']}"):
                flag += f" ({target['platform']})"
            refused.append(f"{flag}: {preflight.in_cli_terms(problem['message'])}")
    if refused:
        for line in refused:
            out().error(line)
        out().error("nothing was uploaded; fix the file or the text, or drop those --to")
        raise typer.Exit(ExitCode.ERROR)


def _refused(err: Exception, to: list[str], *, uploaded: bool = True) -> None:
    """A refused post in the CLI's words (--tz, not timezone, --to by its value), then its
    exit code."""
    from crosspost_sdk import APIError as ApiError  # noqa: PLC0415

    if not isinstance(err, ApiError):
        return
    for line in preflight.problem_lines(err.problem, to):
        out().error(line)
    if not uploaded:
        out().error("nothing was uploaded")
    raise typer.Exit(exit_code_for(err)) from None
