"""POST /v1/posts refuses what it would otherwise silently get wrong: unknown or badly typed
overrides, a post type the platform lacks, a local publish time daylight saving skips or
repeats. Each refusal is a 422 problem naming what to change, and writes nothing."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
import sqlalchemy as sa
from typer.testing import CliRunner

from crosspost.cli import app as cli_app
from crosspost.clock import FrozenClock
from crosspost.domain.enums import MediaKind, Platform
from crosspost.engine.worker import build_runner
from crosspost.media.samples import make_audio, make_image, make_video
from crosspost.platforms.registry import client_for
from crosspost.store.tables import jobs, posts, targets
from tests.e2e.conftest import Stack
from tests.platforms.test_post_types import EXPECTED, KIND_CODES

# The platforms' rules are checked in code, the same over either store: SQLite only.
pytestmark = pytest.mark.one_database

JANUARY = datetime(2026, 1, 1, tzinfo=UTC)


def _counts(stack: Stack) -> tuple[int, ...]:
    with stack.svc.db.read() as conn:
        return tuple(
            conn.execute(sa.select(sa.func.count()).select_from(t)).scalar_one()
            for t in (posts, targets, jobs)
        )


def _refused(stack: Stack, body: dict[str, Any], code: str) -> dict[str, Any]:
    before = _counts(stack)
    response = stack.http.post("/v1/posts", json=body)
    assert response.status_code == 422, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    problem = dict(response.json())
    assert problem["code"] == code, problem
    assert _counts(stack) == before
    return problem


@pytest.fixture
def idle(make_stack: Callable[..., Stack]) -> Stack:
    """A stack without workers and with the clock at 2026-01-01: posts are only created."""
    return make_stack(workers=0, clock=FrozenClock(JANUARY))


def _video_post(stack: Stack, tmp_path: Path, **body: Any) -> dict[str, Any]:
    video = stack.upload_video(tmp_path, seconds=1.0)
    return {"media_id": video["id"], "text": "x", "targets": ["youtube"], **body}


def test_an_unknown_override_is_refused_with_the_platforms_options(
    idle: Stack, tmp_path: Path
) -> None:
    """`poll_choices` is no YouTube option: 422 `unknown_override` naming it and listing
    every option YouTube takes (the ones its client reads)."""
    body = _video_post(idle, tmp_path, overrides={"youtube": {"poll_choices": "hi"}})
    problem = _refused(idle, body, "unknown_override")
    accepted = client_for(Platform.YOUTUBE).options_model.accepted()
    assert problem["option"] == "overrides.youtube.poll_choices"
    assert problem["accepted"] == accepted
    assert "overrides.youtube.poll_choices" in problem["detail"]
    assert all(name in problem["detail"] for name in accepted)


@pytest.mark.parametrize(
    ("platform", "options", "words"),
    [
        ("youtube", {"privacy_status": 5}, "'public', 'unlisted' or 'private' (got 5)"),
        ("youtube", {"made_for_kids": "yes"}, 'valid boolean (got "yes")'),
        ("youtube", {"tags": 5}, "valid list (got 5)"),
        ("youtube", {"category_id": "music"}, 'category id, e.g. "22"'),
        ("tiktok", {"privacy_level": "EVERYONE"}, "'PUBLIC_TO_EVERYONE'"),
        ("tiktok", {"video_cover_timestamp_ms": -1}, "greater than or equal to 0"),
        ("instagram", {"share_to_feed": "false"}, 'valid boolean (got "false")'),
        ("linkedin", {"visibility": "FRIENDS"}, "'PUBLIC', 'CONNECTIONS' or 'LOGGED_IN'"),
        ("soundcloud", {"license": "cc0"}, "'cc-by'"),
        ("x", {"text": 280}, "valid string (got 280)"),
    ],
)
def test_a_badly_typed_override_is_refused_naming_the_allowed_values(
    idle: Stack, tmp_path: Path, platform: str, options: dict[str, Any], words: str
) -> None:
    """A known option with a value its platform cannot take: 422 `invalid_override` naming
    the option and what it may be, before anything is stored."""
    name = next(iter(options))
    body = _video_post(idle, tmp_path, targets=[platform], overrides={platform: options})
    problem = _refused(idle, body, "invalid_override")
    assert f"overrides.{platform}.{name}" in problem["detail"] and words in problem["detail"]


def test_overrides_for_an_unknown_or_untargeted_platform_are_refused(
    idle: Stack, tmp_path: Path
) -> None:
    """An unknown platform name lists the real ones; options for a platform the post does not
    go to would be ignored, so they are refused too."""
    body = _video_post(idle, tmp_path, overrides={"myspace": {}})
    problem = _refused(idle, body, "invalid_overrides")
    assert "myspace" in problem["detail"] and "soundcloud, tiktok, x, youtube" in problem["detail"]
    body = _video_post(idle, tmp_path, overrides={"tiktok": {"privacy_level": "SELF_ONLY"}})
    problem = _refused(idle, body, "override_without_target")
    assert "overrides.tiktok" in problem["detail"]


def test_every_platform_and_kind_of_post_through_the_api(idle: Stack, tmp_path: Path) -> None:
    """Text only, video, audio and image to each platform alone: a kind the platform lacks is
    a 422 `unsupported_post_type` carrying its precise reason; every other kind is not refused
    for its kind."""
    files = {
        MediaKind.VIDEO: (make_video(tmp_path / "v.mp4", seconds=4.0), "video/mp4"),
        MediaKind.AUDIO: (make_audio(tmp_path / "a.mp3", seconds=3.0), "audio/mpeg"),
        MediaKind.IMAGE: (make_image(tmp_path / "i.jpg", width=800, height=800), "image/jpeg"),
    }
    media_ids: dict[MediaKind, str] = {}
    for kind, (path, ctype) in files.items():
        uploaded = idle.http.post(
            "/v1/media", content=path.read_bytes(), headers={"Content-Type": ctype}
        )
        assert uploaded.status_code == 201, uploaded.text
        assert uploaded.json()["kind"] == kind.value
        media_ids[kind] = uploaded.json()["id"]
    for (platform, kind), reason in EXPECTED.items():
        body: dict[str, Any] = {"text": "hello", "targets": [platform.value]}
        if kind is not None:
            body["media_id"] = media_ids[kind]
        response = idle.http.post("/v1/posts", json=body)
        where = (platform.value, kind)
        if reason is None:
            assert response.status_code == 201 or response.json()["code"] not in KIND_CODES, (
                where,
                response.text,
            )
            continue
        assert response.status_code == 422, (where, response.text)
        problem = response.json()
        assert problem["code"] == "unsupported_post_type", (where, problem)
        assert reason in problem["detail"], (where, problem)


def test_a_text_post_to_youtube_says_why(idle: Stack) -> None:
    """The issue's case: not "media required" but YouTube's actual limitation."""
    problem = _refused(idle, {"text": "hello", "targets": ["youtube"]}, "unsupported_post_type")
    assert "YouTube's API offers no community posts" in problem["detail"]


def test_publish_at_in_a_daylight_saving_gap_or_overlap(idle: Stack, tmp_path: Path) -> None:
    """02:30 on 2027-03-28 does not exist in Paris and 02:30 on 2027-10-31 happens twice: both
    are refused (the first naming its neighbours), and `fold` settles the second."""
    body = _video_post(idle, tmp_path, timezone="Europe/Paris")
    gap = _refused(idle, {**body, "publish_at": "2027-03-28T02:30"}, "publish_at_nonexistent")
    assert gap["nearest"] == ["2027-03-28T01:59:59+01:00", "2027-03-28T03:00:00+02:00"]
    twice = _refused(idle, {**body, "publish_at": "2027-10-31T02:30"}, "publish_at_ambiguous")
    assert twice["candidates"] == ["2027-10-31T02:30:00+02:00", "2027-10-31T02:30:00+01:00"]
    created = idle.http.post(
        "/v1/posts", json={**body, "publish_at": "2027-10-31T02:30", "fold": 1}
    )
    assert created.status_code == 201, created.text
    assert created.json()["status"] == "scheduled"
    assert datetime.fromisoformat(created.json()["publish_at"]) == datetime(
        2027, 10, 31, 1, 30, tzinfo=UTC
    )


def test_the_cli_reports_a_skipped_local_time(idle: Stack, tmp_path: Path) -> None:
    """`crosspost publish --at … --tz …` refuses a skipped local time with its neighbours
    by the API's rules, before any upload and in the CLI's words (exit 2); `--fold` picks a
    repeated one, which the API schedules."""
    clip = make_video(tmp_path / "clip.mp4", seconds=1.0)
    env = {"CROSSPOST_API_URL": idle.api_url, "CROSSPOST_API_KEY": idle.key}
    base = ["publish", str(clip), "--to", "youtube", "--tz", "Europe/Paris", "--no-wait"]
    runner = CliRunner()
    refused = runner.invoke(cli_app, [*base, "--at", "2027-03-28T02:30"], env=env)
    assert refused.exit_code == 2, refused.output
    assert "--at 2027-03-28T02:30:00 does not exist in Europe/Paris" in refused.output
    assert "2027-03-28T01:59:59+01:00" in refused.output.replace("\n", "")
    assert "publish_at" not in refused.output
    chosen = runner.invoke(cli_app, [*base, "--at", "2027-10-31T02:30", "--fold", "0"], env=env)
    assert chosen.exit_code == 0, chosen.output
    assert "scheduled" in chosen.output


def test_stored_options_are_read_as_accepted(
    make_stack: Callable[..., Stack], tmp_path: Path
) -> None:
    """A post stored before options were checked still publishes: an option no client reads
    is left out, the ones it reads are used; a value no client can use fails that target
    with `invalid_override` instead of being sent."""
    idle = make_stack(workers=0)  # real time: the fakes' processing must be able to end
    good = idle.http.post("/v1/posts", json=_video_post(idle, tmp_path))
    bad = idle.http.post("/v1/posts", json=_video_post(idle, tmp_path))
    assert good.status_code == bad.status_code == 201
    stored = {
        good.json()["id"]: {"youtube": {"poll_choices": "hi", "privacy_status": "unlisted"}},
        bad.json()["id"]: {"youtube": {"privacy_status": 5}},
    }
    with idle.svc.db.write() as conn:
        for post_id, overrides in stored.items():
            conn.execute(sa.update(posts).where(posts.c.id == post_id).values(overrides=overrides))
    runner = build_runner(idle.svc, concurrency=1)
    runner.start()
    try:
        final = {"published", "failed", "partially_published", "cancelled"}
        published = idle.wait_post(good.json()["id"], lambda p: p["status"] in final)
        failed = idle.wait_post(bad.json()["id"], lambda p: p["status"] in final)
    finally:
        runner.stop(timeout=10)
    assert published["status"] == "published", published
    assert [p["privacy"] for p in idle.fake("youtube", "state")["posts"]] == ["unlisted"]
    error = failed["targets"][0]["last_error"]
    assert failed["status"] == "failed" and error["code"] == "invalid_override", failed
    assert "overrides.youtube.privacy_status" in error["message"]


def test_problem_bodies_are_json(idle: Stack) -> None:
    """The extra members of these problems (lists of options and times) are plain JSON."""
    response = httpx.post(
        f"{idle.api_url}/v1/posts",
        json={"text": "x", "targets": ["x"], "overrides": {"x": {"title": "t"}}},
        headers={"Authorization": f"Bearer {idle.key}"},
    )
    assert response.status_code == 422 and response.json()["accepted"] == ["first_comment", "text"]


def test_an_unknown_query_parameter_is_refused(idle: Stack) -> None:
    """A misspelt filter used to be ignored (every post came back): now 422 naming it and
    the parameters the endpoint takes. OAuth endpoints keep ignoring unknown ones (RFC 6749)."""
    response = idle.http.get("/v1/posts", params={"stauts": "failed"})
    assert response.status_code == 422, response.text
    problem = response.json()
    assert problem["code"] == "unknown_query_parameter"
    assert "stauts" in problem["detail"]
    assert "cursor, limit, media_id, order, platform" in problem["detail"]
    assert idle.http.get("/v1/posts", params={"status": "failed", "limit": 5}).status_code == 200
    assert idle.http.get("/v1/usage", params={"month": "2026-01"}).status_code == 422
    assert idle.http.get("/v1/analytics", params={"since": "2026-01-01"}).status_code == 422
    assert idle.http.get("/healthz", params={"probe": "1"}).status_code == 200
