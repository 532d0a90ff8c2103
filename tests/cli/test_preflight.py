"""`crosspost publish` checks what it can before uploading a byte — platforms, time and
daylight saving, options, the key's checksum, the file against each platform's limits —
and speaks of flags (`--tz`), not API fields (`timezone`) (issue 13, items 5 and 8).

The API URL points at a port nothing listens on: a check that passes reaches for the
network and exits 3; one that fails exits before, with its own code."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner, Result

from crosspost.cli import app
from crosspost.cli._common import ExitCode
from crosspost.cli.preflight import problem_lines
from crosspost.domain.enums import Mode
from crosspost.fakes.server import free_port
from crosspost.media.samples import make_audio, make_video
from crosspost.vault.apikeys import generate_key

KEY = generate_key(Mode.TEST)


@pytest.fixture
def clip(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A short video in the working folder, and an API nobody serves."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("CROSSPOST_API_URL", f"http://127.0.0.1:{free_port()}")
    monkeypatch.setenv("CROSSPOST_API_KEY", KEY)
    monkeypatch.setenv("CROSSPOST_HOME", str(tmp_path / "home"))
    return make_video(tmp_path / "clip.mp4", seconds=3.0)  # LinkedIn's shortest


def _publish(*args: str) -> Result:
    return CliRunner().invoke(app, ["publish", *args], env={"COLUMNS": "200"})


def _refused(result: Result, code: int, *words: str) -> None:
    assert result.exit_code == code, (result.exit_code, result.stderr)
    for word in words:
        assert word in result.stderr, result.stderr
    # Nothing reached for the network: no upload, no "cannot reach the API".
    assert "cannot reach" not in result.stderr and "uploading" not in result.stderr


@pytest.mark.parametrize(
    ("args", "words"),
    [
        (["--to", "youtub"], ["--to youtub: unknown platform 'youtub'; did you mean youtube?"]),
        (
            ["--to", "youtube", "--at", "2027-03-28T02:30", "--tz", "Europe/Paris"],
            ["--at 2027-03-28T02:30:00 does not exist in Europe/Paris", "03:00:00+02:00"],
        ),
        (
            ["--to", "youtube", "--at", "2027-10-31T02:30", "--tz", "Europe/Paris"],
            ["happens twice", "Pass --fold 0 for the first or --fold 1 for the second"],
        ),
        (["--to", "youtube", "--at", "2030-01-31T18:00"], ["--at has no UTC offset", "--tz"]),
        (["--to", "youtube", "--at", "2030-01-31T18:00", "--tz", "Paris"], ["--tz: unknown"]),
        (["--to", "youtube", "--at", "2020-01-01T00:00Z"], ["is in the past"]),
        (["--to", "youtube", "--at", "+2x"], ["+2h, +90m, +1h30m or +1d"]),
        (["--to", "youtube", "--tz", "Europe/Paris"], ["--tz applies to --at"]),
        (
            ["--to", "youtube", "--override", "youtube.titel=Hi"],
            ["--override youtube.titel: youtube has no option 'titel'; did you mean title?",
             "youtube takes: category_id"],
        ),
        (["--to", "youtube", "--override", "youtub.title=Hi"], ["did you mean youtube?"]),
        (["--to", "youtube", "--override", "title=Hi"], ["PLATFORM.OPTION=VALUE"]),
        (
            ["--to", "youtube", "--override", "youtube.privacy_status=secret"],
            ["--override youtube.privacy_status:", "'public', 'unlisted' or 'private'"],
        ),
        (
            ["--to", "youtube", "--override", "tiktok.disable_duet=true"],
            ["tiktok is not among --to; add --to tiktok"],
        ),
        (["--to", "tiktok", "--privacy", "unlisted"], ["--privacy unlisted: tiktok has no"]),
        (["--to", "x", "--title", "Hi"], ["--title: none of the targets (x) has such a setting"]),
        (["--to", "youtube", "--settings", "@nowhere.json"], ["--settings @nowhere.json: cannot"]),
        (["--to", "youtube", "--settings", "[1]"], ["give a JSON object of platforms"]),
    ],
)  # fmt: skip
def test_a_wrong_flag_costs_no_upload(clip: Path, args: list[str], words: list[str]) -> None:
    """Each mistake: exit 2 before any request, the message in flags' words."""
    result = _publish(str(clip), *args)
    _refused(result, ExitCode.USAGE, *words)
    for api_word in ("publish_at", "`timezone`", "overrides."):
        assert api_word not in result.stderr, result.stderr


def test_good_flags_pass_to_the_upload(clip: Path) -> None:
    """Right flags, and a number where text is wanted read as text (category 22): the checks
    pass and the command goes for the API (which nothing serves here: exit 3)."""
    result = _publish(
        str(clip), "--to", "youtube", "--to", "linkedin", "--title", "Hi", "--privacy",
        "public", "--override", "youtube.category_id=22", "--override",
        "youtube.tags=[\"a\", \"b\"]", "--settings", '{"youtube": {"made_for_kids": false}}',
        "--at", "+2h",
    )  # fmt: skip
    assert result.exit_code == ExitCode.UNAVAILABLE, result.stderr
    assert "cannot reach the API" in result.stderr


def test_a_mistyped_key_is_refused_before_the_upload(
    clip: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A key with a broken checksum: exit 4 before any upload, without the key in the
    message."""
    broken = KEY[:-1] + ("A" if KEY[-1] != "A" else "B")
    monkeypatch.setenv("CROSSPOST_API_KEY", broken)
    result = _publish(str(clip), "--to", "youtube")
    _refused(result, ExitCode.AUTH, "the API key is mistyped")
    assert broken not in result.stderr and broken[8:] not in result.stderr


def test_a_file_a_platform_refuses_is_never_uploaded(clip: Path, tmp_path: Path) -> None:
    """Audio to YouTube, a too-long text to X, nothing at all: refused here, naming the
    platform and what to change."""
    tone = make_audio(tmp_path / "tone.mp3", seconds=1.0)
    _refused(_publish(str(tone), "--to", "youtube"), ExitCode.ERROR, "youtube: YouTube's API")
    long_text = _publish("--caption", "word " * 80, "--to", "x")
    _refused(long_text, ExitCode.ERROR, "x: ", "shorten it")
    _refused(_publish("--to", "x"), ExitCode.USAGE, "nothing to publish")


def test_the_servers_problems_are_told_in_flags() -> None:
    """A problem the server found (its fields named the API's way) is printed with the
    flags that set them."""
    problem = {
        "code": "validation_error",
        "detail": "publish_at has no UTC offset; add one or give `timezone`",
        "errors": [
            {"field": "overrides.youtube.titel", "message": "overrides.youtube.titel is unknown"},
            {"field": "timezone", "message": "too long"},
        ],
    }
    lines = problem_lines(problem)
    assert lines[0] == "--at has no UTC offset; add one or give --tz (validation_error)"
    assert lines[1] == "  --override youtube.titel: --override youtube.titel is unknown"
    assert lines[2] == "  --tz: too long"
    assert json.dumps(lines).count("overrides.") == 0
