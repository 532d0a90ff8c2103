"""Following a post to its end, the way `gh run watch` follows a run: every target's status
and upload progress as it changes, and a stop — with the next step — on a state that waits
for the user.

Changes come from the server's event stream (`GET /v1/events/stream`) when it has one:
the post is read once, then again only while a target uploads (progress is not an event),
when the events say it may be over (the outcome is always judged on the post as read), and
rarely in between. Against a server without the stream, polling that backs off and spares
the key's rate limit.
"""

from __future__ import annotations

import copy
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Protocol

import httpx
import typer
from rich.console import Console
from rich.live import Live
from rich.progress_bar import ProgressBar
from rich.table import Table

from crosspost.cli._common import ExitCode, out, plain, plain_output, sandboxed
from crosspost.cli._stream import BackgroundStream
from crosspost_sdk.ratelimit import Pacer

FINAL = {"published", "failed", "cancelled", "deleted"}
# Nothing changes in these before `next_attempt_at`, unless the user acts elsewhere.
DORMANT = {"scheduled", "waiting", "unconfirmed", "needs_reauth"}
_POST_CODES = {
    "published": ExitCode.OK,
    "partially_published": ExitCode.PARTIAL,
    "failed": ExitCode.FAILED,
    "cancelled": ExitCode.FAILED,
    # Published, then taken down on purpose: the publishing itself went through.
    "deleted": ExitCode.OK,
}
# How long the API may stay unreachable while following before giving up.
_UNREACHABLE_FOR = 60.0
# Following the stream, how long the post may go unread while nothing uploads: the events
# tell every change but progress; a read this often is a safety net (a proxy that holds the
# stream back, a clock that drifted).
STREAM_RECHECK = 60.0
# A server without the event stream answers these: follow by polling.
_NO_STREAM = frozenset({404, 405})


@dataclass(frozen=True)
class Outcome:
    """Where following stopped: the post as last seen, the exit code, the next steps."""

    post: dict[str, Any]
    code: ExitCode
    advice: tuple[str, ...] = ()


class View(Protocol):
    """How following is shown as it goes."""

    def update(self, post: dict[str, Any]) -> None:
        """Show the post as just read."""

    def close(self) -> None:
        """Stop showing (the final result is printed apart)."""


def label(target: dict[str, Any], targets: list[dict[str, Any]]) -> str:
    """A target's name: its platform, with its account when the platform appears twice."""
    same = [t for t in targets if t["platform"] == target["platform"]]
    return target["platform"] if len(same) == 1 else f"{target['platform']} {target['account_id']}"


def _mb(count: int) -> str:
    return f"{count / 1_000_000:.1f} MB"


def progress_of(target: dict[str, Any]) -> tuple[int, int] | None:
    """(bytes_sent, bytes_total) of an upload under way, else None."""
    progress = target.get("progress") or {}
    sent, total = progress.get("bytes_sent"), progress.get("bytes_total")
    if target["status"] != "uploading" or not isinstance(sent, int) or not total:
        return None
    return sent, int(total)


def local_time(stamp: str) -> str:
    """An API timestamp in this machine's time zone, with the date and how far off it is."""
    when = datetime.fromisoformat(stamp)
    left = when - datetime.now(UTC)
    minutes = max(0, round(left.total_seconds() / 60))
    away = f"in {minutes // 60} h {minutes % 60:02d} min" if minutes >= 60 else f"in {minutes} min"
    return f"{when.astimezone():%Y-%m-%d %H:%M %Z} ({away})"


def describe(target: dict[str, Any], sandbox: bool = False) -> str:
    """What a target is doing or why it stopped, in a few words."""
    status = target["status"]
    err = target.get("last_error") or {}
    if status == "published":
        return sandboxed(target.get("external_url"), sandbox)
    sent = progress_of(target)
    if sent is not None:
        return f"{sent[0] * 100 // sent[1]}% of {_mb(sent[1])}"
    words = f"{err.get('kind')}: {err.get('message')}" if err else ""
    # In flight, the next attempt is the next poll: noise. Dormant, it is the news.
    if target.get("next_attempt_at") and status in DORMANT:
        words += f" (next attempt {local_time(target['next_attempt_at'])})"
    return words.strip()


class LineView:
    """One line on stderr per change of a target (status, or each tenth of an upload): for
    logs and pipes."""

    def __init__(self, console: Console) -> None:
        self.console = console
        self.seen: dict[str, tuple[str, int]] = {}

    def update(self, post: dict[str, Any]) -> None:
        """Print the targets whose status or upload tenth changed since the last read."""
        for target in post["targets"]:
            sent = progress_of(target)
            state = (target["status"], sent[0] * 10 // sent[1] if sent else -1)
            if self.seen.get(target["id"]) == state:
                continue
            self.seen[target["id"]] = state
            name = label(target, post["targets"])
            words = describe(target, post.get("mode") == "test")
            line = f"{datetime.now():%H:%M:%S} {name}: {target['status']} {words}"
            self.console.print(line.rstrip(), soft_wrap=True, markup=False, highlight=False)

    def close(self) -> None:
        """Nothing to take down."""


class LiveView:
    """A table on the terminal redrawn in place: each target's status, an upload bar, the
    URL or error."""

    def __init__(self, console: Console, post_id: str) -> None:
        self.post_id = post_id
        self.live = Live(console=console, refresh_per_second=4, transient=True)
        self.live.start()

    def update(self, post: dict[str, Any]) -> None:
        """Redraw the table."""
        table = Table(box=None, padding=(0, 1), title=f"following {self.post_id} (Ctrl-C stops)")
        for name in ("target", "status", "progress", "details"):
            table.add_column(name, overflow="fold")
        for target in post["targets"]:
            sent = progress_of(target)
            bar: Any = ProgressBar(total=sent[1], completed=sent[0], width=20) if sent else ""
            words = describe(target, post.get("mode") == "test")
            table.add_row(label(target, post["targets"]), target["status"], bar, words)
        self.live.update(table, refresh=True)

    def close(self) -> None:
        """Take the table down."""
        self.live.stop()


class QuietView:
    """Nothing while following (--json, -q)."""

    def update(self, post: dict[str, Any]) -> None:
        """Show nothing."""

    def close(self) -> None:
        """Nothing to take down."""


def default_view(post_id: str) -> View:
    """Live on a terminal, a line per change in a pipe or log, nothing under --json or -q."""
    if not out().human:
        return QuietView()
    if plain_output(out().err.file):
        return LineView(out().err)
    return LiveView(out().err, post_id)


def _needs_user(target: dict[str, Any], deadline: datetime | None, wait: bool) -> bool:
    """Whether nothing will happen to an open target before the user acts (or, when it
    waits for a time, within the time allowed)."""
    status = target["status"]
    if status == "needs_reauth":
        return True
    if wait or status not in ("waiting", "unconfirmed"):
        return False
    err = target.get("last_error") or {}
    if status == "waiting" and err.get("kind") == "quota":
        return True
    at = target.get("next_attempt_at")
    return deadline is not None and at is not None and datetime.fromisoformat(at) > deadline


def advice_for(target: dict[str, Any], post: dict[str, Any]) -> str | None:
    """The next step for a target that failed or waits for the user."""
    name = label(target, post["targets"])
    err = target.get("last_error") or {}
    why = f" ({err.get('code') or err.get('kind')}: {err.get('message')})" if err else ""
    status, at = target["status"], target.get("next_attempt_at")
    if status == "needs_reauth":
        return (
            f"{name} needs_reauth — run `crosspost accounts connect {target['platform']}`; "
            f"the target resumes once the account is reconnected{why}"
        )
    if status == "waiting":
        until = f" until {local_time(at)}" if at else ""
        return (
            f"{name} waiting{until}{why} — it resumes by itself; "
            f"`crosspost status {post['id']} --watch --wait` follows it there"
        )
    if status == "unconfirmed":
        when = f" at {local_time(at)}" if at else ""
        return (
            f"{name} unconfirmed: crosspost asks {target['platform']} whether the post exists"
            f"{when}, and never posts twice; `crosspost status {post['id']} --watch` follows it"
        )
    if status == "failed":
        return f"{name} failed{why}"
    return None


def settled(post: dict[str, Any], deadline: datetime | None, wait: bool) -> Outcome | None:
    """The outcome once every target is final or waits for the user; None while it moves."""
    open_targets = [t for t in post["targets"] if t["status"] not in FINAL]
    if any(not _needs_user(t, deadline, wait) for t in open_targets):
        return None
    advice = [a for t in post["targets"] if (a := advice_for(t, post))]
    if open_targets:
        return Outcome(post, ExitCode.ATTENTION, tuple(advice))
    code = _POST_CODES.get(post["status"], ExitCode.FAILED)
    if code is not ExitCode.OK:
        advice.append(f"every step, with the platforms' answers: `crosspost ledger {post['id']}`")
    return Outcome(post, code, tuple(advice))


def _dormant_for(post: dict[str, Any]) -> float | None:
    """Seconds until the earliest next attempt when every open target sleeps until one."""
    open_targets = [t for t in post["targets"] if t["status"] not in FINAL]
    if not open_targets or any(
        t["status"] not in DORMANT or not t.get("next_attempt_at") for t in open_targets
    ):
        return None
    soonest = min(datetime.fromisoformat(t["next_attempt_at"]) for t in open_targets)
    return max(0.0, (soonest - datetime.now(UTC)).total_seconds())


def _fingerprint(post: dict[str, Any]) -> tuple[Any, ...]:
    return tuple(
        (t["status"], (t.get("progress") or {}).get("bytes_sent")) for t in post["targets"]
    )


def _millis(stamp: Any) -> datetime | None:
    """An API timestamp cut to the millisecond (events carry milliseconds), or None."""
    try:
        when = datetime.fromisoformat(str(stamp))
    except ValueError:
        return None
    return when.replace(microsecond=when.microsecond // 1000 * 1000)


def _uploading(post: dict[str, Any]) -> bool:
    return any(t["status"] == "uploading" for t in post["targets"])


def apply_event(post: dict[str, Any], event: dict[str, Any]) -> bool:
    """Bring `post` (as the API showed it) up to date with one event of the stream; False
    when the event says nothing newer about it (another post's, or older than the read:
    the stream of a post starts at its first event)."""
    data = event.get("data") or {}
    at = _millis(event.get("timestamp"))
    if at is None:
        return False
    if "target" in data:
        seen = data["target"]
        target = next((t for t in post["targets"] if t["id"] == seen.get("id")), None)
        newest = _millis(target.get("updated_at")) if target else None
        if target is None or (newest is not None and at < newest):
            return False
        target.update(
            status=seen["status"],
            attempts=seen.get("attempts", target.get("attempts")),
            next_attempt_at=seen.get("next_attempt_at"),
            external_id=seen.get("external_id"),
            external_url=seen.get("external_url"),
            last_error=seen.get("error"),
            progress=None,
            updated_at=event["timestamp"],
        )
        return True
    seen = data.get("post") or {}
    newest = _millis(post.get("updated_at"))
    if seen.get("id") != post["id"] or (newest is not None and at < newest):
        return False
    post.update(status=seen["status"], updated_at=event["timestamp"])
    for summary in seen.get("targets") or []:
        target = next((t for t in post["targets"] if t["id"] == summary.get("id")), None)
        newest = _millis(target.get("updated_at")) if target else None
        if target is not None and (newest is None or at >= newest):
            target.update(status=summary["status"], external_url=summary.get("external_url"))
    return True


class Follower:
    """Follows one post until `settled` (or the timeout), showing each change on a `View`:
    on the event stream when the server has one (`stream`), else by polling."""

    def __init__(
        self,
        client: Any,
        post_id: str,
        *,
        timeout: float | None,
        wait: bool,
        view: View,
        sleep: Callable[[float], None] = time.sleep,
        pacer: Pacer | None = None,
        stream: bool = True,
    ) -> None:
        self.client = client
        self.post_id = post_id
        self.timeout = timeout
        self.wait = wait
        self.view = view
        self.sleep = sleep
        self.pacer = pacer or Pacer()
        self.slowed = False
        self.feed: BackgroundStream | None = None
        self._stream = stream
        self._lost_since: float | None = None

    def poll(self) -> dict[str, Any]:
        """The post as the API has it now."""
        post: dict[str, Any] = plain(self.client.posts.get(self.post_id))
        return post

    def run(self) -> Outcome:
        """Follow to the end; the view and the stream are closed whatever happens."""
        try:
            return self._run()
        finally:
            if self.feed is not None:
                self.feed.close()
            self.view.close()

    def _open_stream(self) -> None:
        """Start reading the post's events (once, after the first read: the stream of a post
        starts at its first event, so none is missed, and the read is not held up)."""
        if self._stream and self.feed is None:
            self._stream = False
            self.feed = BackgroundStream(
                self.client.events.stream(
                    post_id=self.post_id, on_open=self._opened, on_drop=self._dropped
                )
            )

    def _opened(self, _after: str | None) -> None:
        self._lost_since = None

    def _dropped(self, _why: str, _delay: float) -> None:
        """The stream keeps reconnecting; past `_UNREACHABLE_FOR`, following gives up."""
        self._lost_since = self._lost_since or time.monotonic()
        if time.monotonic() - self._lost_since > _UNREACHABLE_FOR:
            raise httpx.ConnectError(f"no event stream for {_UNREACHABLE_FOR:g} s")

    def _run(self) -> Outcome:
        from crosspost_sdk import APIConnectionError  # noqa: PLC0415
        from crosspost_sdk import APIError as ApiError  # noqa: PLC0415

        start = time.monotonic()
        ends = None if self.timeout is None else start + self.timeout
        deadline = (
            None if self.timeout is None else datetime.now(UTC) + timedelta(seconds=self.timeout)
        )
        last: tuple[Any, ...] | None = None
        post: dict[str, Any] | None = None
        lost_since: float | None = None
        while True:
            delay: float
            try:
                post = self.poll()
                lost_since = None
            except ApiError as err:
                if err.status != 429 and err.status < 500:
                    raise
                delay = err.retry_after or self.pacer.next(False)
            except (httpx.TransportError, APIConnectionError):
                # A restarting server: keep trying for a while, then say so.
                lost_since = lost_since or time.monotonic()
                if time.monotonic() - lost_since > _UNREACHABLE_FOR:
                    raise
                delay = self.pacer.next(False)
            else:
                self.view.update(post)
                outcome = settled(post, deadline, self.wait)
                if outcome is not None:
                    return outcome
                self._open_stream()
                changed = _fingerprint(post) != last
                last = _fingerprint(post)
                rate = getattr(self.client, "rate_limit", None)
                delay = self.pacer.next(changed, rate, _dormant_for(post))
                if self.feed is not None and not _uploading(post):
                    delay = max(delay, STREAM_RECHECK)
                else:
                    self._say_if_slowed(delay, rate)
            until = time.monotonic() + delay
            if ends is not None and until >= ends:
                if self._wait(post, ends, deadline):
                    return self._timed_out(post)
            else:
                self._wait(post, until, deadline)

    def _wait(self, post: dict[str, Any] | None, until: float, deadline: datetime | None) -> bool:
        """Until `until` (on the monotonic clock), or less when the stream says the post is
        worth reading: it may be over or wait for the user, or a target uploads. True when
        the whole time went by."""
        from crosspost_sdk import APIError as ApiError  # noqa: PLC0415

        if self.feed is None or post is None:
            self.sleep(max(0.0, until - time.monotonic()))
            return True
        local = copy.deepcopy(post)
        while (left := until - time.monotonic()) > 0:
            try:
                event = self.feed.next(left)
            except ApiError as err:
                if err.status not in _NO_STREAM:
                    raise
                out().note("this server has no event stream: checking the post from time to time")
                self.feed = None
                return False
            if event is None:
                break
            if not apply_event(local, event):
                continue
            self.view.update(local)
            if _uploading(local) or settled(local, deadline, self.wait) is not None:
                return False
        return True

    def _say_if_slowed(self, delay: float, rate: Any) -> None:
        """Once: why polling slowed down to spare the key's rate limit."""
        if self.slowed or rate is None or delay < rate.interval or delay <= self.pacer.cap:
            return
        self.slowed = True
        out().note(
            f"this key's {rate.policy!r} rate limit has {rate.remaining} requests left: "
            f"checking every {delay:.0f} s to keep them (Ctrl-C leaves the post publishing)"
        )

    def _timed_out(self, post: dict[str, Any] | None) -> Outcome:
        """The outcome at the timeout, from one last read (the one before, if it fails)."""
        from crosspost_sdk import APIConnectionError  # noqa: PLC0415
        from crosspost_sdk import APIError as ApiError  # noqa: PLC0415

        try:
            last = self.poll()
            self.view.update(last)
        except (ApiError, APIConnectionError, httpx.TransportError):
            if post is None:
                raise
            last = post
        outcome = settled(last, None, self.wait)
        if outcome is not None:
            return outcome
        stuck = [a for t in last["targets"] if (a := advice_for(t, last))]
        return Outcome(
            last,
            ExitCode.TIMEOUT,
            (
                *stuck,
                f"still publishing after {self.timeout:g} s; "
                f"`crosspost status {self.post_id} --watch` follows it on",
            ),
        )


def watch(client: Any, post_id: str, *, timeout: float | None, wait: bool) -> Outcome:
    """Follow a post with the default view; Ctrl-C leaves it publishing, says how to look
    again, and exits 130 (no traceback)."""
    follower = Follower(client, post_id, timeout=timeout, wait=wait, view=default_view(post_id))
    try:
        return follower.run()
    except KeyboardInterrupt:
        out().error(f"still publishing; `crosspost status {post_id}` shows where it is")
        raise typer.Exit(ExitCode.INTERRUPTED) from None


def report(outcome: Outcome) -> None:
    """The next steps on stderr (whatever the output mode: they are why the code is not 0)."""
    for line in outcome.advice:
        if outcome.code is ExitCode.OK:
            out().note(line)
        else:
            out().error(line)
