"""`crosspost publish` against a real `serve --sandbox`, with the fakes' faults over real
HTTP: it follows the post as it goes, stops on a state that needs the user and says what
to do, exits with a distinct code for each ending, and never spends a free key's budget
polling (issue 13, items 2 and 3)."""

from __future__ import annotations

import json
import os
import pty
import re
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from crosspost.cli._common import ExitCode
from crosspost.cli.follow import STREAM_RECHECK
from crosspost.fakes.server import free_port
from crosspost.media.samples import make_video
from tests.relay import relay
from tests.served import Served, clean_env, run_cli, servers

STREAM = "/v1/events/stream"

# One worker runs the module, so its served sandbox (a module fixture) starts once.
pytestmark = [pytest.mark.slow, pytest.mark.xdist_group("test_publish_outcomes")]


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Served, dict[str, str]]]:
    """One served sandbox for the module, and the environment of a test key on it."""
    tmp = tmp_path_factory.mktemp("publish")
    with servers(tmp) as start:
        served = start(clean_env(CROSSPOST_HOME=str(tmp / "home")), tmp)
        made = run_cli(served.env, "keys", "create", "--name", "demo", cwd=tmp)
        assert made.returncode == 0, made.stderr
        env = {
            **served.env,
            "CROSSPOST_API_KEY": made.stdout.strip(),
            "CROSSPOST_API_URL": served.url,
        }
        make_video(tmp / "clip.mp4", seconds=1.0)
        yield served, env


@pytest.fixture
def served(site: tuple[Served, dict[str, str]]) -> Iterator[Served]:
    """The module's server, its fakes' faults cleared before and after the test."""
    server = site[0]
    for platform in ("youtube", "tiktok", "x"):
        httpx.delete(f"{server.fakes_url}/{platform}/_fake/faults").raise_for_status()
    yield server
    for platform in ("youtube", "tiktok", "x"):
        httpx.delete(f"{server.fakes_url}/{platform}/_fake/faults").raise_for_status()


@pytest.fixture
def env(site: tuple[Served, dict[str, str]], served: Served) -> dict[str, str]:
    """The test key's environment."""
    return site[1]


def _publish(env: dict[str, str], cwd: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return run_cli(env, "publish", *args, cwd=cwd)


def test_published_exits_0_and_prints_each_change(
    env: dict[str, str], served: Served, tmp_path: Path
) -> None:
    """Two targets published: exit 0, one progress line per change on stderr (not a
    terminal), the final table on stdout."""
    done = _publish(env, served.cwd, "clip.mp4", "--to", "youtube", "--to", "tiktok")
    assert done.returncode == ExitCode.OK, done.stderr
    assert re.search(r"\d\d:\d\d:\d\d youtube: queued", done.stderr), done.stderr
    assert re.search(r"youtube: published https://\S+ \(sandbox\)", done.stderr), done.stderr
    assert done.stdout.count("published") >= 3


def test_failed_and_partially_published_exit_10_and_11(env: dict[str, str], served: Served) -> None:
    """A platform that fails the video: alone, exit 10; beside one that publishes, 11; both
    with the platform's reason and where to read every step."""
    served.fake("tiktok", "faults", json={"processing_fail_rate": 1.0})
    failed = _publish(env, served.cwd, "clip.mp4", "--to", "tiktok")
    assert failed.returncode == ExitCode.FAILED, failed.stderr
    assert "tiktok failed (" in failed.stderr and "`crosspost ledger post_" in failed.stderr
    partial = _publish(env, served.cwd, "clip.mp4", "--to", "youtube", "--to", "tiktok")
    assert partial.returncode == ExitCode.PARTIAL, partial.stderr
    assert "partially_published" in partial.stdout


def test_a_quota_day_stops_with_when_it_resumes(env: dict[str, str], served: Served) -> None:
    """YouTube's quota spent: no ten minutes of silence, but exit 12 at once with the time
    the target resumes and how to follow it there."""
    served.fake("youtube", "faults", json={"quota_exhausted": True})
    started = time.monotonic()
    waiting = _publish(env, served.cwd, "clip.mp4", "--to", "youtube")
    assert waiting.returncode == ExitCode.ATTENTION, waiting.stderr
    assert time.monotonic() - started < 60
    assert re.search(r"youtube waiting until \d{4}-\d\d-\d\d \d\d:\d\d", waiting.stderr)
    assert "--watch --wait` follows it there" in waiting.stderr


def test_needs_reauth_stops_with_the_command_that_fixes_it(
    env: dict[str, str], served: Served
) -> None:
    """The platform forgot the account's tokens: exit 12 and `crosspost accounts connect x`;
    `status --watch` on the same post says the same with the same code."""
    httpx.post(f"{served.fakes_url}/x/_fake/reset").raise_for_status()
    stuck = _publish(env, served.cwd, "--caption", "hello", "--to", "x")
    assert stuck.returncode == ExitCode.ATTENTION, stuck.stderr
    assert "x needs_reauth — run `crosspost accounts connect x`" in stuck.stderr
    post_id = re.search(r"post (post_\w+)", stuck.stderr)
    assert post_id, stuck.stderr
    watched = run_cli(env, "status", post_id.group(1), "--watch", cwd=served.cwd)
    assert watched.returncode == ExitCode.ATTENTION
    assert "crosspost accounts connect x" in watched.stderr
    plain = run_cli(env, "status", post_id.group(1), cwd=served.cwd)
    assert plain.returncode == 0  # showing is not following


def test_timeout_exits_13_and_the_post_goes_on(env: dict[str, str], served: Served) -> None:
    """Slow processing past --timeout: exit 13, "still publishing"; --no-wait returns at
    once with the post created."""
    served.fake("youtube", "faults", json={"processing_seconds": 30})
    slow = _publish(env, served.cwd, "clip.mp4", "--to", "youtube", "--timeout", "2")
    assert slow.returncode == ExitCode.TIMEOUT, slow.stderr
    assert "still publishing after 2 s; `crosspost status post_" in slow.stderr
    detached = _publish(env, served.cwd, "clip.mp4", "--to", "youtube", "--detach", "--json")
    assert detached.returncode == 0, detached.stderr
    assert json.loads(detached.stdout)["status"] == "publishing"


def test_ctrl_c_while_following_says_it_goes_on(env: dict[str, str], served: Served) -> None:
    """SIGINT while following: exit 130, "still publishing" with the command to look again,
    no traceback."""
    served.fake("youtube", "faults", json={"processing_seconds": 30})
    proc = subprocess.Popen(
        [sys.executable, "-m", "crosspost", "publish", "clip.mp4", "--to", "youtube"],
        env=env, cwd=served.cwd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    assert proc.stderr is not None
    seen = ""
    deadline = time.monotonic() + 60
    while "youtube: publishing" not in seen:  # following, past the upload
        assert time.monotonic() < deadline and proc.poll() is None, seen
        seen += proc.stderr.readline()
    proc.send_signal(signal.SIGINT)
    _, rest = proc.communicate(timeout=30)
    assert proc.returncode == ExitCode.INTERRUPTED, seen + rest
    assert "still publishing; `crosspost status post_" in rest
    assert "Traceback" not in rest and "KeyboardInterrupt" not in rest


def test_api_errors_have_their_own_codes(env: dict[str, str], served: Served) -> None:
    """Refused (404): 1; an unknown key: 4; nothing listening: 3."""
    missing = run_cli(env, "status", "post_nope", cwd=served.cwd)
    assert missing.returncode == ExitCode.ERROR and "not_found" in missing.stderr
    from crosspost.domain.enums import Mode
    from crosspost.vault.apikeys import generate_key

    stranger = {**env, "CROSSPOST_API_KEY": generate_key(Mode.TEST)}
    refused = run_cli(stranger, "status", "post_nope", cwd=served.cwd)
    assert refused.returncode == ExitCode.AUTH, refused.stderr
    nobody = {**env, "CROSSPOST_API_URL": f"http://127.0.0.1:{free_port()}"}
    down = run_cli(nobody, "status", "post_nope", cwd=served.cwd)
    assert down.returncode == ExitCode.UNAVAILABLE and "cannot reach the API" in down.stderr


def test_a_free_key_is_not_spent_on_polling(
    site: tuple[Served, dict[str, str]], served: Served
) -> None:
    """A `free` key (15 requests at once, 10 an hour): polling a slow post (a server without
    the event stream) slows down to the limit's pace once half the burst is gone, says so,
    and leaves the rest; following the stream spends a handful, however long it takes."""
    served.fake("youtube", "faults", json={"processing_seconds": 30})
    left = {}
    for name, missing in (("polling", frozenset({STREAM})), ("stream", frozenset())):
        made = run_cli(served.env, "keys", "create", "--name", "free", "--tier", "free",
                       cwd=served.cwd)  # fmt: skip
        key = made.stdout.strip()
        with relay(served.url, missing=missing) as front:
            env = {**site[1], "CROSSPOST_API_KEY": key, "CROSSPOST_API_URL": front.url}
            slow = _publish(env, served.cwd, "clip.mp4", "--to", "youtube", "--timeout", "20")
        assert slow.returncode == ExitCode.TIMEOUT, slow.stderr
        slowed = "rate limit has" in slow.stderr and "checking every 360 s" in slow.stderr
        assert slowed is (name == "polling"), slow.stderr
        answer = httpx.get(f"{served.url}/v1/posts", headers={"Authorization": f"Bearer {key}"})
        left[name] = int(answer.headers["X-RateLimit-Remaining"])
    # The stream: validate, upload, create, the stream, a read at the start, one while it
    # uploads and one at the timeout; polling: as many as half the burst allows, plus one.
    assert left["polling"] >= 5 and left["stream"] > left["polling"], left


def test_on_a_terminal_a_live_table_follows_the_post(env: dict[str, str], served: Served) -> None:
    """On a terminal the follower redraws a table in place (with the upload bar), then the
    final table stays: exit 0."""
    served.fake("youtube", "faults", json={"processing_seconds": 1.5})
    leader, follower = pty.openpty()
    proc = subprocess.Popen(
        [sys.executable, "-m", "crosspost", "publish", "clip.mp4", "--to", "youtube"],
        env={**env, "COLUMNS": "120"}, cwd=served.cwd, stdout=follower, stderr=follower,
    )  # fmt: skip
    os.close(follower)
    chunks = []
    while True:
        try:
            data = os.read(leader, 4096)
        except OSError:  # the terminal closed: the process is done
            break
        if not data:
            break
        chunks.append(data)
    assert proc.wait(timeout=60) == ExitCode.OK
    os.close(leader)
    screen = b"".join(chunks).decode(errors="replace")
    assert "following post_" in screen and "youtube  publishing" in screen, screen
    assert "\x1b[" in screen  # drawn in place: cursor moves
    assert re.search(r"youtube\s+published", screen), screen


def test_following_the_event_stream_costs_a_few_calls(env: dict[str, str], served: Served) -> None:
    """The same slow publish followed on the event stream and, against a server without
    it (404: an older crosspost), by polling: the same ending and exit code, and the
    stream's follow makes a few requests however long the platform takes, far fewer than
    polling."""
    served.fake("youtube", "faults", json={"processing_seconds": 12})
    counts = {}
    for name, missing in (("stream", frozenset()), ("polling", frozenset({STREAM}))):
        with relay(served.url, missing=missing) as front:
            done = _publish({**env, "CROSSPOST_API_URL": front.url}, served.cwd, "clip.mp4",
                            "--to", "youtube")  # fmt: skip
            assert done.returncode == ExitCode.OK, done.stderr
            assert re.search(r"youtube: published https://\S+ \(sandbox\)", done.stderr)
            counts[name] = front.count("GET", "/v1/posts/post_")
            assert front.count("GET", STREAM) == 1  # once, then the stream was given up
    # 12 s of processing: polling reads at least 8 times (0.5 s, growing to 5 s); the stream
    # reads the post when it starts, while it uploads, and once it is over.
    assert counts["stream"] <= 4 and counts["polling"] >= 2 * counts["stream"], counts


def test_the_stream_ends_the_follow_on_waiting_and_needs_reauth(
    env: dict[str, str], served: Served
) -> None:
    """target.waiting (a quota day) and target.needs_reauth end a stream-followed publish at
    once, with the same words and exit code as polling — not at the next safety read a
    minute later — after a read or two of the post."""
    served.fake("youtube", "faults", json={"quota_exhausted": True})
    httpx.post(f"{served.fakes_url}/x/_fake/reset").raise_for_status()
    cases = (
        (("clip.mp4", "--to", "youtube"), "youtube waiting until"),
        (("--caption", "again", "--to", "x"), "x needs_reauth — run `crosspost accounts connect"),
    )
    for args, words in cases:
        with relay(served.url) as front:
            started = time.monotonic()
            stuck = _publish({**env, "CROSSPOST_API_URL": front.url}, served.cwd, *args)
            assert time.monotonic() - started < STREAM_RECHECK / 2
            assert stuck.returncode == ExitCode.ATTENTION, stuck.stderr
            assert words in stuck.stderr
            # No stream at all when the first read already finds the target stuck (a busy
            # machine's CLI starts late); never a second one, never a read loop.
            assert front.count("GET", STREAM) <= 1 and front.count("GET", "/v1/posts/post_") <= 4
