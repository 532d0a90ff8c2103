"""`crosspost releases artwork`: cover art generated for a release (a job followed to its
end) and, unless told not to, accepted as its cover."""

from __future__ import annotations

from typing import Annotated, Any

import typer

from crosspost.cli._common import ApiKey, ApiUrl, ExitCode, api, examples, out, waited
from crosspost.cli.releases import ReleaseId, Timeout, app, call_or_explain


@app.command(
    "artwork",
    epilog=examples(
        "crosspost releases artwork rel_01J…",
        "crosspost releases artwork rel_01J… --style waves --seed 7 --prompt 'neon night'",
        "crosspost releases artwork rel_01J… --generator replicate --no-accept",
    ),
)
def releases_artwork(
    release_id: ReleaseId,
    generator: Annotated[
        str, typer.Option(help="procedural (drawn here), stability or replicate.")
    ] = "procedural",
    style: Annotated[
        str | None, typer.Option(help="gradient, geometric, waves or grain.", metavar="STYLE")
    ] = None,
    seed: Annotated[
        int | None, typer.Option(help="The same seed draws the same picture.", metavar="N")
    ] = None,
    prompt: Annotated[str | None, typer.Option(help="Words for the picture.")] = None,
    accept: Annotated[
        bool, typer.Option("--accept/--no-accept", help="Make it the release's cover.")
    ] = True,
    timeout: Timeout = 300.0,
    api_url: ApiUrl = None,
    key: ApiKey = None,
) -> None:
    """Generate a 3000x3000 cover for a release; prints the image's media id."""
    body: dict[str, Any] = {"generator": generator}
    for name, value in (("style", style), ("seed", seed), ("prompt", prompt)):
        if value is not None:
            body[name] = value
    with api(api_url, key) as client:
        job = call_or_explain(
            client, "POST", f"/v1/releases/{release_id}/artwork:generate", json=body
        )
        done = waited(client.jobs.wait, job["id"], timeout=timeout)
        if done["status"] != "succeeded":
            error = done.get("error") or {}
            reason = error.get("message") or f"still {done['status']} after {timeout:g} s"
            out().error(f"the cover was not made ({job['id']}): {reason}")
            raise typer.Exit(ExitCode.ERROR)
        made = done["result"]
        if accept:
            call_or_explain(
                client,
                "PUT",
                f"/v1/releases/{release_id}/artwork",
                json={"media_id": made["media_id"]},
            )
    said = f"{made['media_id']} ({made['generator']}, {made['style']}, seed {made['seed']})"
    out().result(
        {**made, "accepted": accept},
        ids=[made["media_id"]],
        human=lambda: out().line(said + (": the release's cover" if accept else "")),
    )
