"""Our GitHub client against the GitHub fake over real HTTP: backfill pages with ETags
(a rerun is answered 304 and costs no rate limit), the rate limit read and obeyed, the
refusals classified, and a file proposed as a pull request through the Git data API."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import httpx
import pytest

from crosspost.clock import SystemClock
from crosspost.domain.enums import ErrorKind
from crosspost.fakes.github import SANDBOX_READ_TOKEN, SANDBOX_TOKEN, create_github_app
from crosspost.fakes.server import RunningServer, serve_in_thread
from crosspost.pipeline.github_api import GitHubClient, Seen
from crosspost.providers.errors import ProviderError

REPO = "sandbox-dev/crosspost-demo"


@pytest.fixture
def server() -> Iterator[RunningServer]:
    """A fresh GitHub fake of this test's own."""
    running = serve_in_thread(create_github_app())
    yield running
    running.stop()


@pytest.fixture
def http() -> Iterator[httpx.Client]:
    """The HTTP client the GitHub client sends with."""
    with httpx.Client(timeout=30) as client:
        yield client


def _client(server: RunningServer, http: httpx.Client, token: str = SANDBOX_TOKEN) -> GitHubClient:
    return GitHubClient(http, token, clock=SystemClock(), base_url=server.url)


def _remaining(server: RunningServer, http: httpx.Client) -> int:
    answer = http.get(
        f"{server.url}/rate_limit",
        headers={"Authorization": f"Bearer {SANDBOX_TOKEN}", "User-Agent": "test"},
    )
    return int(answer.json()["resources"]["core"]["remaining"])


def test_a_backfill_rerun_is_answered_304_and_costs_nothing(
    server: RunningServer, http: httpx.Client
) -> None:
    """The sample repository's last three days of commits, then the same pages again:
    unchanged, no items, and the rate limit untouched."""
    client = _client(server, http)
    until = datetime.now(UTC) + timedelta(minutes=1)
    since = until - timedelta(days=4)
    seen: Seen = {}
    first = list(client.commits(REPO, since, until, seen))
    commits = [c for page in first for c in page.items or []]
    assert commits and all(len(c["sha"]) == 40 for c in commits)
    assert all(page.etag for page in first) and set(seen) == {page.url for page in first}
    before = _remaining(server, http)
    again = list(client.commits(REPO, since, until, seen))
    assert [page.items for page in again] == [None] * len(first)
    assert _remaining(server, http) == before


def test_pulls_issues_and_releases_are_read(server: RunningServer, http: httpx.Client) -> None:
    """Each list reads; the issues list holds pull requests too, marked as GitHub does."""
    client = _client(server, http)
    seen: Seen = {}
    pulls = [p for page in client.pulls(REPO, seen) for p in page.items or []]
    assert pulls and {"number", "title", "state", "html_url"} <= set(pulls[0])
    since = datetime.now(UTC) - timedelta(days=30)
    issues = [i for page in client.issues(REPO, since, seen) for i in page.items or []]
    assert any("pull_request" in i for i in issues)
    assert any("pull_request" not in i for i in issues)
    releases = [r for page in client.releases(REPO, seen) for r in page.items or []]
    assert all("tag_name" in r for r in releases)


def test_a_spent_rate_limit_is_rate_limited_with_the_wait(
    server: RunningServer, http: httpx.Client
) -> None:
    """GitHub's 403 with X-RateLimit-Remaining: 0 is `rate_limited`, waiting until reset."""
    http.post(f"{server.url}/_fake/faults", json={"exhaust": "sandbox-dev"})
    with pytest.raises(ProviderError) as caught:
        list(_client(server, http).pulls(REPO, {}))
    assert caught.value.kind is ErrorKind.RATE_LIMITED
    assert caught.value.retry_after is not None and 0 < caught.value.retry_after <= 3600


def test_refusals_are_classified_and_never_carry_the_token(
    server: RunningServer, http: httpx.Client
) -> None:
    """An unknown token is `github_token_invalid`, a read-only token's push
    `github_forbidden`, a missing repository `github_not_found`; the client's repr hides
    the token."""
    with pytest.raises(ProviderError) as bad:
        list(_client(server, http, "github_pat_nope").pulls(REPO, {}))
    assert (bad.value.kind, bad.value.code) == (ErrorKind.AUTH, "github_token_invalid")
    reader = _client(server, http, SANDBOX_READ_TOKEN)
    main = reader.branch_sha(REPO, "main")
    assert main is not None
    with pytest.raises(ProviderError) as refused:
        reader.create_branch(REPO, "recap/x", main)
    assert (refused.value.kind, refused.value.code) == (ErrorKind.AUTH, "github_forbidden")
    with pytest.raises(ProviderError) as missing:
        list(reader.pulls("sandbox-dev/nothing-here", {}))
    assert missing.value.code == "github_not_found"
    assert SANDBOX_TOKEN not in repr(_client(server, http))


def test_a_file_proposed_as_a_pull_request_then_updated(
    server: RunningServer, http: httpx.Client
) -> None:
    """Blob, tree, commit, branch, pull request; a second commit moves the branch and the
    open pull request is found and updated rather than opened again."""
    client = _client(server, http)
    base = client.default_branch(REPO)
    parent = client.branch_sha(REPO, base)
    assert parent is not None and client.branch_sha(REPO, "recap/2026-12-06") is None
    first = client.commit_file(
        REPO,
        parent=parent,
        path="content/recaps/2026-12-06.md",
        content=b"# Recap\n",
        message="Recap of 2026-12-06",
    )
    client.create_branch(REPO, "recap/2026-12-06", first)
    pull = client.create_pull(REPO, head="recap/2026-12-06", base=base, title="Recap", body="b")
    assert client.branch_sha(REPO, "recap/2026-12-06") == first
    assert client.file_sha(REPO, "content/recaps/2026-12-06.md", first) is not None
    second = client.commit_file(
        REPO,
        parent=parent,
        path="content/recaps/2026-12-06.md",
        content=b"# Recap, again\n",
        message="Recap of 2026-12-06",
    )
    client.move_branch(REPO, "recap/2026-12-06", second)
    found = client.open_pull(REPO, "recap/2026-12-06")
    assert found is not None and found["number"] == pull["number"]
    updated = client.update_pull(REPO, pull["number"], title="Recap (2)", body="c")
    assert updated["title"] == "Recap (2)"
    assert client.branch_sha(REPO, "recap/2026-12-06") == second
