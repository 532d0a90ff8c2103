"""`crosspost pipeline …`: the content pipeline (seed 002) through the API: pipelines,
runs, content items, recaps, and `demo`, the whole pipeline against the sandbox."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Annotated, Any

import typer

from crosspost.cli._common import ApiKey, ApiUrl, App, Col, ExitCode, api, examples, out, ts, waited

app = App(help="The content pipeline: Twitch clips and GitHub activity into recaps.")

SANDBOX_CHANNEL = "sandbox_streamer"
SANDBOX_REPOSITORY = "sandbox-dev/crosspost-demo"
_ITEM_COLS = [Col("id", keep=True), Col("clip"), Col("status"), Col("score"), Col("made")]


def _yesterday() -> tuple[datetime, datetime]:
    today = datetime.now(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    return today - timedelta(days=1), today


def _follow(client: Any, job: dict[str, Any], what: str, timeout: float) -> dict[str, Any]:
    """Wait for a job, saying how far it got; exit when it did not succeed."""

    said: list[str] = []

    def shown(update: dict[str, Any]) -> None:
        progress = update["progress"]
        line = f"{what}: {progress['done']:.0f}/{progress['total'] or 0:.0f} {progress['unit']}"
        if progress["total"] and line not in said[-1:]:
            said.append(line)
            out().note(line)

    done = waited(client.jobs.wait, job["id"], timeout=timeout, on_update=shown)
    if done["status"] != "succeeded":
        error = done.get("error") or {}
        reason = error.get("message") or f"still {done['status']} after {timeout:g} s"
        out().error(f"{what} ({job['id']}) did not succeed: {reason}")
        raise typer.Exit(ExitCode.ERROR)
    return done


@app.command(
    "create",
    epilog=examples(
        "crosspost pipeline create 'Dev streams' --twitch mychannel --repo me/app "
        "--recap-repo me/blog"
    ),
)
def create(
    name: Annotated[str, typer.Argument(help="The pipeline's name.")],
    twitch: Annotated[str, typer.Option(help="The Twitch channel (login).")],
    repos: Annotated[list[str], typer.Option("--repo", help="owner/name (repeat).")],
    recap_repo: Annotated[
        str | None, typer.Option(help="Where recaps are proposed as pull requests.")
    ] = None,
    github_token: Annotated[
        str | None, typer.Option(envvar="GITHUB_TOKEN", help="A token reading the repos.")
    ] = None,
    api_url: ApiUrl = None,
    key: ApiKey = None,
) -> None:
    """Create a pipeline; prints its id and how to point GitHub's webhook at it."""
    body: dict[str, Any] = {"name": name, "twitch_login": twitch, "repositories": repos}
    if recap_repo:
        body["recap"] = {"repository": recap_repo}
    if github_token:
        body["github_token"] = github_token
    with api(api_url, key) as client:
        made = client.request("POST", "/v1/pipelines", json=body)
    hook = made["github_webhook"]
    out().note(
        f"GitHub webhook: Payload URL {hook['url']}, content type application/json, "
        f"events {', '.join(hook['events'])}, secret {hook['secret']} (shown once)"
    )
    out().result(made, ids=[made["id"]], human=lambda: out().line(made["id"]))


@app.command(
    "connect-twitch",
    epilog=examples(
        "crosspost pipeline connect-twitch pln_01J…",
        "crosspost pipeline connect-twitch pln_01J… --no-browser --timeout 600",
    ),
)
def connect_twitch(
    pipeline_id: Annotated[str, typer.Argument(metavar="PIPELINE_ID")],
    browser: Annotated[bool, typer.Option(help="Open the consent page in a browser.")] = True,
    timeout: Annotated[
        float, typer.Option(help="Seconds to wait for the consent.", metavar="SECONDS")
    ] = 300.0,
    api_url: ApiUrl = None,
    key: ApiKey = None,
) -> None:
    """Connect the channel's Twitch account (its owner's or an editor's) to a pipeline, so
    runs can download its clips: open Twitch's consent page, wait for the answer."""
    from crosspost.cli.loopback import await_consent  # noqa: PLC0415

    path = f"/v1/pipelines/{pipeline_id}/twitch/connect"
    with api(api_url, key) as client:
        answer = await_consent(
            lambda back: str(
                client.request("POST", path, json={"return_to": back})["authorize_url"]
            ),
            what="the channel's Twitch account",
            browser=browser,
            timeout=timeout,
        )
    out().result(
        answer,
        ids=[pipeline_id],
        human=lambda: out().line(
            f"{answer.get('status', 'connected')} Twitch user {answer.get('twitch_login')} "
            f"to pipeline {pipeline_id}"
        ),
    )


@app.command("run", epilog=examples("crosspost pipeline run pln_01J… --since 2026-12-01"))
def run(
    pipeline_id: Annotated[str, typer.Argument(metavar="PIPELINE_ID")],
    since: Annotated[datetime | None, typer.Option(help="From (UTC); default yesterday.")] = None,
    until: Annotated[datetime | None, typer.Option(help="Until (UTC); default today.")] = None,
    timeout: Annotated[float, typer.Option(help="Seconds to wait for the run.")] = 900.0,
    api_url: ApiUrl = None,
    key: ApiKey = None,
) -> None:
    """Take the clips made in the range to content items; wait and say what became of them."""
    start, end = _yesterday()
    body = {
        "since": (since.replace(tzinfo=UTC) if since else start).isoformat(),
        "until": (until.replace(tzinfo=UTC) if until else end).isoformat(),
    }
    with api(api_url, key) as client:
        job = client.request("POST", f"/v1/pipelines/{pipeline_id}/runs", json=body)
        done = _follow(client, job, "run", timeout)
    result = done["result"]
    out().result(result, ids=[done["id"]], human=lambda: _say_run(result))


def _say_run(result: dict[str, Any]) -> None:
    out().line(
        f"{result['clips_found']} clip(s) found, {result['clips_new']} new, "
        f"{result['processed']} processed, {result['github_events_new']} new GitHub "
        f"event(s); statuses: {result['statuses']}"
    )
    for failed in result["failed"]:
        out().line(f"  failed {failed['clip_id']}: {failed['code']}: {failed['message']}")


@app.command("items", epilog=examples("crosspost pipeline items --status failed"))
def items(
    pipeline_id: Annotated[str | None, typer.Option("--pipeline")] = None,
    status: Annotated[str | None, typer.Option(help="Only items in this status.")] = None,
    sort_by: Annotated[
        str, typer.Option(help="created_at, view_count, content_score or duration.")
    ] = "created_at",
    limit: Annotated[int, typer.Option(help="At most this many.")] = 50,
    api_url: ApiUrl = None,
    key: ApiKey = None,
) -> None:
    """List content items."""
    params: dict[str, Any] = {"limit": min(limit, 100), "sort_by": sort_by}
    if pipeline_id:
        params["pipeline_id"] = pipeline_id
    if status:
        params["status"] = status
    with api(api_url, key) as client:
        page = client.request("GET", "/v1/content-items", params=params)
    found = page["data"]
    rows = [
        [
            i["content_item_id"],
            i["clip_title"][:40],
            i["processing_status"],
            f"{i['content_score']:.0f}" if i["content_score"] is not None else "-",
            ts(i["clip_created_at"]),
        ]
        for i in found
    ]
    out().result(
        found,
        ids=[i["content_item_id"] for i in found],
        human=lambda: out().table(_ITEM_COLS, rows, title=f"{len(found)} item(s)"),
    )


@app.command("generate", epilog=examples("crosspost pipeline generate --pipeline pln_01J… --pr"))
def generate(
    pipeline_id: Annotated[str | None, typer.Option("--pipeline")] = None,
    content_type: Annotated[
        str, typer.Option("--type", help="daily_recap, weekly_summary or topic_focus.")
    ] = "daily_recap",
    topic: Annotated[str | None, typer.Option(help="topic_focus: what about.")] = None,
    since: Annotated[datetime | None, typer.Option(help="From (UTC); default yesterday.")] = None,
    until: Annotated[datetime | None, typer.Option(help="Until (UTC); default today.")] = None,
    pull_request: Annotated[bool, typer.Option("--pr", help="Open its pull request.")] = False,
    timeout: Annotated[float, typer.Option(help="Seconds to wait.")] = 300.0,
    api_url: ApiUrl = None,
    key: ApiKey = None,
) -> None:
    """Make a recap; prints its Markdown (or, with --pr, the pull request's URL)."""
    start, end = _yesterday()
    body: dict[str, Any] = {
        "date_range": {
            "start": (since.replace(tzinfo=UTC) if since else start).isoformat(),
            "end": (until.replace(tzinfo=UTC) if until else end).isoformat(),
        },
        "content_type": content_type,
        "mode": "async",
        "open_pull_request": pull_request,
    }
    if pipeline_id:
        body["pipeline_id"] = pipeline_id
    if topic:
        body["topic"] = topic
    with api(api_url, key) as client:
        job = client.request("POST", "/v1/content/generate", json=body)
        done = _follow(client, {"id": job["job_id"]}, "generation", timeout)
    result = done["result"]
    out().result(result, ids=[done["id"]], human=lambda: _say_recap(result))


def _say_recap(result: dict[str, Any]) -> None:
    summary = result["summary"]
    out().note(
        f"{result['suggested_title']}: {summary['total_clips']} clip(s), "
        f"{summary['total_commits']} commit(s), {summary['total_prs']} pull request(s), "
        f"{summary['total_issues']} issue(s)"
    )
    pull = result.get("pull_request")
    if pull:
        verb = "opened" if pull["created"] else "updated"
        out().line(f"pull request #{pull['number']} {verb}: {pull['url']}")
    else:
        out().line(result["post"]["markdown"])


@app.command("demo", epilog=examples("crosspost serve --sandbox & crosspost pipeline demo"))
def demo(
    timeout: Annotated[float, typer.Option(help="Seconds to wait for each step.")] = 900.0,
    api_url: ApiUrl = None,
    key: ApiKey = None,
) -> None:
    """The whole pipeline against the sandbox (a test key): the sample channel's clips of
    yesterday and the sample repository's activity taken in, transcribed, matched and
    scored, then yesterday's recap proposed as one pull request on the fake GitHub."""
    start, end = _yesterday()
    with api(api_url, key) as client:
        found = client.request("GET", "/v1/pipelines", params={"limit": 100})["data"]
        pipeline = next(
            (p for p in found if p["twitch_login"] == SANDBOX_CHANNEL and p["mode"] == "test"), None
        )
        if pipeline is None:
            pipeline = client.request(
                "POST",
                "/v1/pipelines",
                json={
                    "name": "Sandbox demo",
                    "twitch_login": SANDBOX_CHANNEL,
                    "repositories": [SANDBOX_REPOSITORY],
                    "match_window_minutes": 240,
                    "recap": {"repository": SANDBOX_REPOSITORY},
                },
            )
            out().note(
                f"created pipeline {pipeline['id']} ({SANDBOX_CHANNEL} + {SANDBOX_REPOSITORY})"
            )
        window = {"since": start.isoformat(), "until": end.isoformat()}
        job = client.request("POST", f"/v1/pipelines/{pipeline['id']}/runs", json=window)
        ran = _follow(client, job, "run", timeout)["result"]
        _say_run(ran)
        asked = client.request(
            "POST",
            "/v1/content/generate",
            json={
                "date_range": {"start": start.isoformat(), "end": end.isoformat()},
                "content_type": "daily_recap",
                "pipeline_id": pipeline["id"],
                "mode": "async",
                "open_pull_request": True,
            },
        )
        made = _follow(client, {"id": asked["job_id"]}, "recap", timeout)["result"]
    _say_recap(made)
    out().result(
        {"pipeline": pipeline, "run": ran, "recap": made}, ids=[pipeline["id"]], human=lambda: None
    )
