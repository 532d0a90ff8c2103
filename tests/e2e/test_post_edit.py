"""Editing posts over real HTTP (PATCH /v1/posts/{id}): new text, options, schedule and
destinations reach the targets no worker has started; targets under way keep what they
started with; a post is never published twice or lost, even when the edit races a worker."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from click.testing import Result
from typer.testing import CliRunner

from crosspost.cli import app
from crosspost.store.tables import jobs
from tests.e2e.conftest import Stack

FINAL = {"published", "partially_published", "failed", "cancelled"}
LATER = "2099-01-01T00:00:00Z"


def _x_texts(stack: Stack) -> list[str]:
    return [p["text"] for p in stack.fake("x", "state")["posts"]]


def _post(stack: Stack, **body: Any) -> dict[str, Any]:
    made = stack.http.post("/v1/posts", json=body)
    assert made.status_code == 201, made.text
    return dict(made.json())


def _job(stack: Stack, target_id: str) -> dict[str, Any] | None:
    with stack.svc.db.read() as conn:
        row = conn.execute(
            sa.select(jobs.c.status, jobs.c.run_at).where(
                jobs.c.dedupe_key == f"publish:{target_id}"
            )
        ).first()
    return None if row is None else dict(row._mapping)


def test_a_scheduled_post_is_edited_rescheduled_and_published_once(
    make_stack: Callable[..., Stack],
) -> None:
    stack = make_stack()
    post = _post(stack, text="first draft", targets=["x"], publish_at=LATER)
    [target] = post["targets"]

    later = datetime.now(UTC) + timedelta(days=3)
    edited = stack.http.patch(
        f"/v1/posts/{post['id']}",
        json={"text": "second draft", "publish_at": later.isoformat()},
    )
    assert edited.status_code == 200, edited.text
    answer = edited.json()
    assert answer["changed"] == ["text", "publish_at"]
    assert answer["edited"] == [target["id"]] and answer["left_alone"] == []
    assert answer["post"]["text"] == "second draft"
    assert answer["post"]["status"] == "scheduled"
    job = _job(stack, target["id"])
    assert job is not None and job["status"] == "queued"
    assert abs((job["run_at"].replace(tzinfo=UTC) - later).total_seconds()) < 1

    # publish_at null: now. The queued job moves forward and publishes the edited text.
    now = stack.http.patch(f"/v1/posts/{post['id']}", json={"publish_at": None})
    assert now.status_code == 200, now.text
    assert now.json()["post"]["publish_at"] is None
    done = stack.wait_post(post["id"], lambda p: p["status"] in FINAL)
    assert done["status"] == "published", done
    assert _x_texts(stack).count("second draft") == 1
    assert "first draft" not in _x_texts(stack)
    events = [e["event_type"] for e in stack.http.get(f"/v1/posts/{post['id']}/ledger").json()]
    assert events.count("post_edited") == 2

    # Published everywhere: an edit reaches nothing, and says which target stayed.
    late = stack.http.patch(f"/v1/posts/{post['id']}", json={"text": "too late"})
    assert (late.status_code, late.json()["code"]) == (409, "not_editable"), late.text
    assert late.json()["left_alone"][0]["target_id"] == target["id"]
    assert late.json()["left_alone"][0]["status"] == "published"


def test_targets_are_added_and_removed_and_started_ones_keep_their_content(
    make_stack: Callable[..., Stack],
) -> None:
    stack = make_stack()
    post = _post(stack, text="launch day", targets=["x"])
    stack.wait_post(post["id"], lambda p: p["status"] in FINAL)
    [x_target] = post["targets"]

    grown = stack.http.patch(
        f"/v1/posts/{post['id']}",
        json={"text": "launch day, now on LinkedIn", "add_targets": ["linkedin"]},
    )
    assert grown.status_code == 200, grown.text
    answer = grown.json()
    [added] = answer["added"]
    assert answer["edited"] == []
    assert [t["target_id"] for t in answer["left_alone"]] == [x_target["id"]]
    done = stack.wait_post(post["id"], lambda p: p["status"] in FINAL)
    assert done["status"] == "published", done
    assert {t["id"] for t in done["targets"]} == {x_target["id"], added}
    linkedin = stack.fake("linkedin", "state")["posts"]
    assert [p["text"] for p in linkedin] == ["launch day, now on LinkedIn"]
    assert _x_texts(stack) == ["launch day"]

    # A scheduled post loses a destination; the other still publishes.
    two = _post(stack, text="two places", targets=["x", "linkedin"], publish_at=LATER)
    by_platform = {t["platform"]: t["id"] for t in two["targets"]}
    cut = stack.http.patch(
        f"/v1/posts/{two['id']}",
        json={"remove_targets": [by_platform["linkedin"]], "publish_at": None},
    )
    assert cut.status_code == 200, cut.text
    assert cut.json()["removed"] == [by_platform["linkedin"]]
    assert cut.json()["edited"] == [by_platform["x"]]
    final = stack.wait_post(two["id"], lambda p: p["status"] in FINAL)
    statuses = {t["platform"]: t["status"] for t in final["targets"]}
    assert statuses == {"x": "published", "linkedin": "cancelled"}, final
    assert _x_texts(stack).count("two places") == 1


def test_overrides_merge_as_a_json_merge_patch(make_stack: Callable[..., Stack]) -> None:
    stack = make_stack(workers=0)
    post = _post(
        stack,
        text="merge",
        targets=["x", "linkedin"],
        publish_at=LATER,
        overrides={"x": {"text": "x only"}, "linkedin": {"text": "linkedin only"}},
    )
    merged = stack.http.patch(
        f"/v1/posts/{post['id']}",
        json={"overrides": {"x": {"text": "x, edited"}, "linkedin": None}},
    )
    assert merged.status_code == 200, merged.text
    assert merged.json()["post"]["overrides"] == {"x": {"text": "x, edited"}}
    assert merged.json()["changed"] == ["overrides"]


def test_bad_edits_are_refused_and_change_nothing(
    make_stack: Callable[..., Stack], tmp_path: Path
) -> None:
    stack = make_stack(workers=0)
    post = _post(stack, text="keep me", targets=["x"], publish_at=LATER)
    [target] = post["targets"]
    path = f"/v1/posts/{post['id']}"
    cases: list[tuple[dict[str, Any], int, str]] = [
        ({}, 422, "empty_edit"),
        ({"text": None}, 422, "text_required"),
        ({"text": "x" * 400}, 422, "caption_too_long"),
        ({"remove_targets": ["tgt_nope"]}, 422, "target_not_found"),
        ({"add_targets": ["x"]}, 422, "duplicate_target"),
        ({"add_targets": ["myspace"]}, 422, "unsupported_platform"),
        ({"overrides": {"youtube": {"title": "no youtube target"}}}, 422,
         "override_without_target"),
        ({"overrides": {"x": {"no_such_option": 1}}}, 422, "unknown_override"),
        ({"timezone": "Europe/Paris"}, 422, "timezone_without_publish_at"),
        ({"publish_at": "2001-01-01T00:00:00Z"}, 422, "publish_at_in_past"),
        ({"publish_at": "2099-01-01T09:00:00"}, 422, "timezone_required"),
        ({"text": "fine", "colour": "red"}, 422, "validation_error"),
    ]  # fmt: skip
    for body, status, code in cases:
        answer = stack.http.patch(path, json=body)
        got = (answer.status_code, answer.json().get("code"))
        assert got == (status, code), (body, answer.text)
        assert answer.headers["content-type"].startswith("application/problem+json")
    missing = stack.http.patch("/v1/posts/post_nope", json={"text": "x"})
    assert missing.status_code == 404, missing.text
    form = stack.http.patch(path, content=b"text=x", headers={"Content-Type": "text/plain"})
    assert form.status_code in (415, 422), form.text
    unchanged = stack.http.get(path).json()
    assert (unchanged["text"], unchanged["publish_at"]) == ("keep me", "2099-01-01T00:00:00Z")
    events = [e["event_type"] for e in stack.http.get(f"{path}/ledger").json()]
    assert "post_edited" not in events
    assert _job(stack, target["id"]) is not None


def test_a_local_publish_at_is_read_in_the_posts_zone(make_stack: Callable[..., Stack]) -> None:
    stack = make_stack(workers=0)
    post = _post(
        stack, text="zoned", targets=["x"], publish_at="2099-06-01T09:00:00",
        timezone="Europe/Paris",
    )  # fmt: skip
    moved = stack.http.patch(f"/v1/posts/{post['id']}", json={"publish_at": "2099-06-02T09:00:00"})
    assert moved.status_code == 200, moved.text
    assert moved.json()["post"]["publish_at"] == "2099-06-02T07:00:00Z"
    assert moved.json()["post"]["timezone"] == "Europe/Paris"


def test_an_edit_racing_a_claiming_worker_publishes_exactly_what_it_answered(
    make_stack: Callable[..., Stack],
) -> None:
    """Each post is edited while workers are claiming it: a target the answer lists as
    edited publishes the new text (or, rescheduled, not yet); one left alone publishes the
    old text; never both, never twice."""
    stack = make_stack(workers=4)
    rounds = 24
    made: list[tuple[str, str, dict[str, Any]]] = []
    for i in range(rounds):
        post = _post(stack, text=f"old {i}", targets=["x"])
        body: dict[str, Any] = {"text": f"new {i}"}
        if i % 3 == 0:
            body["publish_at"] = LATER
        answer = stack.http.patch(f"/v1/posts/{post['id']}", json=body)
        assert answer.status_code in (200, 409), answer.text
        made.append((post["id"], post["targets"][0]["id"], answer.json()))
    deadline = time.monotonic() + 60
    settled: dict[str, str] = {}
    while time.monotonic() < deadline and len(settled) < rounds:
        for post_id, target_id, answer in made:
            target = stack.http.get(f"/v1/posts/{post_id}/targets/{target_id}").json()
            job = _job(stack, target_id)
            rescheduled = answer.get("edited") and answer["post"]["publish_at"] is not None
            if target["status"] == "published" or (
                rescheduled and target["status"] == "scheduled" and job
                and job["status"] == "queued"
            ):  # fmt: skip
                settled[post_id] = target["status"]
        time.sleep(0.05)
    assert len(settled) == rounds, (len(settled), made)
    texts = _x_texts(stack)
    reached = 0
    for i, (post_id, target_id, answer) in enumerate(made):
        edited = target_id in answer.get("edited", [])
        reached += edited
        if edited and i % 3 == 0:
            assert settled[post_id] == "scheduled"
            assert f"old {i}" not in texts and f"new {i}" not in texts
        elif edited:
            assert (texts.count(f"new {i}"), texts.count(f"old {i}")) == (1, 0), (i, texts)
        else:
            assert answer["code"] == "not_editable", answer
            assert (texts.count(f"old {i}"), texts.count(f"new {i}")) == (1, 0), (i, texts)
    # Edits that reach nothing would prove nothing about the race.
    assert reached > 0, made


def test_the_cli_edits_a_post(
    make_stack: Callable[..., Stack], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`crosspost posts edit POST_ID …`: the flags become one PATCH; a bad flag is refused
    before any request, the server's refusal is shown with exit 1."""
    stack = make_stack(workers=0)
    monkeypatch.setenv("CROSSPOST_HOME", str(tmp_path / "cli-home"))
    monkeypatch.setenv("CROSSPOST_API_URL", stack.api_url)
    monkeypatch.setenv("CROSSPOST_API_KEY", stack.key)

    def cli(*args: str) -> Result:
        return CliRunner().invoke(app, ["posts", "edit", *args], env={"COLUMNS": "200"})

    post = _post(stack, text="cli draft", targets=["x"], publish_at=LATER)
    done = cli(post["id"], "--text", "cli final", "--at", "+2h", "--add", "linkedin",
               "--override", "linkedin.visibility=CONNECTIONS")  # fmt: skip
    assert done.exit_code == 0, done.output
    edited = stack.http.get(f"/v1/posts/{post['id']}").json()
    assert edited["text"] == "cli final"
    assert edited["overrides"] == {"linkedin": {"visibility": "CONNECTIONS"}}
    assert sorted(t["platform"] for t in edited["targets"]) == ["linkedin", "x"]
    ahead = datetime.fromisoformat(edited["publish_at"]) - datetime.now(UTC)
    assert timedelta(hours=1, minutes=58) < ahead <= timedelta(hours=2), edited
    now = cli(post["id"], "--at", "now", "--json")
    assert now.exit_code == 0, now.output
    assert json.loads(now.stdout)["post"]["publish_at"] is None
    for args, words in (
        ((), "nothing to change"),
        (("--at", "now", "--tz", "Europe/Paris"), "--at now"),
        (("--override", "youtube"), "PLATFORM.OPTION=VALUE"),
    ):
        refused = cli(post["id"], *args)
        assert refused.exit_code == 2 and words in refused.stderr, (args, refused.output)
    server = cli(post["id"], "--remove", "tgt_nope")
    assert server.exit_code == 1 and "tgt_nope" in server.stderr, server.output
