"""`crosspost webhooks listen`: the tenant's events in the terminal as they happen, and
optionally forwarded, signed, to a receiver under development — the way `stripe listen`
works. The SDK's stream resumes after a dropped connection with `Last-Event-ID`, so nothing
is missed or shown twice; Ctrl-C (or SIGTERM) is how it ends, with exit status 0."""

from __future__ import annotations

import json
import signal
from typing import Annotated, Any

import httpx
import typer

from crosspost.cli import event_lines
from crosspost.cli._common import (
    ApiKey,
    ApiUrl,
    ExitCode,
    api,
    api_key,
    did_you_mean,
    is_test_key,
    out,
)
from crosspost.cli.forward import Answer, BadTarget, Forwarder, check_target

EXAMPLES = (
    "crosspost webhooks listen",
    "crosspost webhooks listen --forward-to http://localhost:4242/hooks",
    "crosspost webhooks listen --events 'post.*,target.failed' --json | jq .type",
    "crosspost webhooks listen --post POST_ID",
    "crosspost webhooks listen --after msg_01J…   # resume where a listen stopped",
)
# Answers of the server that mean the flags were wrong (exit 2), not the request refused.
_FLAG_OF_CODE = {"invalid_event_types": "--events", "unknown_event": "--after"}


class Session:
    """One listen: prints each event (and the receiver's answer), counts them, remembers the
    last id (where a new listen resumes)."""

    def __init__(self, sandbox: bool, forwarder: Forwarder | None) -> None:
        self.sandbox = sandbox
        self.forwarder = forwarder
        self.seen = 0
        self.last: str | None = None
        self.ready = False
        self.dropped = False

    def opened(self, after: str | None) -> None:
        """The stream is open: say so once, and again after each reconnection."""
        if self.dropped:
            out().note(f"reconnected; resuming after {after or 'the start'}")
        else:
            out().note("Ready! Listening for events (Ctrl-C stops)")
        self.ready = True
        self.dropped = False

    def lost(self, why: str, delay: float) -> None:
        """The stream dropped: say why and when it comes back. A stream that never opened
        is not waited for: a wrong URL or a server not started is said at once."""
        if not self.ready:
            raise httpx.ConnectError(why)
        self.dropped = True
        out().warn(f"stream lost ({why}); reconnecting in {delay:g} s")

    def show(self, event: dict[str, Any]) -> None:
        """Print one event (its JSON on one line with --json, its id with -q), then forward it."""
        self.seen += 1
        self.last = str(event.get("id"))
        mode = out().mode
        if mode == "json":
            typer.echo(json.dumps(event, ensure_ascii=False, separators=(",", ":")))
        elif mode == "quiet":
            typer.echo(self.last)
        else:
            typer.echo(event_lines.line(event, self.sandbox))
        if self.forwarder is not None:
            self._report(self.forwarder.url, self.forwarder.send(event))

    def _report(self, url: str, answer: Answer) -> None:
        status = str(answer.status) if answer.status is not None else "no answer"
        text = f"  → {status} POST {url} ({answer.millis} ms)"
        if answer.detail:
            text += f": {answer.detail}"
        # The receiver's answer is part of what people watch; scripts read events on stdout.
        if out().human:
            typer.echo(text)
        else:
            out().err.print(text, soft_wrap=True, markup=False, highlight=False)

    def stopped(self) -> None:
        """The closing line: how many events and where to resume."""
        resume = f"; `crosspost webhooks listen --after {self.last}` resumes" if self.last else ""
        out().note(f"stopped after {self.seen} event(s){resume}")


def listen(
    forward_to: Annotated[
        str | None,
        typer.Option(
            "--forward-to",
            help="POST each event to this http(s) URL (localhost is fine), signed the "
            "Standard Webhooks way, printing the receiver's status code; redirects are not "
            "followed.",
            metavar="URL",
        ),
    ] = None,
    events: Annotated[
        list[str] | None,
        typer.Option(
            "--events",
            help="Only these event types: names, * or prefix.* wildcards, comma-separated or "
            "repeated (default: every type the key may read; see `crosspost webhooks "
            "event-types`).",
            metavar="PATTERN,…",
        ),
    ] = None,
    post: Annotated[
        str | None,
        typer.Option(
            "--post", help="Only this post's events, from its first one.", metavar="POST_ID"
        ),
    ] = None,
    after: Annotated[
        str | None,
        typer.Option(
            "--after",
            help="Start after this event (msg_…), e.g. the last one a previous listen "
            "printed; default: from now (with --post: from the post's first event).",
            metavar="EVENT_ID",
        ),
    ] = None,
    secret: Annotated[
        str | None,
        typer.Option(
            "--secret",
            envvar="CROSSPOST_LISTEN_SECRET",
            help="With --forward-to: sign with this whsec_… secret (env "
            "CROSSPOST_LISTEN_SECRET) instead of a new one per session.",
            metavar="WHSEC",
            show_envvar=False,
        ),
    ] = None,
    api_url: ApiUrl = None,
    key: ApiKey = None,
) -> None:
    """Stream your events live, one a line; --forward-to delivers them, signed, to a URL.

    Runs until Ctrl-C or SIGTERM, then exits 0 (stopping is how it ends, not an error).

    A dropped connection or a restarted server resumes after the last event shown.
    """
    forwarder = _forwarder(forward_to, secret)
    patterns = [part.strip() for value in events or [] for part in value.split(",")]
    patterns = [p for p in patterns if p]
    session = Session(is_test_key(api_key(key)), forwarder)
    # A kill ends it as Ctrl-C does: with the closing line, not a bare death.
    previous = signal.signal(signal.SIGTERM, signal.default_int_handler)
    try:
        with api(api_url, key) as client:
            out().note(f"events of {client.base_url}" + (" (sandbox)" * session.sandbox))
            stream = client.events.stream(
                after=after,
                types=patterns or None,
                post_id=post,
                on_open=session.opened,
                on_drop=session.lost,
            )
            try:
                for event in stream:
                    session.show(event)
            except Exception as err:
                _wrong_flag(err, patterns, after)
                raise
            finally:
                stream.close()
    except KeyboardInterrupt:
        session.stopped()
    finally:
        signal.signal(signal.SIGTERM, previous)
        if forwarder is not None:
            forwarder.close()


def _forwarder(forward_to: str | None, secret: str | None) -> Forwarder | None:
    """The forwarder --forward-to asks for, with its secret (a new one printed on stderr)."""
    from crosspost.webhooks.signing import InvalidSecret, new_secret, secret_key  # noqa: PLC0415

    if forward_to is None:
        if secret is not None:
            out().error("--secret signs what --forward-to sends; add --forward-to URL")
            raise typer.Exit(ExitCode.USAGE)
        return None
    try:
        url = check_target(forward_to.strip())
        if secret is not None:
            secret_key(secret)
    except (BadTarget, InvalidSecret) as err:
        out().error(f"error: {err}" if isinstance(err, BadTarget) else f"error: --secret: {err}")
        raise typer.Exit(ExitCode.USAGE) from None
    if secret is None:
        secret = new_secret()
        # Whatever the output mode: the receiver cannot check a signature without it.
        out().err.print(
            f"forwarding to {url}; your webhook signing secret for this session is {secret} "
            "(verify with it; --secret keeps one across sessions)",
            soft_wrap=True,
            markup=False,
            highlight=False,
        )
    else:
        out().note(f"forwarding to {url}, signed with the secret given")
    return Forwarder(url, secret)


def _wrong_flag(err: Exception, patterns: list[str], after: str | None) -> None:
    """A refusal that names a flag's value (an unknown event type, an unknown --after) in
    the flag's words, with the nearest event type, and exit status 2."""
    from crosspost_sdk import APIError as ApiError  # noqa: PLC0415

    if not isinstance(err, ApiError) or err.code not in _FLAG_OF_CODE:
        return
    flag = _FLAG_OF_CODE[err.code]
    if flag == "--after":
        out().error(f"--after {after}: no such event of this key's mode (ids are msg_…)")
        raise typer.Exit(ExitCode.USAGE) from None
    valid = [str(name) for name in err.problem.get("valid_event_types") or []]
    for pattern in patterns:
        if pattern != "*" and not pattern.endswith(".*") and pattern not in valid:
            out().error(f"--events {pattern}: no such event type{did_you_mean(pattern, valid)}")
    out().error(
        "--events takes event types, * or a prefix.* wildcard (post.*); event types: "
        + ", ".join(valid)
    )
    raise typer.Exit(ExitCode.USAGE) from None
