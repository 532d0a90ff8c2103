"""`crosspost projects …` and `crosspost highlights`: the clip studio, through the API."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer

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
    ts,
    waited,
)

app = App(help="Clip studio projects: sources, transcripts and clips (through the API).")
top = App()

_COLS = [Col("id", keep=True), Col("name"), Col("sources"), Col("clips"), Col("created")]
_CLIP_COLS = [
    Col("id", keep=True),
    Col("source"),
    Col("start"),
    Col("end"),
    Col("score"),
    Col("why"),
]


def _clip_rows(clips: list[dict[str, Any]]) -> list[list[str]]:
    return [
        [
            c["id"],
            c["media_id"],
            f"{c['start_seconds']:.1f}",
            f"{c['end_seconds']:.1f}",
            f"{c['score']:.2f}" if c["score"] is not None else "-",
            "; ".join(c["reasons"]) or c.get("title") or "-",
        ]
        for c in clips
    ]


@app.command(
    "create",
    epilog=examples("crosspost projects create Launch --source med_01J…"),
)
def create(
    name: Annotated[str, typer.Argument(help="The project's name.")],
    sources: Annotated[
        list[str] | None, typer.Option("--source", help="A video media id (repeat).")
    ] = None,
    brand_kit: Annotated[str | None, typer.Option(help="Brand kit id for its renders.")] = None,
    api_url: ApiUrl = None,
    key: ApiKey = None,
) -> None:
    """Create a project from uploaded videos; prints its id."""
    body: dict[str, Any] = {"name": name, "source_media_ids": sources or []}
    if brand_kit:
        body["brand_kit_id"] = brand_kit
    with api(api_url, key) as client:
        made = client.request("POST", "/v1/projects", json=body)
    out().note(f"created project {made['id']} with {len(made['sources'])} source(s)")
    out().result(made, ids=[made["id"]], human=lambda: out().line(made["id"]))


@app.command("list", epilog=examples("crosspost projects list --json"))
def list_projects(
    limit: Annotated[int, typer.Option(help="At most this many, newest first.")] = 50,
    api_url: ApiUrl = None,
    key: ApiKey = None,
) -> None:
    """List projects, newest first."""
    with api(api_url, key) as client:
        page = client.request("GET", "/v1/projects", params={"limit": limit})
    items = page["data"]
    rows = [
        [p["id"], p["name"], str(len(p["sources"])), str(p["clips"]), ts(p["created_at"])]
        for p in items
    ]
    out().result(
        items,
        ids=[p["id"] for p in items],
        human=lambda: out().table(_COLS, rows, title=f"{len(items)} project(s)"),
    )


@app.command("show", epilog=examples("crosspost projects show prj_01J…"))
def show(
    project_id: Annotated[str, typer.Argument(metavar="PROJECT_ID")],
    api_url: ApiUrl = None,
    key: ApiKey = None,
) -> None:
    """A project's sources and clips."""
    with api(api_url, key) as client:
        project = client.request("GET", f"/v1/projects/{project_id}")
        clips = client.request("GET", f"/v1/projects/{project_id}/clips", params={"limit": 100})
    project["clip_list"] = clips["data"]
    out().result(
        project,
        ids=[c["id"] for c in clips["data"]],
        human=lambda: out().table(
            _CLIP_COLS,
            _clip_rows(clips["data"]),
            title=f"{project['name']}: "
            f"{len(project['sources'])} source(s), {project['clips']} clip(s)",
        ),
    )


@app.command("rm", epilog=examples("crosspost projects rm prj_01J…"))
def remove(
    project_id: Annotated[str, typer.Argument(metavar="PROJECT_ID")],
    api_url: ApiUrl = None,
    key: ApiKey = None,
) -> None:
    """Delete a project and its clips (its media stay in the library)."""
    with api(api_url, key) as client:
        client.request("DELETE", f"/v1/projects/{project_id}")
    out().note(f"deleted {project_id}")
    out().result({"deleted": project_id}, ids=[project_id], human=lambda: None)


@app.command(
    "transcript",
    epilog=examples("crosspost projects transcript prj_01J… med_01J… talk.vtt"),
)
def transcript(
    project_id: Annotated[str, typer.Argument(metavar="PROJECT_ID")],
    media_id: Annotated[str, typer.Argument(metavar="MEDIA_ID")],
    file: Annotated[Path, typer.Argument(exists=True, dir_okay=False, metavar="FILE")],
    api_url: ApiUrl = None,
    key: ApiKey = None,
) -> None:
    """Attach a WebVTT (.vtt) or SRT (.srt) file as a source's transcript."""
    ctype = "application/x-subrip" if file.suffix.lower() == ".srt" else "text/vtt"
    with api(api_url, key) as client:
        kept = plain(
            client.projects.sources.put_transcript(
                project_id, media_id, file.read_bytes(), content_type=ctype
            )
        )
    out().note(f"attached {kept['segments']} segment(s) to {media_id}")
    out().result(kept, ids=[media_id], human=lambda: None)


@top.command(
    "highlights",
    epilog=examples("crosspost highlights prj_01J… --min 15 --max 45 --count 3"),
)
def highlights(
    project_id: Annotated[str, typer.Argument(metavar="PROJECT_ID")],
    min_seconds: Annotated[float, typer.Option("--min", help="Shortest clip, seconds.")] = 15.0,
    max_seconds: Annotated[float, typer.Option("--max", help="Longest clip, seconds.")] = 60.0,
    count: Annotated[int, typer.Option(help="Clips per source, at most.")] = 5,
    keywords: Annotated[
        list[str] | None, typer.Option("--keyword", help="A word that marks a moment (repeat).")
    ] = None,
    timeout: Annotated[float, typer.Option(help="Seconds to wait for the job.")] = 600.0,
    api_url: ApiUrl = None,
    key: ApiKey = None,
) -> None:
    """Find a project's highlights: start the job, wait for it, list the clips it found."""
    body = {
        "min_seconds": min_seconds,
        "max_seconds": max_seconds,
        "count": count,
        "keywords": keywords or [],
    }
    with api(api_url, key) as client:
        job = client.request("POST", f"/v1/projects/{project_id}/highlights", json=body)
        done = waited(client.jobs.wait, job["id"], timeout=timeout)
        if done["status"] != "succeeded":
            error = done.get("error") or {}
            reason = error.get("message") or f"still {done['status']} after {timeout:g} s"
            out().error(f"highlight job {job['id']} did not succeed: {reason}")
            raise typer.Exit(ExitCode.ERROR)
        found = set(done["result"]["clip_ids"])
        page = client.request(
            "GET", f"/v1/projects/{project_id}/clips", params={"limit": 100, "origin": "detected"}
        )
    clips = sorted((c for c in page["data"] if c["id"] in found), key=lambda c: -c["score"])
    out().result(
        clips,
        ids=[c["id"] for c in clips],
        human=lambda: out().table(
            _CLIP_COLS, _clip_rows(clips), title=f"{len(clips)} highlight(s) in {project_id}"
        ),
    )


@top.command(
    "render",
    epilog=examples(
        "crosspost render clp_01J… --preset tiktok --captions",
        "crosspost render clp_01J… --aspect 1:1 --brand-kit bk_01J… --reframe blur -q",
    ),
)
def render(
    clip_id: Annotated[str, typer.Argument(metavar="CLIP_ID")],
    aspect: Annotated[str | None, typer.Option(help="9:16, 1:1, 16:9 or 4:5.")] = None,
    reframe: Annotated[str, typer.Option(help="center, blur or fit.")] = "center",
    captions: Annotated[
        bool | None, typer.Option("--captions/--no-captions", help="Burn in the transcript.")
    ] = None,
    brand_kit: Annotated[str | None, typer.Option(help="Brand kit id.")] = None,
    preset: Annotated[
        str | None,
        typer.Option(help="youtube_shorts, tiktok, instagram_reels, x or linkedin."),
    ] = None,
    max_duration: Annotated[float | None, typer.Option(help="Longest output, seconds.")] = None,
    timeout: Annotated[float, typer.Option(help="Seconds to wait for the render.")] = 1800.0,
    api_url: ApiUrl = None,
    key: ApiKey = None,
) -> None:
    """Render a clip (vertical, branded, captioned): start it, wait, print the render id
    (`crosspost publish --render RENDER_ID` publishes it)."""
    body: dict[str, Any] = {"reframe": reframe}
    for name, value in (
        ("aspect", aspect),
        ("captions", captions),
        ("brand_kit_id", brand_kit),
        ("platform_preset", preset),
        ("max_duration", max_duration),
    ):
        if value is not None:
            body[name] = value
    with api(api_url, key) as client:
        made = client.request("POST", f"/v1/clips/{clip_id}/renders", json=body)
        job = waited(client.jobs.wait, made["job_id"], timeout=timeout)
        shown = client.request("GET", f"/v1/renders/{made['id']}")
    if job["status"] != "succeeded" or shown["status"] != "ready":
        why = (shown.get("error") or {}).get("message") or f"still {shown['status']}"
        out().error(f"render {made['id']} is not ready: {why}")
        raise typer.Exit(ExitCode.ERROR)
    output = shown["output"]
    out().note(
        f"render {made['id']} ready: {output['width']}x{output['height']}, "
        f"{output['duration_seconds']:.1f} s, media {output['media_id']}"
    )
    out().result(shown, ids=[made["id"]], human=lambda: out().line(made["id"]))
