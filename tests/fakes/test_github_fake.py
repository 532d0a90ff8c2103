"""The GitHub fake over real HTTP, mounted at /github as the sandbox mounts it: auth, limits,
conditional requests, backfill paging, the Git data flow, and signed webhooks."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import uuid
from collections.abc import Callable, Iterator
from typing import Any

import httpx
import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Mount, Route

from crosspost.fakes import RunningServer, serve_in_thread
from crosspost.fakes.github import (
    SANDBOX_READ_TOKEN,
    SANDBOX_TOKEN,
    GitHubFakeConfig,
    create_github_app,
)

from .conftest import START, ManualClock

REPO = "/repos/sandbox-dev/crosspost-demo"
DAY = 86_400
HEADERS = {
    "Accept": "application/vnd.github+json",
    "X-GitHub-Api-Version": "2022-11-28",
    "User-Agent": "crosspost-tests",
}
WRITE = {"Authorization": f"Bearer {SANDBOX_TOKEN}"}


class Hub:
    """An httpx client on a GitHub fake mounted at /github, plus its clock."""

    def __init__(self, server: RunningServer, clock: ManualClock) -> None:
        self.server = server
        self.clock = clock
        self.base = f"{server.url}/github"
        self.http = httpx.Client(base_url=self.base, headers=HEADERS, timeout=30.0)

    def control(self, path: str, body: dict[str, Any]) -> dict[str, Any]:
        """POST to a /_fake control route; its JSON."""
        response = self.http.post(f"/_fake/{path}", json=body)
        assert response.status_code in (200, 201), response.text
        answer: dict[str, Any] = response.json()
        return answer

    def token(self, login: str, repos: dict[str, str]) -> dict[str, str]:
        """The Authorization header of a freshly minted token."""
        minted = self.control("tokens", {"login": login, "repos": repos})
        return {"Authorization": f"token {minted['token']}"}

    def state(self) -> dict[str, Any]:
        """The fake's inspection view."""
        answer: dict[str, Any] = self.http.get("/_fake/state").json()
        return answer


def _serve(clock: ManualClock, **config: Any) -> RunningServer:
    fake = create_github_app(GitHubFakeConfig(clock=clock, **config))
    return serve_in_thread(Starlette(routes=[Mount("/github", app=fake)]))


@pytest.fixture(scope="module")
def _shared() -> Iterator[tuple[RunningServer, ManualClock]]:
    clock = ManualClock()
    server = _serve(clock)
    yield server, clock
    server.stop()


@pytest.fixture
def hub(_shared: tuple[RunningServer, ManualClock]) -> Iterator[Hub]:
    """The shared fake, reset (sample rebuilt at START) before the test."""
    server, clock = _shared
    clock.now = START
    made = Hub(server, clock)
    made.control("reset", {})
    yield made
    made.http.close()


@pytest.fixture
def make_hub() -> Iterator[Callable[..., Hub]]:
    """Factory: a fake of its own, configured by GitHubFakeConfig keywords."""
    made: list[Hub] = []

    def make(**config: Any) -> Hub:
        clock = ManualClock()
        made.append(Hub(_serve(clock, **config), clock))
        return made[-1]

    yield make
    for each in made:
        each.http.close()
        each.server.stop()


def test_user_agent_and_api_version_are_required(hub: Hub) -> None:
    """No User-Agent is GitHub's 403 plain-text refusal; an unknown API version is a 400
    naming the versions served."""
    bare = httpx.Client(base_url=hub.base)
    del bare.headers["user-agent"]
    refused = bare.get(REPO)
    assert refused.status_code == 403
    assert "make sure your request has a User-Agent header" in refused.text
    versioned = hub.http.get(REPO, headers={"X-GitHub-Api-Version": "v3"})
    assert versioned.status_code == 400
    assert '"v3", is not a supported version' in versioned.json()["message"]
    assert versioned.json()["status"] == "400"


def test_authentication_failures(hub: Hub) -> None:
    """A missing token where one is needed and an unknown token are 401 in GitHub's envelope;
    public repositories read anonymously on the 60-an-hour limit."""
    missing = hub.http.get("/user")
    assert missing.status_code == 401
    assert missing.json() == {
        "message": "Requires authentication",
        "documentation_url": "https://docs.github.com/rest/users/users#get-the-authenticated-user",
        "status": "401",
    }
    bad = hub.http.get("/user", headers={"Authorization": "Bearer github_pat_nope"})
    assert (bad.status_code, bad.json()["message"]) == (401, "Bad credentials")
    me = hub.http.get("/user", headers={"Authorization": f"token {SANDBOX_TOKEN}"})
    assert me.json()["login"] == "sandbox-dev"
    anonymous = hub.http.get(REPO)
    assert anonymous.status_code == 200
    assert anonymous.headers["X-RateLimit-Limit"] == "60"
    assert "permissions" not in anonymous.json()
    write = hub.http.post(f"{REPO}/git/blobs", json={"content": "x"})
    assert (write.status_code, write.json()["message"]) == (401, "Requires authentication")


def test_private_repository_is_hidden_and_writes_need_push(hub: Hub) -> None:
    """A private repository the token cannot reach is 404; read access reads but a write is
    403 "Resource not accessible by personal access token"; write access writes."""
    hub.control("repos", {"owner": "acme", "name": "secret-plans", "private": True})
    path = "/repos/acme/secret-plans"
    stranger = hub.token("mallory", {})
    assert hub.http.get(path, headers=stranger).status_code == 404
    assert hub.http.get(path).status_code == 404
    reader = hub.token("rita", {"acme/secret-plans": "read"})
    assert hub.http.get(path, headers=reader).json()["permissions"]["push"] is False
    refused = hub.http.post(f"{path}/git/blobs", headers=reader, json={"content": "x"})
    assert refused.status_code == 403
    assert refused.json()["message"] == "Resource not accessible by personal access token"
    assert refused.headers["X-Accepted-GitHub-Permissions"] == "contents=write"
    sample_reader = {"Authorization": f"Bearer {SANDBOX_READ_TOKEN}"}
    assert (
        hub.http.post(
            f"{REPO}/git/refs", headers=sample_reader, json={"ref": "refs/heads/x", "sha": "0" * 40}
        ).status_code
        == 403
    )
    writer = hub.token("wes", {"acme/secret-plans": "write"})
    made = hub.http.post(f"{path}/git/blobs", headers=writer, json={"content": "x"})
    assert made.status_code == 201


def test_sample_repository_reads_like_a_team_at_work(
    hub: Hub, make_hub: Callable[..., Hub]
) -> None:
    """Three days of commits, pull requests (open, merged, closed), issues that list pull
    requests with a pull_request key, and releases, built the same from the same seed."""
    commits = hub.http.get(f"{REPO}/commits", headers=WRITE, params={"per_page": 100}).json()
    recent = [c for c in commits if c["commit"]["committer"]["date"] >= "2027-01-12T09:00:00Z"]
    assert len(recent) >= 20
    assert all(c["sha"] and c["html_url"].startswith(hub.base) for c in commits)
    assert {c["author"]["login"] for c in commits if c["author"]} >= {"mira-okafor", "sandbox-dev"}
    assert any(c["author"] is None for c in commits)  # the release bot's email is no account's
    pulls = hub.http.get(f"{REPO}/pulls", headers=WRITE, params={"state": "all"}).json()
    assert {(p["state"], p["merged_at"] is not None) for p in pulls} == {
        ("open", False),
        ("closed", True),
        ("closed", False),
    }
    issues = hub.http.get(f"{REPO}/issues", headers=WRITE, params={"state": "all"}).json()
    as_issues = {i["number"]: i for i in issues if "pull_request" in i}
    assert set(as_issues) == {p["number"] for p in pulls}
    assert all(as_issues[p["number"]]["id"] != p["id"] for p in pulls)
    assert any("pull_request" not in i for i in issues)
    releases = hub.http.get(f"{REPO}/releases", headers=WRITE).json()
    assert [r["tag_name"] for r in releases] == ["v0.4.0", "v0.3.1"]
    again = make_hub()
    again.clock.now = START
    again.control("reset", {})
    assert again.state()["repos"][0]["branches"] == hub.state()["repos"][0]["branches"]
    other = make_hub(seed=7)
    assert (
        other.state()["repos"][0]["branches"]["main"] != hub.state()["repos"][0]["branches"]["main"]
    )


def test_backfill_of_a_time_range_pages_with_link_headers(hub: Hub) -> None:
    """since/until select by commit date; per_page pages newest first; Link carries next and
    last (then prev and first) under the mount; a date not in ISO 8601 is refused."""
    hub.control(
        "repos", {"owner": "sandbox-dev", "name": "backfill", "created_at": START - 10 * DAY}
    )
    hours = [-80, -60, -47, -40, -33, -30, -26, -1]  # 2..6 fall inside [-48 h, -24 h]
    for n, hour in enumerate(hours):
        hub.control(
            "events",
            {
                "repo": "sandbox-dev/backfill",
                "kind": "commit",
                "message": f"change {n}",
                "at": START + hour * 3600,
            },
        )
    params = {"since": "2027-01-13T09:00:00Z", "until": "2027-01-14T09:00:00Z", "per_page": "2"}
    url: str | None = f"{hub.base}/repos/sandbox-dev/backfill/commits"
    seen: list[str] = []
    pages: list[dict[str | None, dict[str, str]]] = []
    while url:
        response = hub.http.get(url, headers=WRITE, params=params if not pages else None)
        assert response.status_code == 200
        pages.append(response.links)
        seen += [c["commit"]["message"] for c in response.json()]
        url = response.links.get("next", {}).get("url")
    assert seen == ["change 6", "change 5", "change 4", "change 3", "change 2"]
    assert len(pages) == 3
    assert set(pages[0]) == {"next", "last"} and set(pages[-1]) == {"prev", "first"}
    assert pages[0]["last"]["url"].startswith(f"{hub.base}/repos/sandbox-dev/backfill/commits?")
    assert "per_page=2" in pages[0]["next"]["url"] and "page=2" in pages[0]["next"]["url"]
    bad = hub.http.get(
        "/repos/sandbox-dev/backfill/commits", headers=WRITE, params={"since": "yesterday"}
    )
    assert bad.status_code == 422 and "ISO 8601" in bad.json()["message"]


def test_conditional_get_answers_304_without_charging(hub: Hub) -> None:
    """A matching If-None-Match (or If-Modified-Since) is a bodiless 304 that leaves the
    remaining count alone; a change makes a new ETag."""
    first = hub.http.get(f"{REPO}/commits", headers=WRITE)
    etag, remaining = first.headers["ETag"], int(first.headers["X-RateLimit-Remaining"])
    assert etag.startswith('W/"')
    again = hub.http.get(f"{REPO}/commits", headers={**WRITE, "If-None-Match": etag})
    assert (again.status_code, again.content) == (304, b"")
    assert again.headers["ETag"] == etag
    assert int(again.headers["X-RateLimit-Remaining"]) == remaining
    dated = hub.http.get(REPO, headers=WRITE)
    since = hub.http.get(
        REPO, headers={**WRITE, "If-Modified-Since": dated.headers["Last-Modified"]}
    )
    assert since.status_code == 304
    hub.control("events", {"kind": "commit", "message": "Fix a typo in the README"})
    changed = hub.http.get(f"{REPO}/commits", headers={**WRITE, "If-None-Match": etag})
    assert changed.status_code == 200 and changed.headers["ETag"] != etag
    assert int(changed.headers["X-RateLimit-Remaining"]) == remaining - 2


def test_primary_rate_limit_exhausts_and_resets(make_hub: Callable[..., Hub]) -> None:
    """With a limit of 3: remaining counts down, the fourth call is GitHub's 403 with
    remaining 0, and the window resets an hour after it opened; /_fake/faults can spend it."""
    hub = make_hub(rate_limit=3)
    me = hub.http.get("/user", headers=WRITE).json()
    assert hub.http.get(REPO, headers=WRITE).headers["X-RateLimit-Remaining"] == "1"
    last = hub.http.get(REPO, headers=WRITE)
    assert (last.headers["X-RateLimit-Remaining"], last.headers["X-RateLimit-Used"]) == ("0", "3")
    refused = hub.http.get(REPO, headers=WRITE)
    assert refused.status_code == 403
    assert refused.json()["message"].startswith(f"API rate limit exceeded for user ID {me['id']}.")
    assert refused.headers["X-RateLimit-Remaining"] == "0"
    assert refused.headers["X-RateLimit-Reset"] == str(int(START) + 3600)
    assert refused.headers["X-RateLimit-Resource"] == "core"
    hub.clock.advance(3600)
    assert hub.http.get(REPO, headers=WRITE).headers["X-RateLimit-Remaining"] == "2"
    hub.control("faults", {"exhaust": "sandbox-dev"})
    assert hub.http.get(REPO, headers=WRITE).status_code == 403


def test_secondary_limits_and_server_errors_are_injectable(hub: Hub) -> None:
    """Queued faults answer in order: a secondary limit with Retry-After, then a 502; then
    the API answers normally again."""
    hub.control("faults", {"status": 429, "secondary": True, "retry_after": 30})
    hub.control("faults", {"status": 502})
    limited = hub.http.get(REPO, headers=WRITE)
    assert (limited.status_code, limited.headers["Retry-After"]) == (429, "30")
    assert limited.json()["message"].startswith("You have exceeded a secondary rate limit.")
    assert hub.http.get(REPO, headers=WRITE).json()["message"] == "Bad Gateway"
    assert hub.http.get(REPO, headers=WRITE).status_code == 200


def test_validation_errors_use_githubs_envelope(hub: Hub) -> None:
    """422 "Validation Failed" with resource/field/code, schema 422s for missing fields, 400
    for a body that is not JSON, and 404 (never 405) for a method a path does not serve."""
    missing_head = hub.http.post(
        f"{REPO}/pulls",
        headers=WRITE,
        json={"title": "t", "head": "no-such-branch", "base": "main"},
    )
    assert missing_head.status_code == 422
    assert missing_head.json() == {
        "message": "Validation Failed",
        "errors": [{"resource": "PullRequest", "field": "head", "code": "invalid"}],
        "documentation_url": "https://docs.github.com/rest/pulls/pulls#create-a-pull-request",
        "status": "422",
    }
    no_content = hub.http.post(f"{REPO}/git/blobs", headers=WRITE, json={"encoding": "utf-8"})
    assert no_content.json()["message"] == 'Invalid request.\n\n"content" wasn\'t supplied.'
    garbled = hub.http.post(f"{REPO}/git/blobs", headers=WRITE, content=b"{nope")
    assert (garbled.status_code, garbled.json()["message"]) == (400, "Problems parsing JSON")
    bad_state = hub.http.get(f"{REPO}/pulls", headers=WRITE, params={"state": "merged"})
    assert bad_state.status_code == 422
    assert bad_state.json()["errors"][0]["field"] == "state"
    assert hub.http.delete(f"{REPO}/commits", headers=WRITE).status_code == 404
    assert hub.http.get(f"{REPO}/", headers=WRITE).status_code == 404


def _git_sha(kind: bytes, body: bytes) -> str:
    """Git's object id, computed here independently of the fake."""
    return hashlib.sha1(kind + b" %d\0" % len(body) + body, usedforsecurity=False).hexdigest()


def _publish(hub: Hub, branch: str, text: str) -> dict[str, Any]:
    """What our pipeline will do: one file on a branch, through blob → tree → commit → ref."""
    http, path = hub.http, "content/posts/2027-01-15-hello.md"
    ref = http.get(f"{REPO}/git/ref/heads/{branch}", headers=WRITE)
    if ref.status_code == 404:
        base = http.get(f"{REPO}/git/ref/heads/main", headers=WRITE).json()["object"]["sha"]
    else:
        base = ref.json()["object"]["sha"]
    base_tree = http.get(f"{REPO}/git/commits/{base}", headers=WRITE).json()["tree"]["sha"]
    blob = http.post(
        f"{REPO}/git/blobs", headers=WRITE, json={"content": text, "encoding": "utf-8"}
    )
    assert blob.status_code == 201 and blob.json()["sha"] == _git_sha(b"blob", text.encode())
    tree = http.post(
        f"{REPO}/git/trees",
        headers=WRITE,
        json={
            "base_tree": base_tree,
            "tree": [{"path": path, "mode": "100644", "type": "blob", "sha": blob.json()["sha"]}],
        },
    )
    assert tree.status_code == 201
    commit = http.post(
        f"{REPO}/git/commits",
        headers=WRITE,
        json={"message": "Publish: Hello", "tree": tree.json()["sha"], "parents": [base]},
    )
    assert commit.status_code == 201
    sha = commit.json()["sha"]
    if ref.status_code == 404:
        made = http.post(
            f"{REPO}/git/refs", headers=WRITE, json={"ref": f"refs/heads/{branch}", "sha": sha}
        )
        assert made.status_code == 201
    else:
        moved = http.patch(f"{REPO}/git/refs/heads/{branch}", headers=WRITE, json={"sha": sha})
        assert moved.status_code == 200 and moved.json()["object"]["sha"] == sha
    read = http.get(f"{REPO}/contents/{path}", headers=WRITE, params={"ref": branch}).json()
    assert base64.b64decode(read["content"]).decode() == text
    return {"sha": sha, "ref_existed": ref.status_code == 200}


def test_git_data_flow_opens_a_pull_request_and_reruns_idempotently(hub: Hub) -> None:
    """A branch, a file and a pull request; the rerun finds the branch, moves it forward,
    is refused a second ref and a second pull request, and finds the open one by head."""
    branch = "post/2027-01-15-hello"
    first = _publish(hub, branch, "# Hello\n\nFirst draft.\n")
    assert first["ref_existed"] is False
    opened = hub.http.post(
        f"{REPO}/pulls",
        headers=WRITE,
        json={"title": "Publish: Hello", "head": branch, "base": "main", "body": "Generated."},
    )
    assert opened.status_code == 201
    number = opened.json()["number"]
    assert opened.headers["Location"] == opened.json()["url"]
    second = _publish(hub, branch, "# Hello\n\nSecond draft.\n")
    assert second["ref_existed"] is True
    again = hub.http.post(
        f"{REPO}/git/refs",
        headers=WRITE,
        json={"ref": f"refs/heads/{branch}", "sha": second["sha"]},
    )
    assert (again.status_code, again.json()["message"]) == (422, "Reference already exists")
    duplicate = hub.http.post(
        f"{REPO}/pulls",
        headers=WRITE,
        json={"title": "Publish: Hello", "head": branch, "base": "main"},
    )
    assert duplicate.json()["errors"][0]["message"] == (
        f"A pull request already exists for sandbox-dev:{branch}."
    )
    found = hub.http.get(
        f"{REPO}/pulls", headers=WRITE, params={"head": f"sandbox-dev:{branch}", "state": "open"}
    ).json()
    assert [p["number"] for p in found] == [number]
    assert found[0]["head"]["sha"] == second["sha"]
    unprefixed = hub.http.get(f"{REPO}/pulls", headers=WRITE, params={"head": branch}).json()
    assert len(unprefixed) > 1  # GitHub ignores a head filter without "owner:"
    edited = hub.http.patch(f"{REPO}/pulls/{number}", headers=WRITE, json={"body": "Updated."})
    assert edited.status_code == 200 and edited.json()["body"] == "Updated."
    backwards = hub.http.patch(
        f"{REPO}/git/refs/heads/{branch}", headers=WRITE, json={"sha": first["sha"]}
    )
    assert (backwards.status_code, backwards.json()["message"]) == (
        422,
        "Update is not a fast forward",
    )
    forced = hub.http.patch(
        f"{REPO}/git/refs/heads/{branch}", headers=WRITE, json={"sha": first["sha"], "force": True}
    )
    assert forced.status_code == 200


def test_tree_and_commit_shas_are_gits_own(hub: Hub) -> None:
    """A tree and a commit hash exactly as git would hash them, checked with hashlib."""
    blob = hub.http.post(
        f"{REPO}/git/blobs",
        headers=WRITE,
        json={"content": base64.b64encode(b"hi\n").decode(), "encoding": "base64"},
    ).json()["sha"]
    tree = hub.http.post(
        f"{REPO}/git/trees",
        headers=WRITE,
        json={"tree": [{"path": "a.txt", "mode": "100644", "type": "blob", "sha": blob}]},
    ).json()
    body = b"100644 a.txt\0" + bytes.fromhex(blob)
    assert tree["sha"] == _git_sha(b"tree", body)
    who = {"name": "Sam Rivera", "email": "sam@crosspost.dev", "date": "2027-01-15T10:00:00+01:00"}
    commit = hub.http.post(
        f"{REPO}/git/commits",
        headers=WRITE,
        json={"message": "Add a.txt", "tree": tree["sha"], "parents": [], "author": who},
    ).json()
    text = (
        f"tree {tree['sha']}\nauthor Sam Rivera <sam@crosspost.dev> 1800003600 +0100\n"
        "committer Sam Rivera <sam@crosspost.dev> 1800003600 +0100\n\nAdd a.txt"
    ).encode()
    assert commit["sha"] == _git_sha(b"commit", text)
    assert commit["author"]["date"] == "2027-01-15T09:00:00Z"
    bad_name = hub.http.post(
        f"{REPO}/git/refs", headers=WRITE, json={"ref": "heads/x", "sha": commit["sha"]}
    )
    assert bad_name.status_code == 422


class Receiver:
    """A webhook receiver on a real port that records each delivery."""

    def __init__(self) -> None:
        self.got: list[tuple[dict[str, str], bytes]] = []

        async def take(request: Request) -> Response:
            self.got.append((dict(request.headers), await request.body()))
            return Response(status_code=202)

        self.server = serve_in_thread(Starlette(routes=[Route("/hook", take, methods=["POST"])]))
        self.url = f"{self.server.url}/hook"


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    """A receiver for the test's deliveries."""
    made = Receiver()
    yield made
    made.server.stop()


def test_webhooks_are_signed_and_redelivered_under_the_same_id(
    hub: Hub, receiver: Receiver
) -> None:
    """A new hook gets a ping; a push delivery carries GitHub's headers and an HMAC-SHA256
    signature of the raw body; an unsubscribed event is not sent; a redelivery repeats the
    delivery id and the body byte for byte."""
    secret = "It's a Secret to Everybody"
    hook = hub.control(
        "hooks", {"url": receiver.url, "secret": secret, "events": ["push", "pull_request"]}
    )
    assert receiver.got[0][0]["x-github-event"] == "ping"
    sent = hub.control("deliver", {"event": "push"})["deliveries"]
    assert [d["status_code"] for d in sent] == [202]
    headers, body = receiver.got[-1]
    expected = hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()
    assert hmac.compare_digest(headers["x-hub-signature-256"], f"sha256={expected}")
    assert headers["x-github-event"] == "push"
    assert headers["x-github-hook-id"] == str(hook["id"])
    assert headers["user-agent"].startswith("GitHub-Hookshot/")
    assert headers["content-type"] == "application/json"
    guid = headers["x-github-delivery"]
    assert uuid.UUID(guid)
    payload = json.loads(body)
    assert payload["ref"] == "refs/heads/main"
    assert payload["after"] == hub.state()["repos"][0]["branches"]["main"]
    assert payload["head_commit"]["id"] == payload["after"]
    assert hub.control("deliver", {"event": "issues"})["deliveries"] == []
    custom = hub.control("deliver", {"event": "pull_request", "payload": {"action": "closed"}})
    assert json.loads(receiver.got[-1][1]) == {"action": "closed"}
    assert custom["deliveries"][0]["action"] == "closed"
    again = hub.control("redeliver", {"delivery": guid})["delivery"]
    assert again["redelivery"] is True
    assert receiver.got[-1][0]["x-github-delivery"] == guid
    assert receiver.got[-1][1] == body
    assert [d["redelivery"] for d in hub.state()["deliveries"]] == [False, False, False, True]


def test_controls_refuse_bad_input_and_reset_restores(hub: Hub) -> None:
    """Bad control bodies are 400 with the reason; reset drops created repositories, minted
    tokens and queued faults."""
    assert hub.http.post("/_fake/faults", json={"status": 404}).status_code == 400
    bad_token = hub.http.post("/_fake/tokens", json={"login": "x", "repos": {"a/b": "owner"}})
    assert bad_token.status_code == 400 and "read" in bad_token.json()["error"]
    assert hub.http.post("/_fake/events", json={"kind": "party"}).status_code == 400
    hub.control("repos", {"owner": "acme", "name": "scratch"})
    minted = hub.token("temp", {"acme/scratch": "admin"})
    hub.control("faults", {"status": 500, "count": 2})
    hub.control("reset", {})
    state = hub.state()
    assert [r["full_name"] for r in state["repos"]] == ["sandbox-dev/crosspost-demo"]
    assert state["faults"] == [] and len(state["tokens"]) == 2
    assert hub.http.get("/user", headers=minted).status_code == 401
