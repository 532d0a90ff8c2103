"""What the content pipeline's e2e tests share: a pipeline on the sandbox's sample channel
and repository, a range holding its clips, and a run waited for."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from tests.e2e.conftest import _LOCAL, Stack

REPO = "sandbox-dev/crosspost-demo"


def make_pipeline(stack: Stack, **body: Any) -> dict[str, Any]:
    """A pipeline on the sample channel and repository (a wide match window)."""
    answer = stack.http.post(
        "/v1/pipelines",
        json={
            "name": "Dev streams",
            "twitch_login": "sandbox_streamer",
            "repositories": [REPO],
            "match_window_minutes": 240,
            **body,
        },
    )
    assert answer.status_code == 201, answer.text
    return dict(answer.json())


def clip_range(hours: float = 96) -> dict[str, str]:
    """The last `hours` (the sample channel's clips span three days), with a margin."""
    until = datetime.now(UTC) + timedelta(minutes=5)
    return {"since": (until - timedelta(hours=hours)).isoformat(), "until": until.isoformat()}


def run(stack: Stack, pipeline: dict[str, Any], window: dict[str, str]) -> dict[str, Any]:
    """Run the pipeline over `window` and wait for the job to succeed."""
    answer = stack.http.post(f"/v1/pipelines/{pipeline['id']}/runs", json=window)
    assert answer.status_code == 202, answer.text
    job = stack.wait_job(answer.json()["id"], timeout=240)
    assert job["status"] == "succeeded", job
    return job


def github_read(stack: Stack, path: str, **params: Any) -> Any:
    """A read of the sample repository through the GitHub fake's API."""
    token = stack.fake("github", "tokens", json={"login": "reader", "repos": {REPO: "read"}})
    answer = _LOCAL.get(
        f"{stack.fakes_url}/github/repos/{REPO}{path}",
        params=params,
        headers={"Authorization": f"Bearer {token['token']}", "User-Agent": "test"},
    )
    assert answer.status_code == 200, answer.text
    return answer.json()


def pulls_opened(stack: Stack) -> list[dict[str, Any]]:
    """The sample repository's pull requests from crosspost's branches."""
    pulls = github_read(stack, "/pulls", state="all", per_page=100)
    return [p for p in pulls if p["head"]["ref"].startswith("crosspost/")]
