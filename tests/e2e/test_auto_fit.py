"""auto_fit: a video a platform refuses (here a 4:1 banner, wider than X's 3:1 and
LinkedIn's 2.4:1) is rendered in a shape that platform takes and the variant published
there, while the platforms that take the original get the original; what no render repairs
still fails; a variant that cannot be made fails only its target, and a retry renders it
again. `render_id` publishes a ready render of the clip studio."""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from crosspost.cli import app
from crosspost.media.samples import make_video
from tests.e2e.conftest import Stack, expect_problem

FINAL = ("published", "partially_published", "failed", "cancelled")


@pytest.fixture
def stack(make_stack: Callable[..., Stack]) -> Stack:
    """A stack as `crosspost serve` runs: workers, a studio pool, a webhook dispatcher."""
    return make_stack(render_workers=1, dispatcher=True)


def _banner_file(tmp_path: Path) -> Path:
    """A 4:1 video of 3.2 s (720x180): every platform but X and LinkedIn takes it."""
    return make_video(tmp_path / "banner.mp4", seconds=3.2, width=720, height=180)


def _banner(stack: Stack, tmp_path: Path) -> dict[str, Any]:
    """The banner, uploaded."""
    return stack.upload_video(tmp_path, seconds=3.2, width=720, height=180)


def _digest(stack: Stack, media_id: str) -> str:
    return hashlib.sha256(stack.stored_bytes(media_id)).hexdigest()


def _ledger(stack: Stack, post_id: str) -> list[dict[str, Any]]:
    return list(stack.http.get(f"/v1/posts/{post_id}/ledger").json())


def test_the_platforms_that_refuse_the_video_get_a_variant_that_fits(
    stack: Stack, tmp_path: Path
) -> None:
    banner = _banner(stack, tmp_path)
    body = {"media_id": banner["id"], "text": "wide", "targets": ["youtube", "x", "linkedin"]}

    # Checked first: without auto_fit X and LinkedIn refuse it; with it, each gets a plan.
    plain = stack.http.post("/v1/posts/validate", json=body).json()
    refused = {t["platform"]: t["status"] for t in plain["targets"]}
    assert refused == {"youtube": "queued", "x": "failed", "linkedin": "failed"}
    verdict = stack.http.post("/v1/posts/validate", json={**body, "auto_fit": True}).json()
    assert verdict["valid"] is True, verdict
    planned = {t["platform"]: t["fit"] for t in verdict["targets"]}
    assert planned["youtube"] is None
    for platform in ("x", "linkedin"):
        assert planned[platform]["aspect"] == "16:9"
        assert planned[platform]["max_duration"] is None
        assert [b["type"] for b in planned[platform]["because"]] == ["aspect_ratio_not_allowed"]

    made = stack.http.post("/v1/posts", json={**body, "auto_fit": True})
    assert made.status_code == 201, made.text
    created = made.json()
    assert created["auto_fit"] is True
    fits = {t["platform"]: t["fit"] for t in created["targets"]}
    assert fits["youtube"] is None
    assert {fits["x"]["status"], fits["linkedin"]["status"]} == {"pending"}
    assert fits["x"]["media_id"] != fits["linkedin"]["media_id"]

    post = stack.wait_post(created["id"], lambda p: p["status"] in FINAL, timeout=120)
    assert post["status"] == "published", post
    by_platform = {t["platform"]: t for t in post["targets"]}
    assert _digest(stack, banner["id"]) == stack.fake("youtube", "state")["posts"][0]["sha256"]
    for platform in ("x", "linkedin"):
        fit = by_platform[platform]["fit"]
        assert fit["status"] == "ready" and fit["source_media_id"] == banner["id"]
        variant = stack.http.get(f"/v1/media/{fit['media_id']}").json()
        assert variant["width"] * 9 == variant["height"] * 16, variant  # 16:9
        assert variant["video_codec"] == "h264"
        [sent] = stack.fake(platform, "state")["posts"]
        assert sent["sha256"] == _digest(stack, fit["media_id"])
    events = [e["event_type"] for e in _ledger(stack, post["id"])]
    assert events.count("fit_queued") == 2 and events.count("fit_ready") == 2, events
    assert events[-1] == "post_published", events


def test_what_no_render_repairs_still_fails_and_a_failed_variant_can_be_retried(
    stack: Stack, tmp_path: Path
) -> None:
    banner = _banner(stack, tmp_path)
    # The source's file goes missing before its variant can be made (the post only checks
    # the media item): that target fails, saying why; the post's other targets do not care.
    stored = stack.stored_bytes(banner["id"])
    stack.svc.storage.delete(banner["id"])
    # 300 characters: X's 280 refuse the caption, which no render repairs; LinkedIn takes it.
    made = stack.http.post(
        "/v1/posts",
        json={"media_id": banner["id"], "text": "w" * 300, "targets": ["x", "linkedin"],
              "auto_fit": True, "publish_at": "2099-01-01T00:00:00Z"},
    )  # fmt: skip
    assert made.status_code == 201, made.text
    targets = {t["platform"]: t for t in made.json()["targets"]}
    assert targets["x"]["status"] == "failed" and targets["x"]["fit"] is None
    refusals = [v["code"] for v in targets["x"]["last_error"]["raw"]["violations"]]
    assert refusals == ["aspect_ratio_not_allowed", "caption_too_long"]
    assert targets["linkedin"]["fit"]["status"] == "pending"
    post_id = made.json()["id"]
    post = stack.wait_post(
        post_id, lambda p: all(t["status"] == "failed" for t in p["targets"]), timeout=60
    )
    linkedin = next(t for t in post["targets"] if t["platform"] == "linkedin")
    assert linkedin["fit"]["status"] == "failed"
    assert linkedin["fit"]["error"]["code"] == "source_missing"
    assert linkedin["last_error"]["code"] == "source_missing"
    assert linkedin["last_error"]["message"].startswith(
        "auto_fit could not render a 16:9 variant for linkedin:"
    )

    # Put back, the file renders on retry, and the target (queued again, as a retry does)
    # still waits for its publish time.
    with stack.svc.storage.begin_write(banner["id"]) as pending:
        pending.write(stored)
        pending.commit()
    retried = stack.http.post(f"/v1/posts/{post_id}/targets/{linkedin['id']}/retry")
    assert retried.status_code == 200, retried.text
    post = stack.wait_post(
        post_id,
        lambda p: any(t["fit"] and t["fit"]["status"] == "ready" for t in p["targets"]),
        timeout=60,
    )
    linkedin = next(t for t in post["targets"] if t["platform"] == "linkedin")
    assert linkedin["status"] == "queued" and linkedin["fit"]["error"] is None
    assert stack.fake("linkedin", "state")["posts"] == []  # not before 2099


def test_a_target_added_to_an_auto_fit_post_is_fitted_too(stack: Stack, tmp_path: Path) -> None:
    banner = _banner(stack, tmp_path)
    made = stack.http.post(
        "/v1/posts",
        json={"media_id": banner["id"], "targets": ["youtube"], "auto_fit": True,
              "publish_at": "2099-01-01T00:00:00Z"},
    )  # fmt: skip
    assert made.status_code == 201, made.text
    edited = stack.http.patch(f"/v1/posts/{made.json()['id']}", json={"add_targets": ["x"]})
    assert edited.status_code == 200, edited.text
    [added] = [t for t in edited.json()["post"]["targets"] if t["platform"] == "x"]
    assert added["status"] == "scheduled" and added["fit"]["aspect"] == "16:9"
    # The same edit on a post without auto_fit is refused, saying why.
    plain = stack.http.post(
        "/v1/posts",
        json={"media_id": banner["id"], "targets": ["youtube"],
              "publish_at": "2099-01-01T00:00:00Z"},
    )  # fmt: skip
    refused = stack.http.patch(f"/v1/posts/{plain.json()['id']}", json={"add_targets": ["x"]})
    expect_problem(refused, 422, "aspect_ratio_not_allowed")


def test_render_id_is_checked(stack: Stack, tmp_path: Path) -> None:
    """An unknown render, or one given with media_id, is refused with its own code (the
    studio flow test publishes a ready one)."""
    banner = _banner(stack, tmp_path)
    missing = stack.http.post("/v1/posts", json={"render_id": "rnd_nope", "targets": ["x"]})
    problem = expect_problem(missing, 422, "render_not_found")
    assert "POST /v1/clips/{id}/renders" in problem["detail"]
    both = stack.http.post(
        "/v1/posts", json={"render_id": "rnd_nope", "media_id": banner["id"], "targets": ["x"]}
    )
    expect_problem(both, 422, "media_conflict")


def test_the_cli_says_which_platforms_get_a_variant(
    stack: Stack, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`crosspost publish FILE --auto-fit`: refused without the flag before any upload; with
    it, each variant is announced and the post published everywhere."""
    monkeypatch.setenv("CROSSPOST_HOME", str(tmp_path / "cli-home"))
    monkeypatch.setenv("CROSSPOST_API_URL", stack.api_url)
    monkeypatch.setenv("CROSSPOST_API_KEY", stack.key)
    path = str(_banner_file(tmp_path))
    cli = CliRunner()
    refused = cli.invoke(app, ["publish", path, "--to", "x"], env={"COLUMNS": "200"})
    assert refused.exit_code != 0 and "aspect ratio" in refused.stderr, refused.output
    done = cli.invoke(
        app,
        ["publish", path, "--auto-fit", "--caption", "wide", "--to", "x", "--to", "youtube",
         "--timeout", "120"],
        env={"COLUMNS": "200"},
    )  # fmt: skip
    assert done.exit_code == 0, done.output
    assert "x: a 16:9 variant is rendered for it (aspect_ratio_not_allowed)" in done.stderr
    [post] = stack.http.get("/v1/posts").json()["data"]
    assert post["status"] == "published" and post["auto_fit"] is True
    assert [t["fit"] is not None for t in post["targets"]] == [p == "x" for p in ("x", "youtube")]
