"""The clip studio over real HTTP: projects and their sources, attached transcripts, clips
made by hand and adjusted, and highlight detection as a job (`/v1/jobs`) whose clips join
the project, on SQLite and PostgreSQL (and the highlight job on S3 too)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import httpx
import pytest

from crosspost.studio.highlight_samples import make_highlight_source
from tests.e2e.conftest import Stack, expect_problem

VTT = b"""WEBVTT

00:00:01.000 --> 00:00:03.000
welcome to the launch

00:00:20.000 --> 00:00:24.000
here is the goal of the year
"""


@pytest.fixture(scope="module")
def source_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A 40 s source with a loud burst from 20 s to 27 s and cuts around it."""
    folder = tmp_path_factory.mktemp("studio")
    return make_highlight_source(
        folder / "stream.mp4", seconds=40, loud=((20.0, 27.0),), cuts=(21.0, 23.0, 25.0)
    )


def _upload(stack: Stack, path: Path) -> dict[str, Any]:
    answer = stack.http.post(
        "/v1/media",
        content=path.read_bytes(),
        headers={"Content-Type": "video/mp4", "X-Filename": path.name},
    )
    assert answer.status_code == 201, answer.text
    return dict(answer.json())


def _project(stack: Stack, *media_ids: str, name: str = "Launch") -> dict[str, Any]:
    answer = stack.http.post(
        "/v1/projects", json={"name": name, "source_media_ids": list(media_ids)}
    )
    assert answer.status_code == 201, answer.text
    return dict(answer.json())


def test_a_project_holds_sources_and_answers_like_any_resource(
    stack: Stack, source_file: Path
) -> None:
    video = _upload(stack, source_file)
    project = _project(stack, video["id"])
    assert project["name"] == "Launch" and project["clips"] == 0
    assert [s["media_id"] for s in project["sources"]] == [video["id"]]
    assert project["sources"][0]["duration_seconds"] == pytest.approx(40, abs=0.2)
    assert project["sources"][0]["transcript"] is None
    shown = stack.http.get(f"/v1/projects/{project['id']}").json()
    assert shown == project
    renamed = stack.http.patch(f"/v1/projects/{project['id']}", json={"name": "Keynote"})
    assert renamed.status_code == 200 and renamed.json()["name"] == "Keynote"
    page = stack.http.get("/v1/projects", params={"limit": 1}).json()
    assert [p["id"] for p in page["data"]] == [project["id"]]
    assert stack.http.delete(f"/v1/projects/{project['id']}").status_code == 204
    expect_problem(stack.http.get(f"/v1/projects/{project['id']}"), 404, "project_not_found")
    assert stack.http.get(f"/v1/media/{video['id']}").status_code == 200  # the media stays


def test_bad_projects_and_sources_are_refused_with_what_to_change(
    stack: Stack, source_file: Path, tmp_path: Path
) -> None:
    video = _upload(stack, source_file)
    expect_problem(stack.http.post("/v1/projects", json={"name": ""}), 422)
    expect_problem(stack.http.post("/v1/projects", json={"name": "x", "color": "red"}), 422)
    body = expect_problem(
        stack.http.post("/v1/projects", json={"name": "x", "source_media_ids": ["med_missing"]}),
        422,
        "media_not_found",
    )
    assert "upload it first" in body["detail"]
    expect_problem(
        stack.http.post(
            "/v1/projects", json={"name": "x", "source_media_ids": [video["id"], video["id"]]}
        ),
        422,
        "duplicate_source",
    )
    expect_problem(
        stack.http.post("/v1/projects", json={"name": "x", "brand_kit_id": "bk_nope"}),
        422,
        "brand_kit_not_found",
    )
    project = _project(stack)
    added = stack.http.post(f"/v1/projects/{project['id']}/sources", json={"media_id": video["id"]})
    assert added.status_code == 201, added.text
    expect_problem(
        stack.http.post(f"/v1/projects/{project['id']}/sources", json={"media_id": video["id"]}),
        409,
        "duplicate_source",
    )
    image = stack.http.post(
        "/v1/media",
        content=b"\x89PNG\r\n\x1a\n" + bytes(100),
        headers={"Content-Type": "image/png"},
    )
    if image.status_code == 201:  # a PNG our probe reads; else the upload itself refused it
        expect_problem(
            stack.http.post(
                f"/v1/projects/{project['id']}/sources", json={"media_id": image.json()["id"]}
            ),
            422,
        )
    expect_problem(
        stack.http.post("/v1/projects/prj_nope/sources", json={"media_id": video["id"]}),
        404,
        "project_not_found",
    )


def test_a_transcript_is_attached_read_back_and_refused_when_broken(
    stack: Stack, source_file: Path
) -> None:
    video = _upload(stack, source_file)
    project = _project(stack, video["id"])
    url = f"/v1/projects/{project['id']}/sources/{video['id']}/transcript"
    expect_problem(stack.http.get(url), 422, "no_transcript")
    attached = stack.http.put(url, content=VTT, headers={"Content-Type": "text/vtt"})
    assert attached.status_code == 200, attached.text
    assert attached.json()["segments"] == 2
    srt = stack.http.get(url, params={"format": "srt"})
    assert srt.headers["content-type"].startswith("application/x-subrip")
    assert "here is the goal of the year" in srt.text
    data = stack.http.get(url).json()
    assert [s["text"] for s in data["segments"]] == [
        "welcome to the launch",
        "here is the goal of the year",
    ]
    shown = stack.http.get(f"/v1/projects/{project['id']}").json()["sources"][0]
    assert (shown["transcript"], shown["transcript_segments"]) == ("attached", 2)
    broken = stack.http.put(
        url, content=b"WEBVTT\n\nnot a timing\nhello\n", headers={"Content-Type": "text/vtt"}
    )
    assert broken.status_code == 422 and broken.json()["code"].startswith("transcript_")
    expect_problem(stack.http.put(url, content=VTT, headers={"Content-Type": "image/png"}), 415)
    assert stack.http.get(url).json()["segments"][0]["text"] == "welcome to the launch"


def test_clips_made_by_hand_stay_within_their_source(stack: Stack, source_file: Path) -> None:
    video = _upload(stack, source_file)
    project = _project(stack, video["id"])
    clips_url = f"/v1/projects/{project['id']}/clips"
    made = stack.http.post(
        clips_url,
        json={"media_id": video["id"], "start_seconds": 5, "end_seconds": 15, "title": "intro"},
    )
    assert made.status_code == 201, made.text
    clip = made.json()
    assert (clip["origin"], clip["duration_seconds"], clip["score"]) == ("manual", 10.0, None)
    moved = stack.http.patch(f"/v1/clips/{clip['id']}", json={"end_seconds": 20})
    assert moved.status_code == 200 and moved.json()["duration_seconds"] == 15.0
    for bad, code in (
        ({"end_seconds": 4}, "invalid_clip_bounds"),
        ({"end_seconds": 80}, "clip_outside_source"),
        ({"start_seconds": None}, "invalid_clip_bounds"),
        ({"start_seconds": 19.5}, "invalid_clip_length"),
    ):
        expect_problem(stack.http.patch(f"/v1/clips/{clip['id']}", json=bad), 422, code)
    assert stack.http.get(f"/v1/clips/{clip['id']}").json()["end_seconds"] == 20.0
    expect_problem(
        stack.http.post(
            clips_url, json={"media_id": "med_other", "start_seconds": 0, "end_seconds": 5}
        ),
        404,
        "source_not_found",
    )
    listed = stack.http.get(clips_url).json()["data"]
    assert [c["id"] for c in listed] == [clip["id"]]
    assert stack.http.delete(f"/v1/clips/{clip['id']}").status_code == 204
    expect_problem(stack.http.get(f"/v1/clips/{clip['id']}"), 404, "clip_not_found")


def test_highlight_detection_is_a_job_whose_clips_join_the_project(
    stack: Stack, source_file: Path
) -> None:
    """The loud, busy stretch is found, with reasons; the job reports progress in seconds
    and ends with the clips it added."""
    video = _upload(stack, source_file)
    project = _project(stack, video["id"])
    url = f"/v1/projects/{project['id']}/transcript"
    started = stack.http.post(
        f"/v1/projects/{project['id']}/highlights",
        json={"min_seconds": 5, "max_seconds": 12, "count": 2},
    )
    assert started.status_code == 202, started.text
    job = started.json()
    assert (job["kind"], job["subject_id"], job["status"]) == (
        "highlights",
        project["id"],
        "queued",
    )
    assert job["progress"]["total"] == pytest.approx(40, abs=0.2) and url
    ended = stack.wait_job(job["id"])
    assert ended["status"] == "succeeded", ended
    assert ended["progress"]["done"] == ended["progress"]["total"]
    clips = stack.http.get(f"/v1/projects/{project['id']}/clips").json()["data"]
    assert sorted(c["id"] for c in clips) == sorted(ended["result"]["clip_ids"])
    assert clips and all(
        c["origin"] == "detected" and 5 <= c["duration_seconds"] <= 12.01 for c in clips
    )
    best = max(clips, key=lambda c: c["score"])
    assert best["start_seconds"] < 27 and best["end_seconds"] > 20, best
    assert any("loudness" in reason for reason in best["reasons"]), best
    listed = stack.http.get("/v1/jobs", params={"subject_id": project["id"]}).json()["data"]
    assert [j["id"] for j in listed] == [job["id"]]
    usage = stack.http.get("/v1/usage").json()["tenant"]
    assert usage["processing_minutes"] == pytest.approx(40 / 60, abs=0.02)  # minutes scanned


def test_highlight_requests_that_cannot_run_are_refused(stack: Stack, source_file: Path) -> None:
    empty = _project(stack)
    expect_problem(
        stack.http.post(f"/v1/projects/{empty['id']}/highlights", json={}), 422, "no_sources"
    )
    video = _upload(stack, source_file)
    project = _project(stack, video["id"])
    url = f"/v1/projects/{project['id']}/highlights"
    expect_problem(stack.http.post(url, json={"min_seconds": 30, "max_seconds": 10}), 422)
    expect_problem(stack.http.post(url, json={"count": 0}), 422)
    expect_problem(stack.http.post(url, json={"media_id": "med_x"}), 404, "source_not_found")
    expect_problem(stack.http.get("/v1/jobs/job_nope"), 404, "job_not_found")


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
        timeout=180,
        check=False,
    )


def test_the_cli_makes_a_project_finds_highlights_and_attaches_a_transcript(
    stack: Stack, source_file: Path, tmp_path: Path
) -> None:
    """`crosspost projects create` prints the id; `crosspost highlights` waits for the job
    and prints the clips it found (as JSON with --json); a bad project exits 1 saying why."""
    video = _upload(stack, source_file)
    made = _cli(stack, "projects", "create", "From the CLI", "--source", video["id"])
    assert made.returncode == 0, made.stderr
    project_id = made.stdout.strip()
    assert stack.http.get(f"/v1/projects/{project_id}").json()["name"] == "From the CLI"
    vtt = tmp_path / "talk.vtt"
    vtt.write_bytes(VTT)
    attached = _cli(stack, "projects", "transcript", project_id, video["id"], str(vtt))
    assert attached.returncode == 0, attached.stderr
    found = _cli(
        stack, "highlights", project_id, "--min", "5", "--max", "12", "--count", "2", "--json"
    )
    assert found.returncode == 0, found.stderr
    clips = json.loads(found.stdout)
    api_clips = stack.http.get(f"/v1/projects/{project_id}/clips").json()["data"]
    assert clips and sorted(c["id"] for c in clips) == sorted(c["id"] for c in api_clips)
    missing = _cli(stack, "highlights", "prj_missing")
    assert missing.returncode == 1 and "project" in missing.stderr


def test_a_source_is_transcribed_through_the_transcription_api(
    stack: Stack, source_file: Path
) -> None:
    """A test key's transcription goes to the sandbox's OpenAI-compatible fake; what it
    hears (here scripted) becomes the source's transcript, with word timings."""
    video = _upload(stack, source_file)
    project = _project(stack, video["id"])
    script = {
        "segments": [
            {
                "start": 20.5,
                "end": 23.0,
                "text": "what a goal",
                "words": [
                    {"word": "what", "start": 20.5, "end": 21.0},
                    {"word": "a", "start": 21.0, "end": 21.2},
                    {"word": "goal", "start": 21.2, "end": 23.0},
                ],
            }
        ],
        "language": "english",
    }
    scripted = httpx.post(f"{stack.fakes_url}/openai/_fake/script", json=script, timeout=30)
    assert scripted.status_code < 300, scripted.text
    url = f"/v1/projects/{project['id']}/sources/{video['id']}/transcribe"
    started = stack.http.post(url, json={"language": "en"})
    assert started.status_code == 202, started.text
    ended = stack.wait_job(started.json()["id"])
    assert ended["status"] == "succeeded", ended
    assert ended["kind"] == "transcription" and ended["result"]["segments"] == 1
    kept = stack.http.get(f"/v1/projects/{project['id']}/sources/{video['id']}/transcript")
    segment = kept.json()["segments"][0]
    assert segment["text"] == "what a goal" and segment["words"][2] == [21.2, 23.0, "goal"]
    shown = stack.http.get(f"/v1/projects/{project['id']}").json()["sources"][0]
    assert shown["transcript"] == "transcribed"
    expect_problem(stack.http.post(url, json={"language": "not a tag!"}), 422)
    expect_problem(
        stack.http.post(f"/v1/projects/{project['id']}/sources/med_x/transcribe"),
        404,
        "source_not_found",
    )
