"""Content pipelines over real HTTP on SQLite and PostgreSQL: created with a webhook secret
shown once, listed, changed, rotated and deleted; GitHub's deliveries verified by their
signature, taken once (a replay refused), and kept as events listed in time order; every
bad input refused with a problem naming what to change; one tenant's pipelines invisible
to another."""

from __future__ import annotations

import hashlib
import hmac
import json
import uuid
from typing import Any

import httpx
import pytest

from crosspost.store import pipelines as rows
from tests.e2e.conftest import Stack, expect_problem

REPO = "sandbox-dev/crosspost-demo"


def _create(stack: Stack, **body: Any) -> dict[str, Any]:
    body = {"name": "Dev streams", "twitch_login": "Sandbox_Streamer",
            "repositories": [REPO], **body}  # fmt: skip
    answer = stack.http.post("/v1/pipelines", json=body)
    assert answer.status_code == 201, answer.text
    return dict(answer.json())


def _deliver(
    stack: Stack,
    pipeline: dict[str, Any],
    event: str,
    payload: dict[str, Any],
    *,
    secret: str | None = None,
    delivery: str | None = None,
) -> httpx.Response:
    """POST a delivery as GitHub does: the raw body signed with the webhook's secret."""
    body = json.dumps(payload).encode()
    key = (secret or pipeline["github_webhook"]["secret"]).encode()
    headers = {
        "Content-Type": "application/json",
        "User-Agent": "GitHub-Hookshot/4c5a1b2",
        "X-GitHub-Event": event,
        "X-GitHub-Delivery": delivery or str(uuid.uuid4()),
        "X-GitHub-Hook-ID": "1",
        "X-Hub-Signature-256": "sha256=" + hmac.new(key, body, hashlib.sha256).hexdigest(),
    }
    # No API key: GitHub has none. The URL the pipeline gave is the one used.
    return httpx.post(pipeline["github_webhook"]["url"], content=body, headers=headers)


def _push(repo: str = REPO) -> dict[str, Any]:
    return {
        "ref": "refs/heads/main",
        "repository": {"full_name": repo},
        "commits": [
            {
                "id": "a" * 40,
                "message": "Fix the token refresh race\n\nTwo workers refreshed at once.",
                "timestamp": "2026-12-06T14:05:00+01:00",
                "url": f"https://github.com/{repo}/commit/{'a' * 40}",
                "author": {"name": "Dev One", "username": "devone"},
            },
            {
                "id": "b" * 40,
                "message": "Add the recap template",
                "timestamp": "2026-12-06T13:30:00Z",
                "url": f"https://github.com/{repo}/commit/{'b' * 40}",
                "author": {"name": "Dev Two"},
            },
        ],
    }


def _pull_request(action: str, *, merged: bool = False) -> dict[str, Any]:
    return {
        "action": action,
        "repository": {"full_name": REPO},
        "pull_request": {
            "number": 42,
            "title": "Stream clips into content items",
            "html_url": f"https://github.com/{REPO}/pull/42",
            "user": {"login": "devone"},
            "merged": merged,
            "created_at": "2026-12-06T10:00:00Z",
            "updated_at": "2026-12-06T15:00:00Z",
            "closed_at": "2026-12-06T15:00:00Z" if action == "closed" else None,
            "merged_at": "2026-12-06T15:00:00Z" if merged else None,
            "base": {"ref": "main"},
        },
    }


def test_a_pipeline_shows_its_webhook_secret_once(stack: Stack) -> None:
    """Created: the secret in this answer only (GET, list and an idempotent replay omit it),
    never stored in plain text; the GitHub token never shown, only that one is set."""
    headers = {"Idempotency-Key": "pipeline-1"}
    body = {"name": "Dev streams", "twitch_login": "sandbox_streamer", "repositories": [REPO],
            "github_token": "ghp_sandboxtoken1234567890"}  # fmt: skip
    answer = stack.http.post("/v1/pipelines", json=body, headers=headers)
    assert answer.status_code == 201, answer.text
    created = answer.json()
    secret = created["github_webhook"]["secret"]
    assert secret and len(secret) >= 40
    assert created["github_token_set"] is True and "ghp_" not in answer.text
    assert created["github_webhook"]["url"].endswith(
        f"/v1/pipelines/{created['id']}/github-webhook"
    )
    assert created["github_webhook"]["events"] == ["push", "pull_request", "issues", "release"]
    replay = stack.http.post("/v1/pipelines", json=body, headers=headers)
    assert replay.status_code == 201 and replay.json()["id"] == created["id"]
    assert replay.json()["github_webhook"]["secret"] is None
    shown = stack.http.get(f"/v1/pipelines/{created['id']}").json()
    assert shown["github_webhook"]["secret"] is None and shown["github_token_set"] is True
    listed = stack.http.get("/v1/pipelines").json()["data"]
    assert [p["id"] for p in listed] == [created["id"]]
    with stack.svc.db.read() as conn:
        row = rows.get_pipeline(conn, stack.tenant_id, created["id"])
    assert row is not None
    assert secret not in json.dumps(row, default=str)
    assert "ghp_sandboxtoken" not in json.dumps(row, default=str)


def test_a_signed_push_is_kept_once_and_a_replay_is_refused(stack: Stack) -> None:
    """Each commit of a push becomes an event (first line of its message, author, time in
    UTC); the same delivery id again is 409 and stores nothing more."""
    pipeline = _create(stack)
    delivery = str(uuid.uuid4())
    answer = _deliver(stack, pipeline, "push", _push(), delivery=delivery)
    assert answer.status_code == 202, answer.text
    assert answer.json() == {"delivery": delivery, "event": "push", "stored": 2,
                             "already_held": 0, "ignored": None}  # fmt: skip
    events = stack.http.get(f"/v1/pipelines/{pipeline['id']}/github-events").json()["data"]
    assert [(e["ref"][:1], e["title"], e["author"], e["occurred_at"]) for e in events] == [
        ("a", "Fix the token refresh race", "devone", "2026-12-06T13:05:00Z"),
        ("b", "Add the recap template", "Dev Two", "2026-12-06T13:30:00Z"),
    ]
    assert {e["source"] for e in events} == {"webhook"}
    assert events[0]["detail"] == {"branch": "main"}
    expect_problem(
        _deliver(stack, pipeline, "push", _push(), delivery=delivery), 409,
        "github_delivery_replayed",
    )  # fmt: skip
    # A new delivery of the same commits (a force-push's resend) adds nothing twice.
    again = _deliver(stack, pipeline, "push", _push()).json()
    assert (again["stored"], again["already_held"]) == (0, 2)
    listed = stack.http.get(f"/v1/pipelines/{pipeline['id']}/github-events").json()["data"]
    assert len(listed) == 2


def test_pull_requests_issues_releases_and_pings(stack: Stack) -> None:
    """A merged PR is `merged` at its merge time; a label change is not an event; a ping
    and another repository's delivery are taken but keep nothing, and say why."""
    pipeline = _create(stack)
    opened = _deliver(stack, pipeline, "pull_request", _pull_request("opened")).json()
    merged = _deliver(stack, pipeline, "pull_request", _pull_request("closed", merged=True))
    labeled = _deliver(stack, pipeline, "pull_request", _pull_request("labeled")).json()
    assert (opened["stored"], merged.json()["stored"], labeled["stored"]) == (1, 1, 0)
    assert "labeled" not in str(labeled) and labeled["ignored"]
    issue = {"action": "opened", "repository": {"full_name": REPO},
             "issue": {"number": 7, "title": "Recap misses releases", "user": {"login": "x"},
                       "html_url": f"https://github.com/{REPO}/issues/7",
                       "created_at": "2026-12-06T09:00:00Z",
                       "updated_at": "2026-12-06T09:00:00Z"}}  # fmt: skip
    release = {"action": "published", "repository": {"full_name": REPO},
               "release": {"id": 991, "tag_name": "v1.2.0", "name": "", "author": {"login": "rel"},
                           "html_url": f"https://github.com/{REPO}/releases/tag/v1.2.0",
                           "published_at": "2026-12-06T16:00:00Z"}}  # fmt: skip
    assert _deliver(stack, pipeline, "issues", issue).json()["stored"] == 1
    assert _deliver(stack, pipeline, "release", release).json()["stored"] == 1
    ping = _deliver(stack, pipeline, "ping", {"zen": "Keep it simple.", "hook_id": 1,
                                              "repository": {"full_name": REPO}})  # fmt: skip
    assert ping.status_code == 202 and "ping" in ping.json()["ignored"]
    elsewhere = _deliver(stack, pipeline, "push", _push("someone/else")).json()
    assert elsewhere["stored"] == 0 and "someone/else" in elsewhere["ignored"]
    events = stack.http.get(f"/v1/pipelines/{pipeline['id']}/github-events").json()["data"]
    assert [(e["kind"], e["action"], e["ref"]) for e in events] == [
        ("issue", "opened", "7"),
        ("pull_request", "opened", "42"),
        ("pull_request", "merged", "42"),
        ("release", "published", "991"),
    ]
    assert events[-1]["title"] == "v1.2.0" and events[-1]["detail"] == {"tag": "v1.2.0"}


def test_events_are_filtered_by_time_and_kind_and_paged(stack: Stack) -> None:
    """`since`/`until` bound the time, `kind` picks kinds, and the cursor walks the rest in
    time order without repeating one."""
    pipeline = _create(stack)
    _deliver(stack, pipeline, "push", _push())
    _deliver(stack, pipeline, "pull_request", _pull_request("opened"))
    _deliver(stack, pipeline, "pull_request", _pull_request("closed", merged=True))
    path = f"/v1/pipelines/{pipeline['id']}/github-events"
    seen: list[str] = []
    page = stack.http.get(path, params={"limit": 1}).json()
    while True:
        seen += [e["id"] for e in page["data"]]
        if not page["has_more"]:
            break
        page = stack.http.get(path, params={"limit": 1, "cursor": page["next_cursor"]}).json()
    assert len(seen) == len(set(seen)) == 4
    commits = stack.http.get(path, params={"kind": "commit"}).json()["data"]
    assert {e["kind"] for e in commits} == {"commit"} and len(commits) == 2
    window = {"since": "2026-12-06T13:10:00Z", "until": "2026-12-06T15:00:00Z"}
    inside = stack.http.get(path, params=window).json()["data"]
    assert [e["title"] for e in inside] == ["Add the recap template"]
    expect_problem(stack.http.get(path, params={"since": "2026-12-06T13:10:00"}), 422)
    expect_problem(stack.http.get(path, params={"kind": "wiki"}), 422)
    expect_problem(stack.http.get(path, params={"cursor": "bm9wZQ"}), 422)


def test_bad_deliveries_are_refused_and_explained(stack: Stack) -> None:
    """Unsigned, wrongly signed, without headers, for no pipeline, not JSON or missing a
    field: each refused with its own code, nothing stored."""
    pipeline = _create(stack)
    url = pipeline["github_webhook"]["url"]
    expect_problem(_deliver(stack, pipeline, "push", _push(), secret="not-the-secret"), 401,
                   "github_signature_invalid")  # fmt: skip
    bare = httpx.post(url, json=_push(), headers={"X-GitHub-Event": "push"})
    problem = expect_problem(bare, 400, "github_header_missing")
    assert "X-GitHub-Delivery" in problem["detail"] and "X-Hub-Signature-256" in problem["detail"]
    elsewhere = url.replace(pipeline["id"], "pln_nope")
    gone = {**pipeline, "github_webhook": {**pipeline["github_webhook"], "url": elsewhere}}
    expect_problem(_deliver(stack, gone, "push", _push()), 404, "pipeline_not_found")
    broken = _push()
    del broken["commits"][0]["timestamp"]
    problem = expect_problem(_deliver(stack, pipeline, "push", broken), 422,
                             "github_payload_invalid")  # fmt: skip
    assert "commits[0].timestamp" in problem["detail"]
    wrong_time = _push()
    wrong_time["commits"][1]["timestamp"] = "yesterday"
    expect_problem(_deliver(stack, pipeline, "push", wrong_time), 422, "github_payload_invalid")
    assert stack.http.get(f"/v1/pipelines/{pipeline['id']}/github-events").json()["data"] == []
    # A refused delivery is not taken: GitHub's redelivery of it, fixed, goes through.
    delivery = str(uuid.uuid4())
    expect_problem(_deliver(stack, pipeline, "push", broken, delivery=delivery), 422)
    assert _deliver(stack, pipeline, "push", _push(), delivery=delivery).status_code == 202


def test_rotating_the_secret_refuses_the_old_one(stack: Stack) -> None:
    """After a rotation only deliveries signed with the new secret are taken."""
    pipeline = _create(stack)
    old = pipeline["github_webhook"]["secret"]
    rotated = stack.http.post(f"/v1/pipelines/{pipeline['id']}/rotate-webhook-secret").json()
    new = rotated["github_webhook"]["secret"]
    assert new and new != old
    expect_problem(_deliver(stack, pipeline, "push", _push(), secret=old), 401)
    assert _deliver(stack, pipeline, "push", _push(), secret=new).status_code == 202


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"twitch_login": "no"}, "twitch_login"),
        ({"twitch_login": "has space"}, "twitch_login"),
        ({"repositories": []}, "repositories"),
        ({"repositories": ["not-a-repo"]}, "repositories"),
        ({"repositories": ["-bad/owner"]}, "repositories"),
        ({"match_window_minutes": 1}, "match_window_minutes"),
        ({"recap": {"repository": REPO, "base_branch": "../main"}}, "base_branch"),
        ({"recap": {"repository": REPO, "path": "/etc/passwd"}}, "path"),
        ({"surprise": 1}, "surprise"),
    ],
)
def test_bad_pipelines_are_refused_naming_the_field(
    stack: Stack, body: dict[str, Any], field: str
) -> None:
    """Each bad value is a 422 whose problem names the field."""
    full = {"name": "x", "twitch_login": "sandbox_streamer", "repositories": [REPO], **body}
    problem = expect_problem(stack.http.post("/v1/pipelines", json=full), 422)
    assert field in json.dumps(problem)


def test_patch_delete_and_another_tenant(stack: Stack) -> None:
    """A patch changes what it names (a null token removes it, repositories deduplicated);
    another tenant finds nothing; a deleted pipeline takes its events and refuses deliveries."""
    pipeline = _create(stack, github_token="ghp_x1234567890")
    path = f"/v1/pipelines/{pipeline['id']}"
    changed = stack.http.patch(path, json={
        "repositories": [REPO, REPO.upper(), "sandbox-dev/other"], "github_token": None,
        "recap": {"repository": REPO},
    }).json()  # fmt: skip
    assert changed["repositories"] == [REPO, "sandbox-dev/other"]
    assert changed["github_token_set"] is False and changed["name"] == "Dev streams"
    assert changed["recap"] == {"repository": REPO, "base_branch": "main",
                                "path": "content/recaps/{date}.md"}  # fmt: skip
    other = {"Authorization": f"Bearer {stack.other_tenant_key()}"}
    expect_problem(httpx.get(stack.api_url + path, headers=other), 404, "pipeline_not_found")
    expect_problem(httpx.delete(stack.api_url + path, headers=other), 404)
    assert httpx.get(stack.api_url + "/v1/pipelines", headers=other).json()["data"] == []
    _deliver(stack, pipeline, "push", _push())
    assert stack.http.delete(path).status_code == 204
    expect_problem(stack.http.get(path), 404)
    expect_problem(_deliver(stack, pipeline, "push", _push()), 404, "pipeline_not_found")
