"""Seed 000's whole path from the command line, as a sandbox user walks it: a long video
uploaded (direct upload), a project, highlights found, a clip rendered vertical and branded,
and the render published on three platforms, on local disk and on S3, SQLite and
PostgreSQL."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from crosspost.media.samples import make_image
from crosspost.studio.highlight_samples import make_highlight_source
from tests.e2e.conftest import Stack


@pytest.fixture
def stack(make_stack: Callable[..., Stack]) -> Stack:
    """As `crosspost serve` runs: with a webhook dispatcher, which numbers the events the
    CLI's `publish` follows."""
    return make_stack(dispatcher=True)


def _cli(stack: Stack, *args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("CROSSPOST_")} | {
        "CROSSPOST_API_URL": stack.api_url,
        "CROSSPOST_API_KEY": stack.key,
    }
    return subprocess.run(
        [sys.executable, "-m", "crosspost", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )


def _ok(done: subprocess.CompletedProcess[str]) -> str:
    assert done.returncode == 0, done.stderr
    return done.stdout.strip()


def test_from_a_long_video_to_a_branded_vertical_clip_on_three_platforms(
    stack: Stack, tmp_path: Path
) -> None:
    source = make_highlight_source(
        tmp_path / "stream.mp4", seconds=45, loud=((24.0, 31.0),), cuts=(25.0, 27.0, 29.0)
    )
    logo = make_image(tmp_path / "logo.png", width=64, height=64)
    media_id = _ok(_cli(stack, "upload", str(source), "-q"))
    logo_id = _ok(_cli(stack, "upload", str(logo), "-q"))
    kit = json.loads(
        _ok(_cli(stack, "brand-kits", "create", "--name", "Launch", "--logo", logo_id, "--json"))
    )
    project_id = _ok(
        _cli(
            stack,
            "projects",
            "create",
            "Launch stream",
            "--source",
            media_id,
            "--brand-kit",
            kit["id"],
        )
    )
    found = _cli(
        stack, "highlights", project_id, "--min", "5", "--max", "10", "--count", "1", "--json"
    )
    clips: list[dict[str, Any]] = json.loads(_ok(found))
    assert len(clips) == 1 and clips[0]["end_seconds"] > 24 and clips[0]["start_seconds"] < 31
    render_id = _ok(_cli(stack, "render", clips[0]["id"], "--preset", "tiktok", "-q"))
    render = stack.http.get(f"/v1/renders/{render_id}").json()
    assert render["status"] == "ready" and render["spec"]["aspect"] == "9:16"
    assert render["spec"]["brand_kit_id"] == kit["id"]
    output = render["output"]
    assert output["height"] > output["width"]  # vertical
    published = _cli(
        stack,
        "publish",
        "--render",
        render_id,
        "--caption",
        "the best bit",
        "--to",
        "youtube",
        "--to",
        "tiktok",
        "--to",
        "x",
        "--json",
    )
    post = json.loads(_ok(published))
    assert post["status"] == "published", post
    assert post["media_id"] == output["media_id"]
    assert sorted(t["platform"] for t in post["targets"]) == ["tiktok", "x", "youtube"]
    assert all(t["status"] == "published" for t in post["targets"])
    not_ready = _cli(stack, "publish", "--render", "rnd_missing", "--to", "x")
    assert not_ready.returncode != 0 and "render" in not_ready.stderr.lower()


@pytest.fixture
def media_store(media_store_url: str | None) -> str | None:
    """This path runs on local disk and on S3 (a real S3-compatible server over HTTP)."""
    return media_store_url
