"""`crosspost webhooks listen`, `trigger` and `event-types` as real processes against a
served sandbox: events shown as they happen, one line each or one JSON object a line;
forwarded, signed, to a receiver that a Standard Webhooks library verifies, a redirect
answered but not followed; resumed across a server restart without a gap or a repeat; a
typo answered with the nearest type; Ctrl-C and SIGTERM end it with status 0 (issue 13)."""

from __future__ import annotations

import json
import queue
import re
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import IO

import httpx
import pytest
from standardwebhooks.webhooks import Webhook
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import PlainTextResponse, RedirectResponse, Response
from starlette.routing import Route

from crosspost.cli._common import ExitCode
from crosspost.fakes.server import RunningServer, free_port, serve_in_thread
from crosspost.media.samples import make_video
from tests.relay import relay
from tests.served import Served, clean_env, run_cli, servers

# One worker runs the module, so its served sandbox (a module fixture) starts once.
pytestmark = [pytest.mark.slow, pytest.mark.xdist_group("test_listen")]

LINE = re.compile(r"(\d{4}-\d\d-\d\d \d\d:\d\d:\d\d)  (\S+)  (msg_\w+)  (.*)")
WAIT = 30.0


def _pump(stream: IO[str], into: queue.SimpleQueue[str]) -> None:
    for line in stream:
        into.put(line.rstrip("\n"))


class Listening:
    """`crosspost webhooks listen ARGS` running; its stdout and stderr read line by line."""

    def __init__(self, env: dict[str, str], cwd: Path, *args: str) -> None:
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "crosspost", "webhooks", "listen", *args],
            env=env, cwd=cwd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        )  # fmt: skip
        self.out: queue.SimpleQueue[str] = queue.SimpleQueue()
        self.err: queue.SimpleQueue[str] = queue.SimpleQueue()
        self.stdout: list[str] = []
        self.stderr: list[str] = []
        for stream, into in ((self.proc.stdout, self.out), (self.proc.stderr, self.err)):
            assert stream is not None
            threading.Thread(target=_pump, args=(stream, into), daemon=True).start()

    def _until(
        self, source: queue.SimpleQueue[str], seen: list[str], done: Callable[[str], bool]
    ) -> str:
        deadline = time.monotonic() + WAIT
        while True:
            left = deadline - time.monotonic()
            if left <= 0 or (self.proc.poll() is not None and source.empty()):
                pytest.fail(f"listen never said it; out: {self.stdout} err: {self.stderr}")
            try:
                line = source.get(timeout=min(left, 0.5))
            except queue.Empty:
                continue
            seen.append(line)
            if done(line):
                return line

    def said(self, words: str) -> str:
        """Wait for a line on stderr holding `words`."""
        return self._until(self.err, self.stderr, lambda line: words in line)

    def printed(self, done: Callable[[str], bool]) -> str:
        """Wait for a line on stdout for which `done` holds."""
        return self._until(self.out, self.stdout, done)

    def stop(self, sig: int = signal.SIGINT) -> tuple[int, str]:
        """Signal it; its exit status and the rest of stderr."""
        self.proc.send_signal(sig)
        code = self.proc.wait(timeout=WAIT)
        time.sleep(0)  # the pumps drain what is left once the pipes close
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline and not self.err.empty():
            self.stderr.append(self.err.get())
        return code, "\n".join(self.stderr)

    def kill(self) -> None:
        """Make sure it is gone."""
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Served, dict[str, str]]]:
    """One served sandbox for the module, and the environment of a test key on it."""
    tmp = tmp_path_factory.mktemp("listen")
    with servers(tmp) as start:
        served = start(clean_env(CROSSPOST_HOME=str(tmp / "home")), tmp)
        made = run_cli(served.env, "keys", "create", "--name", "listen", cwd=tmp)
        env = {**served.env, "CROSSPOST_API_KEY": made.stdout.strip(),
               "CROSSPOST_API_URL": served.url}  # fmt: skip
        make_video(tmp / "clip.mp4", seconds=1.0)
        yield served, env


@pytest.fixture
def listening(site: tuple[Served, dict[str, str]]) -> Iterator[Callable[..., Listening]]:
    """Starts listens in the module's sandbox; kills any left at the end."""
    started: list[Listening] = []

    def start(*args: str, env: dict[str, str] | None = None) -> Listening:
        one = Listening(env or site[1], site[0].cwd, *args)
        started.append(one)
        return one

    yield start
    for one in started:
        one.kill()


def _bearer(env: dict[str, str]) -> dict[str, str]:
    return {"Authorization": f"Bearer {env['CROSSPOST_API_KEY']}"}


def _trigger(env: dict[str, str], cwd: Path, event_type: str) -> str:
    done = run_cli(env, "webhooks", "trigger", event_type, "-q", cwd=cwd)
    assert done.returncode == 0, done.stderr
    return done.stdout.strip()


def test_listen_shows_a_posts_events_as_they_happen(
    site: tuple[Served, dict[str, str]], listening: Callable[..., Listening]
) -> None:
    """A listen started before a publish prints post.created while the post still
    publishes, then each target event and post.published: one line each with the date and
    time, the type, the event id and a summary (the URL marked sandbox). Ctrl-C: exit 0,
    how many events and where to resume, no traceback."""
    served, env = site
    served.fake("youtube", "faults", json={"processing_seconds": 3})
    try:
        listen = listening()
        listen.said("Ready!")
        made = run_cli(env, "publish", "clip.mp4", "--to", "youtube", "--detach", "-q",
                       cwd=served.cwd)  # fmt: skip
        post_id = made.stdout.strip()
        listen.printed(lambda line: "post.created" in line and post_id in line)
        status = httpx.get(f"{served.url}/v1/posts/{post_id}", headers=_bearer(env))
        assert status.json()["status"] == "publishing"  # shown as it happened, not after
        listen.printed(lambda line: "post.published" in line and post_id in line)
    finally:
        served.fake("youtube", "faults", json={"processing_seconds": 0})
    lines = [m for line in listen.stdout if (m := LINE.fullmatch(line)) and post_id in line]
    types = [m.group(2) for m in lines]
    assert types[0] == "post.created" and types[-1] == "post.published", listen.stdout
    assert "target.uploading" in types and "target.published" in types
    published = next(m.group(4) for m in lines if m.group(2) == "target.published")
    assert re.search(r"youtube published \(post_\w+\) https://\S+ \(sandbox\)", published)
    code, err = listen.stop(signal.SIGINT)
    assert code == ExitCode.OK, err
    last = lines[-1].group(3)
    assert f"stopped after {len(listen.stdout)} event(s); " in err
    assert f"`crosspost webhooks listen --after {last}` resumes" in err
    assert "Traceback" not in err and "KeyboardInterrupt" not in err


def test_json_lines_parse_and_sigterm_ends_it(
    site: tuple[Served, dict[str, str]], listening: Callable[..., Listening]
) -> None:
    """--json --post: one JSON object a line, from the post's first event (the feed's own
    ids, in its order), nothing else on stdout; SIGTERM ends it with status 0; -q prints
    the ids alone."""
    served, env = site
    done = run_cli(env, "publish", "--caption", f"json {time.time()}", "--to", "linkedin",
                   "-q", cwd=served.cwd)  # fmt: skip
    assert done.returncode == 0, done.stderr
    post_id = done.stdout.strip()
    listen = listening("--post", post_id, "--json")
    listen.printed(lambda line: '"post.published"' in line)
    events = [json.loads(line) for line in listen.stdout]
    feed = httpx.get(
        f"{served.url}/v1/events", params={"post_id": post_id}, headers=_bearer(env)
    ).json()
    assert [e["id"] for e in events] == [e["id"] for e in feed["data"]]
    assert all({"id", "type", "timestamp", "data"} <= set(e) for e in events)
    code, err = listen.stop(signal.SIGTERM)
    assert code == ExitCode.OK and "Traceback" not in err, err
    quiet = listening("--post", post_id, "-q")
    quiet.printed(lambda line: line == events[-1]["id"])
    assert quiet.stdout == [e["id"] for e in events]


class Receiver:
    """A webhook receiver under development: keeps what reaches /hooks (200); /moved
    redirects to /elsewhere, which counts its visits."""

    def __init__(self) -> None:
        self.got: queue.SimpleQueue[tuple[dict[str, str], bytes]] = queue.SimpleQueue()
        self.elsewhere = 0
        app = Starlette(
            routes=[
                Route("/hooks", self._hooks, methods=["POST"]),
                Route("/moved", self._moved, methods=["POST"]),
                Route("/elsewhere", self._elsewhere, methods=["GET", "POST"]),
            ]
        )
        self.server: RunningServer = serve_in_thread(app)
        self.url = self.server.url

    async def _hooks(self, request: Request) -> Response:
        self.got.put((dict(request.headers), await request.body()))
        return PlainTextResponse("ok")

    async def _moved(self, request: Request) -> Response:
        self.got.put((dict(request.headers), await request.body()))
        return RedirectResponse(f"{self.url}/elsewhere", status_code=302)

    async def _elsewhere(self, request: Request) -> Response:
        self.elsewhere += 1
        return PlainTextResponse("should not be reached")

    def next(self) -> tuple[dict[str, str], bytes]:
        """The next delivery (within the wait)."""
        return self.got.get(timeout=WAIT)


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    """A receiver on a loopback port, stopped at the end."""
    running = Receiver()
    yield running
    running.server.stop()


def test_forward_to_delivers_signed_events(
    site: tuple[Served, dict[str, str]],
    listening: Callable[..., Listening],
    receiver: Receiver,
) -> None:
    """--forward-to a localhost receiver: each event's body, signed with the session's
    printed whsec_ secret, verifies with the Standard Webhooks library, its webhook-id the
    event id `trigger` printed; the receiver's status code is printed per event; a
    redirect is printed, not followed; --secret signs with the secret given."""
    served, env = site
    listen = listening("--forward-to", f"{receiver.url}/hooks")
    secret = re.search(r"whsec_[A-Za-z0-9+/=]+", listen.said("signing secret"))
    assert secret, listen.stderr
    listen.said("Ready!")
    sent = [_trigger(env, served.cwd, kind) for kind in ("post.published", "target.failed")]
    for event_id, kind in zip(sent, ("post.published", "target.failed"), strict=True):
        headers, body = receiver.next()
        payload = Webhook(secret.group()).verify(body, headers)
        assert headers["webhook-id"] == event_id and payload["type"] == kind
        assert payload["test"] is True and headers["content-type"] == "application/json"
        listen.printed(lambda line, event_id=event_id: event_id in line and "(test)" in line)
        forwarded = listen.printed(lambda line: line.startswith("  → "))
        assert re.fullmatch(rf"  → 200 POST {receiver.url}/hooks \(\d+ ms\)", forwarded)
    assert listen.stop()[0] == ExitCode.OK

    given = "whsec_" + "MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
    moved = listening("--forward-to", f"{receiver.url}/moved",
                      env={**env, "CROSSPOST_LISTEN_SECRET": given})  # fmt: skip
    moved.said("Ready!")
    assert all(given not in line for line in moved.stderr)  # a given secret is not echoed
    event_id = _trigger(env, served.cwd, "post.failed")
    headers, body = receiver.next()
    assert Webhook(given).verify(body, headers)["type"] == "post.failed"
    answer = moved.printed(lambda line: line.startswith("  → "))
    assert answer.startswith(f"  → 302 POST {receiver.url}/moved (") and "not followed" in answer
    assert headers["webhook-id"] == event_id and receiver.elsewhere == 0


@pytest.mark.parametrize(
    ("args", "words"),
    [
        (["--forward-to", "ftp://localhost/hooks"], "only http:// and https://"),
        (["--forward-to", "localhost:4242/hooks"], "e.g. http://localhost:4242/hooks"),
        (["--forward-to", "http://"], "no host"),
        (["--forward-to", "http://localhost:4242/", "--secret", "whsec_!!"], "--secret"),
        (["--secret", "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"], "add --forward-to"),
    ],
)
def test_forward_to_takes_http_urls_only(
    site: tuple[Served, dict[str, str]], args: list[str], words: str
) -> None:
    """A receiver URL that is not http(s), or a bad secret: exit 2 at once, saying what to
    write."""
    served, env = site
    done = run_cli(env, "webhooks", "listen", *args, cwd=served.cwd, timeout=30)
    assert done.returncode == ExitCode.USAGE, done.stderr
    assert words in done.stderr and "Ready!" not in done.stderr


def test_a_server_that_never_answers_is_said_at_once(site: tuple[Served, dict[str, str]]) -> None:
    """A listen that never reached its server does not spin: exit 3, where it looked."""
    served, env = site
    nobody = f"http://127.0.0.1:{free_port()}"
    done = run_cli({**env, "CROSSPOST_API_URL": nobody}, "webhooks", "listen", cwd=served.cwd,
                   timeout=30)  # fmt: skip
    assert done.returncode == ExitCode.UNAVAILABLE, done.stderr
    assert f"cannot reach the API at {nobody}" in done.stderr and "Ready!" not in done.stderr


def test_trigger_is_seen_by_listen_and_a_typo_gets_the_nearest_type(
    site: tuple[Served, dict[str, str]], listening: Callable[..., Listening]
) -> None:
    """A triggered event reaches a running listen (filtered by --events); a mistyped type
    exits 2 with "did you mean" and every type that can be triggered; a mistyped --events
    exits 2 the same way, an unknown --after too; event-types lists the catalogue."""
    served, env = site
    listen = listening("--events", "target.*,post.failed")
    listen.said("Ready!")
    _trigger(env, served.cwd, "post.published")  # filtered out
    event_id = _trigger(env, served.cwd, "target.needs_reauth")
    shown = listen.printed(lambda line: event_id in line)
    assert "target.needs_reauth" in shown and "run `crosspost accounts connect youtube`" in shown
    assert len(listen.stdout) == 1, listen.stdout

    typo = run_cli(env, "webhooks", "trigger", "post.publishd", cwd=served.cwd)
    assert typo.returncode == ExitCode.USAGE
    assert "unknown event type 'post.publishd'; did you mean post.published?" in typo.stderr
    assert "event types that can be triggered: post.created, " in typo.stderr
    bad = run_cli(env, "webhooks", "listen", "--events", "target.publishd", cwd=served.cwd)
    assert bad.returncode == ExitCode.USAGE, bad.stderr
    assert "--events target.publishd: no such event type; did you mean target.published?" in (
        bad.stderr
    )
    nowhere = run_cli(env, "webhooks", "listen", "--after", "msg_0", cwd=served.cwd)
    assert nowhere.returncode == ExitCode.USAGE and "--after msg_0: no such event" in nowhere.stderr
    listed = run_cli(env, "webhooks", "event-types", "-q", cwd=served.cwd)
    assert "target.needs_reauth" in listed.stdout.split() and "webhook.test" in listed.stdout


def test_a_restarted_server_is_resumed_without_a_gap_or_a_repeat(
    tmp_path: Path, listening: Callable[..., Listening]
) -> None:
    """The server stops (its streams end) and comes back on the same home: listen says it
    lost the stream, keeps trying, and once it reaches the new server resumes after the last
    event it showed — events made while it could not reach any server included — showing
    exactly the feed's events, each once, in order."""
    env = clean_env(CROSSPOST_HOME=str(tmp_path / "home"))
    with servers(tmp_path) as start:
        first = start(env, tmp_path)
        key = run_cli(first.env, "keys", "create", "--name", "r", cwd=tmp_path).stdout.strip()
        with relay(first.url) as front:
            keyed = {**first.env, "CROSSPOST_API_KEY": key, "CROSSPOST_API_URL": front.url}
            listen = listening(env=keyed)
            listen.said("Ready!")
            before = [_trigger(keyed, tmp_path, "post.created") for _ in range(2)]
            listen.printed(lambda line: before[-1] in line)
            first.stop()
            listen.said("stream lost")
            second = start(env, tmp_path)  # the same home, on a new API port
            # Made while listen can reach no server: the relay still points at the first.
            direct = {**keyed, "CROSSPOST_API_URL": second.url}
            during = [
                _trigger(direct, tmp_path, kind) for kind in ("post.failed", "post.cancelled")
            ]
            front.upstream = second.url
            listen.said("reconnected; resuming after " + before[-1])
            after = _trigger(keyed, tmp_path, "target.published")
            listen.printed(lambda line: after in line)
            shown = [m.group(3) for line in listen.stdout if (m := LINE.fullmatch(line))]
            # The restarted sandbox reconnects its accounts: more events than ours, all shown.
            feed = httpx.get(f"{second.url}/v1/events", params={"after": shown[0]},
                             headers={"Authorization": f"Bearer {key}"}).json()  # fmt: skip
            assert shown[1:] == [e["id"] for e in feed["data"]], listen.stdout
            ours = [event_id for event_id in shown if event_id in {*before, *during, after}]
            assert ours == [*before, *during, after]
            assert listen.stop()[0] == ExitCode.OK
