"""Webhook events as `crosspost webhooks listen` prints them: one line each — when, the
type, the event id, and a few words on what it says (the catalogue's shapes, read
defensively: a newer server may send a type or a member this CLI does not know)."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import datetime
from typing import Any

from crosspost.cli._common import sandboxed
from crosspost.cli.follow import local_time


def _obj(data: Any, key: str) -> Mapping[str, Any]:
    value = data.get(key) if isinstance(data, Mapping) else None
    return value if isinstance(value, Mapping) else {}


def when(event: Mapping[str, Any]) -> str:
    """The event's time in this machine's time zone, with the date."""
    stamp = str(event.get("timestamp") or "")
    try:
        return datetime.fromisoformat(stamp).astimezone().strftime("%Y-%m-%d %H:%M:%S")
    except ValueError:
        return stamp or "-"


def _reconnect(platform: Any) -> str:
    return f"run `crosspost accounts connect {platform}`"


def _post(data: Mapping[str, Any], sandbox: bool) -> str:
    if "metrics" in data:
        return _metrics(data)
    post = _obj(data, "post")
    targets = [t for t in post.get("targets") or [] if isinstance(t, Mapping)]
    states = ", ".join(f"{t.get('platform')} {t.get('status')}" for t in targets)
    return f"{post.get('id')} {post.get('status')}" + (f": {states}" if states else "")


def _metrics(data: Mapping[str, Any]) -> str:
    """post.metrics_updated: the target's platform and the counts it reports."""
    target = _obj(data, "target")
    counts = _obj(data, "metrics")
    shown = ", ".join(
        f"{counts[name]} {name}"
        for name in ("views", "likes", "comments", "shares")
        if counts.get(name) is not None
    )
    return f"{data.get('post_id')} {target.get('platform')}: {shown or 'no counts yet'}"


def _target(data: Mapping[str, Any], sandbox: bool) -> str:
    target = _obj(data, "target")
    platform, status = target.get("platform"), target.get("status")
    words = f"{platform} {status} ({target.get('post_id')})"
    error = _obj(target, "error")
    if status == "published":
        return f"{words} {sandboxed(target.get('external_url'), sandbox)}".rstrip()
    if error:
        words += f" {error.get('kind')} {error.get('code')}: {error.get('message')}"
    if status == "waiting" and target.get("next_attempt_at"):
        words += f"; next attempt {_local(str(target['next_attempt_at']))}"
    if status == "needs_reauth":
        words += f" — {_reconnect(platform)}"
    return words


def _local(stamp: str) -> str:
    try:
        return local_time(stamp)
    except ValueError:
        return stamp


def _account(data: Mapping[str, Any], sandbox: bool) -> str:
    account = _obj(data, "account")
    platform = account.get("platform")
    words = f"{platform} {account.get('handle')} ({account.get('id')}) {account.get('status')}"
    if data.get("reconnected"):
        words += ", reconnected"
    if data.get("reason"):
        words += f": {data['reason']} — {_reconnect(platform)}"
    return words


def _usage(data: Mapping[str, Any], sandbox: bool) -> str:
    limit = data.get("hard_limit") or data.get("soft_limit")
    return (
        f"{data.get('metric')} {data.get('used')} of {limit} in {data.get('period')} "
        f"(soft limit {data.get('soft_limit')})"
    )


def _data_export(data: Mapping[str, Any], sandbox: bool) -> str:
    export = _obj(data, "export")
    return (
        f"{export.get('id')} ready: {export.get('rows')} rows of {export.get('kind')} "
        f"({export.get('format')})"
    )


def _render(data: Mapping[str, Any], sandbox: bool) -> str:
    # A clip render (seed 000's camelCase payload): its video when ready, else why not.
    error = _obj(data, "error")
    if error:
        return f"render {data.get('exportId')} of clip {data.get('clipId')}: {error.get('message')}"
    video = _obj(_obj(data, "artifacts"), "video")
    return (
        f"render {data.get('exportId')} of clip {data.get('clipId')}: media "
        f"{video.get('mediaId')}, {video.get('width')}x{video.get('height')}, "
        f"{video.get('durationSeconds')} s"
    )


def _content(data: Mapping[str, Any], sandbox: bool) -> str:
    # A recap made, or proposed as a pull request.
    pull = _obj(data, "pull_request")
    if pull:
        verb = "opened" if pull.get("created") else "updated"
        return f"recap of job {data.get('job_id')}: pull request #{pull.get('number')} {verb}"
    return f"{data.get('title')}: {data.get('total_clips')} clips, {data.get('path')}"


def _job(data: Mapping[str, Any], sandbox: bool) -> str:
    error = data.get("error")
    ended = f"failed: {error.get('code')} ({error.get('message')})" if error else "completed"
    return f"{data.get('kind')} {data.get('job_id')} on {data.get('subject_id')} {ended}"


def _distribution(data: Mapping[str, Any], sandbox: bool) -> str:
    error = data.get("error")
    why = f": {error.get('code')} ({error.get('message')})" if isinstance(error, Mapping) else ""
    return (
        f"release {data.get('release_id')} on {data.get('channel')}: "
        f"{data.get('previous_status')} → {data.get('status')}{why}"
    )


def _test(data: Mapping[str, Any], sandbox: bool) -> str:
    return f"{data.get('endpoint_id')}: {data.get('message')}"


def _endpoint(data: Mapping[str, Any], sandbox: bool) -> str:
    return f"{data.get('endpoint_id')} {data.get('url')}: {data.get('reason')}"


_SUMMARIES: dict[str, Callable[[Mapping[str, Any], bool], str]] = {
    "post": _post,
    "target": _target,
    "account": _account,
    "usage": _usage,
    "data_export": _data_export,
    "export": _render,
    "content": _content,
    "job": _job,
    "distribution": _distribution,
    "webhook": _test,
    "endpoint": _endpoint,
}


def summary(event: Mapping[str, Any], sandbox: bool = False) -> str:
    """A few words on what the event says (`(test)` first for one sent by hand)."""
    family = str(event.get("type") or "").split(".", 1)[0]
    data = event.get("data")
    explain = _SUMMARIES.get(family)
    words = explain(data, sandbox) if explain and isinstance(data, Mapping) else ""
    return f"(test) {words}".strip() if event.get("test") else words


def line(event: Mapping[str, Any], sandbox: bool = False) -> str:
    """The event as one line: time, type, id, summary."""
    return f"{when(event)}  {event.get('type')}  {event.get('id')}  {summary(event, sandbox)}"
