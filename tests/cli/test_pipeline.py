"""`crosspost pipeline demo|items|run` against a running stack and the sandbox's fakes: the
demo takes yesterday's clips to content items and opens one pull request, a second demo
updates it; a bad run exits 1 with the API's reason."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest
from typer.testing import CliRunner, Result

from crosspost.cli import app
from tests.e2e.conftest import Stack, fakes, make_stack, media_store  # noqa: F401 - fixtures


@pytest.fixture
def cli(
    make_stack: Callable[..., Stack],  # noqa: F811 - the imported fixture
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> tuple[Stack, Callable[..., Result]]:
    """A stack with workers, and `crosspost pipeline …` run against it with its key."""
    stack = make_stack()
    for name in ("CROSSPOST_PROFILE", "CROSSPOST_SIGNING_SECRET"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("CROSSPOST_HOME", str(tmp_path / "cli-home"))
    monkeypatch.setenv("CROSSPOST_API_URL", stack.api_url)
    monkeypatch.setenv("CROSSPOST_API_KEY", stack.key)

    def run(*args: str) -> Result:
        return CliRunner().invoke(app, ["pipeline", *args], env={"COLUMNS": "200"})

    return stack, run


def test_the_demo_runs_the_pipeline_and_opens_one_pull_request(
    cli: tuple[Stack, Callable[..., Result]],
) -> None:
    """Yesterday's sample clips become ready items and the recap one pull request; run
    again, the demo reuses its pipeline and updates that pull request."""
    stack, run = cli
    first = run("demo", "--json")
    assert first.exit_code == 0, first.output
    shown = json.loads(first.stdout)
    pull = shown["recap"]["pull_request"]
    assert pull["created"] is True and pull["branch"].startswith("crosspost/")
    statuses = shown["run"]["statuses"]
    assert set(statuses) <= {"ready_for_content"} and shown["run"]["failed"] == []
    items = run("items", "--json")
    assert items.exit_code == 0, items.output
    assert len(json.loads(items.stdout)) == sum(statuses.values())
    again = run("demo")
    assert again.exit_code == 0, again.output
    assert f"pull request #{pull['number']} updated" in again.output
    pipelines = stack.http.get("/v1/pipelines").json()["data"]
    assert len(pipelines) == 1


def test_a_refused_run_exits_1_with_the_reason(cli: tuple[Stack, Callable[..., Result]]) -> None:
    """An unknown pipeline: exit 1, the API's problem on stderr."""
    _, run = cli
    result = run("run", "pln_nope")
    assert result.exit_code == 1
    assert "pln_nope" in result.output
