"""Content generation over real HTTP on SQLite and PostgreSQL, after a pipeline run
against the fakes: a daily recap answered at once (items paged, GitHub counted, a post
with YAML front matter), the same proposed as one pull request on the GitHub fake however
often it is asked, rejected items left out, the tenant's own templates (sandboxed), and
every bad request refused naming what to change."""

from __future__ import annotations

import base64
import json
from typing import Any

import pytest
import yaml

from tests.e2e.conftest import _LOCAL, Stack, expect_problem
from tests.e2e.pipelines import REPO, clip_range, github_read, make_pipeline, pulls_opened, run


@pytest.fixture
def ran(stack: Stack) -> tuple[Stack, dict[str, Any], dict[str, str]]:
    """A stack whose pipeline (with a recap target) ran over the sample channel's clips of
    the last day and a half (a third of them: enough for every test, and quick)."""
    pipeline = make_pipeline(stack, recap={"repository": REPO})
    window = clip_range(hours=36)
    found = run(stack, pipeline, window)["result"]["clips_found"]
    assert found >= 3, "the sample channel should have clips in its last day and a half"
    return stack, {**pipeline, "clips": found}, window


def _ask(stack: Stack, window: dict[str, str], **body: Any) -> dict[str, Any]:
    request = {
        "date_range": {"start": window["since"], "end": window["until"]},
        "content_type": "daily_recap",
        **body,
    }
    answer = stack.http.post("/v1/content/generate", json=request)
    assert answer.status_code in (200, 202), answer.text
    return dict(answer.json())


def test_a_sync_recap_pages_items_counts_github_and_writes_front_matter(
    ran: tuple[Stack, dict[str, Any], dict[str, str]],
) -> None:
    """The answer holds the page of items asked for, seed 002's pagination and summary,
    a title, tags and score, and the post: front matter listing every clip."""
    stack, pipeline, window = ran
    clips = pipeline["clips"]
    answer = _ask(stack, window, pipeline_id=pipeline["id"], limit=2, page=2)
    assert answer["job_status"] == "completed" and answer["error"] is None
    pages = (clips + 1) // 2
    assert answer["pagination"] == {
        "total_items": clips,
        "total_pages": pages,
        "current_page": 2,
        "per_page": 2,
        "has_next": pages > 2,
        "has_prev": True,
    }
    assert len(answer["content_items"]) == min(2, clips - 2)
    scores = [i["content_score"] for i in answer["content_items"]]
    assert scores == sorted(scores, reverse=True)
    summary = answer["summary"]
    assert summary["total_clips"] == clips and summary["total_commits"] > 0
    assert answer["suggested_title"].startswith("Dev recap: ")
    post = answer["post"]
    assert post["markdown"].startswith("---\n") and post["path"].startswith("content/recaps/")
    front = yaml.safe_load(post["markdown"].split("---\n")[1])
    assert front == post["front_matter"]
    assert len(front["clips"]) == clips and front["title"] == answer["suggested_title"]
    assert "## " in post["markdown"].split("---\n", 2)[2]
    job = stack.http.get(answer["status_url"].removeprefix(stack.api_url)).json()
    assert job["status"] == "succeeded" and job["result"]["post"]["path"] == post["path"]
    [event] = stack.events("content.generated")
    assert event["data"]["job_id"] == answer["job_id"] and event["data"]["total_clips"] == clips
    assert pulls_opened(stack) == []  # not asked for


def test_a_recap_is_proposed_as_one_pull_request_however_often_it_is_asked(
    ran: tuple[Stack, dict[str, Any], dict[str, str]],
) -> None:
    """Async with open_pull_request: one branch, one pull request whose file is the post;
    asked again, the same pull request is found (not opened twice) and nothing new is
    committed for the same post; a rejected clip then changes the file on the branch."""
    stack, pipeline, window = ran
    queued = _ask(stack, window, pipeline_id=pipeline["id"], mode="async", open_pull_request=True)
    assert queued["job_status"] == "queued"
    job = stack.wait_job(queued["job_id"])
    assert job["status"] == "succeeded", job
    pull = job["result"]["pull_request"]
    assert pull["created"] is True
    [opened] = pulls_opened(stack)
    assert opened["number"] == pull["number"] and opened["head"]["ref"] == pull["branch"]
    again = _ask(stack, window, pipeline_id=pipeline["id"], open_pull_request=True)
    assert again["pull_request"]["number"] == pull["number"]
    assert again["pull_request"]["created"] is False
    assert again["pull_request"]["commit"] == pull["commit"]  # same bytes: no new commit
    assert len(pulls_opened(stack)) == 1
    first_clip = again["post"]["front_matter"]["clips"][0]["id"]
    item = next(i for i in _all_items(stack) if i["clip_id"] == first_clip)
    stack.http.post(
        f"/v1/content-items/{item['content_item_id']}/review", json={"review": "rejected"}
    )
    changed = _ask(stack, window, pipeline_id=pipeline["id"], open_pull_request=True)
    assert changed["summary"]["total_clips"] == pipeline["clips"] - 1
    assert first_clip not in {c["id"] for c in changed["post"]["front_matter"]["clips"]}
    assert changed["pull_request"]["number"] == pull["number"]
    assert changed["pull_request"]["commit"] != pull["commit"]
    assert len(pulls_opened(stack)) == 1
    content = _file(stack, changed["post"]["path"], changed["pull_request"]["branch"])
    assert content == changed["post"]["markdown"]
    assert [e["data"]["pull_request"]["created"] for e in stack.events("content.pr_opened")] == [
        True,
        False,
        False,
    ]


def test_a_tenants_own_template_is_used_and_sandboxed(
    ran: tuple[Stack, dict[str, Any], dict[str, str]],
) -> None:
    """A template of the tenant's own makes the body; one that does not parse is refused
    naming the line; one reaching for Python internals fails the generation, explained."""
    stack, pipeline, window = ran
    builtin = stack.http.get("/v1/content/templates/daily_recap").json()
    assert builtin["builtin"] is True and "{{ title }}" in builtin["template"]
    mine = "Hello {{ summary.total_clips }} clips: {% for i in items %}[{{ i.title }}]{% endfor %}"
    put = stack.http.put("/v1/content/templates/daily_recap", json={"template": mine})
    assert put.status_code == 200 and put.json()["builtin"] is False
    body = _ask(stack, window, pipeline_id=pipeline["id"])["post"]["markdown"].split("---\n")[2]
    assert body.strip().startswith(f"Hello {pipeline['clips']} clips: [")
    problem = expect_problem(
        stack.http.put(
            "/v1/content/templates/daily_recap", json={"template": "line one\n{% for x in %}"}
        ),
        422,
        "template_invalid",
    )
    assert "line 2" in problem["detail"]
    evil = "{{ ''.__class__.__mro__[1].__subclasses__() }}"
    assert (
        stack.http.put("/v1/content/templates/daily_recap", json={"template": evil}).status_code
        == 200
    )
    failed = stack.http.post(
        "/v1/content/generate",
        json={
            "date_range": {"start": window["since"], "end": window["until"]},
            "content_type": "daily_recap",
        },
    )
    expect_problem(failed, 422, "template_failed")
    assert stack.http.delete("/v1/content/templates/daily_recap").status_code == 204
    expect_problem(stack.http.delete("/v1/content/templates/daily_recap"), 404)
    assert stack.http.get("/v1/content/templates/daily_recap").json()["builtin"] is True


@pytest.mark.parametrize(
    ("body", "needle"),
    [
        ({"content_type": "topic_focus"}, "topic"),
        ({"open_pull_request": True}, "pipeline_id"),
        ({"content_type": "novel"}, "content_type"),
        ({"limit": 101}, "limit"),
        ({"filters": {"min_duration": 30, "max_duration": 5}}, "min_duration"),
        (
            {"date_range": {"start": "2026-12-02T00:00:00Z", "end": "2026-12-01T00:00:00Z"}},
            "end must be after",
        ),
        ({"date_range": {"start": "2026-12-01T00:00:00", "end": "2026-12-02T00:00:00Z"}}, "start"),
        ({"pipeline_id": "pln_nope"}, "pipeline_not_found"),
    ],
)
def test_bad_generation_requests_are_refused(
    stack: Stack, body: dict[str, Any], needle: str
) -> None:
    """Each names what to change."""
    request = {
        "date_range": {"start": "2026-12-01T00:00:00Z", "end": "2026-12-02T00:00:00Z"},
        "content_type": "daily_recap",
        **body,
    }
    answer = stack.http.post("/v1/content/generate", json=request)
    assert answer.status_code in (404, 422), answer.text
    assert needle in json.dumps(answer.json())


def test_a_pull_request_needs_a_recap_target_and_another_tenant_sees_nothing(
    stack: Stack,
) -> None:
    """A pipeline without a recap target cannot open pull requests; another tenant's
    generation finds none of this tenant's items."""
    pipeline = make_pipeline(stack)
    window = clip_range()
    request = {
        "date_range": {"start": window["since"], "end": window["until"]},
        "content_type": "daily_recap",
        "pipeline_id": pipeline["id"],
        "open_pull_request": True,
    }
    expect_problem(
        stack.http.post("/v1/content/generate", json=request), 422, "recap_not_configured"
    )
    other = {"Authorization": f"Bearer {stack.other_tenant_key()}"}
    del request["pipeline_id"], request["open_pull_request"]
    answer = _LOCAL.post(stack.api_url + "/v1/content/generate", json=request, headers=other)
    assert answer.status_code == 200 and answer.json()["summary"]["total_clips"] == 0


def _all_items(stack: Stack) -> list[dict[str, Any]]:
    return list(stack.http.get("/v1/content-items", params={"limit": 100}).json()["data"])


def _file(stack: Stack, path: str, branch: str) -> str:
    """A file on a branch of the sample repository."""
    return base64.b64decode(github_read(stack, f"/contents/{path}", ref=branch)["content"]).decode()
