"""GitHub's webhook payloads read into the pipeline's events: a push's commits, a pull
request or issue opened, reopened, merged or closed, a release published.

Only the fields an event needs are read; a payload without one of them is refused with the
field's path, never half taken. Actions that change nothing a recap tells (a label, an
edit, a new commit on a PR's branch, which its push already brought) are not events.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from crosspost.errors import InvalidInput

# The pull request and issue actions kept, and the release actions meaning "out".
_ITEM_ACTIONS = frozenset({"opened", "reopened", "closed", "ready_for_review"})
_RELEASE_ACTIONS = frozenset({"published", "released"})
MAX_TITLE = 500


@dataclass(frozen=True)
class Event:
    """One thing that happened, ready to store."""

    repository: str
    kind: str
    ref: str
    action: str
    title: str
    url: str
    author: str | None
    occurred_at: datetime
    detail: dict[str, Any] = field(default_factory=dict)


def read_delivery(event: str, payload: Any) -> tuple[str | None, list[Event]]:
    """The repository a delivery is about and its events (none for a `ping` or an event or
    action the pipeline does not keep); InvalidInput naming the field when it is malformed."""
    if not isinstance(payload, Mapping):
        raise _invalid("the payload", "a JSON object")
    if event == "ping":
        repository = payload.get("repository")
        return (_text(repository, "full_name", "repository") if repository else None), []
    reader = _READERS.get(event)
    if reader is None:
        return None, []
    repository = _text(_object(payload, "repository", ""), "full_name", "repository")
    return repository, reader(repository, payload)


def _push(repository: str, payload: Mapping[str, Any]) -> list[Event]:
    branch = _text(payload, "ref", "").removeprefix("refs/heads/")
    commits = payload.get("commits")
    if not isinstance(commits, list):
        raise _invalid("commits", "a list")
    events = []
    for index, commit in enumerate(commits):
        where = f"commits[{index}]"
        if not isinstance(commit, Mapping):
            raise _invalid(where, "an object")
        author = _object(commit, "author", where)
        events.append(
            Event(
                repository=repository,
                kind="commit",
                ref=_text(commit, "id", where),
                action="pushed",
                title=_headline(_text(commit, "message", where)),
                url=_text(commit, "url", where),
                author=_optional_text(author, "username") or _optional_text(author, "name"),
                occurred_at=_time(commit, "timestamp", where),
                detail={"branch": branch},
            )
        )
    return events


def _pull_request(repository: str, payload: Mapping[str, Any]) -> list[Event]:
    action = _text(payload, "action", "")
    if action not in _ITEM_ACTIONS:
        return []
    pull = _object(payload, "pull_request", "")
    merged = action == "closed" and pull.get("merged") is True
    when = "merged_at" if merged else "closed_at" if action == "closed" else "updated_at"
    if action == "opened":
        when = "created_at"
    return [
        Event(
            repository=repository,
            kind="pull_request",
            ref=str(_number(pull, "number", "pull_request")),
            action="merged" if merged else action,
            title=_headline(_text(pull, "title", "pull_request")),
            url=_text(pull, "html_url", "pull_request"),
            author=_login(pull, "pull_request"),
            occurred_at=_time(pull, when, "pull_request"),
            detail={"base": _optional_text(_optional_object(pull, "base"), "ref")},
        )
    ]


def _issue(repository: str, payload: Mapping[str, Any]) -> list[Event]:
    action = _text(payload, "action", "")
    if action not in _ITEM_ACTIONS:
        return []
    issue = _object(payload, "issue", "")
    when = {"opened": "created_at", "closed": "closed_at"}.get(action, "updated_at")
    return [
        Event(
            repository=repository,
            kind="issue",
            ref=str(_number(issue, "number", "issue")),
            action=action,
            title=_headline(_text(issue, "title", "issue")),
            url=_text(issue, "html_url", "issue"),
            author=_login(issue, "issue"),
            occurred_at=_time(issue, when, "issue"),
        )
    ]


def _release(repository: str, payload: Mapping[str, Any]) -> list[Event]:
    action = _text(payload, "action", "")
    if action not in _RELEASE_ACTIONS:
        return []
    release = _object(payload, "release", "")
    tag = _text(release, "tag_name", "release")
    return [
        Event(
            repository=repository,
            kind="release",
            ref=str(_number(release, "id", "release")),
            action="published",
            title=_headline(_optional_text(release, "name") or tag),
            url=_text(release, "html_url", "release"),
            author=_login(release, "release", key="author"),
            occurred_at=_time(release, "published_at", "release"),
            detail={"tag": tag},
        )
    ]


_READERS = {"push": _push, "pull_request": _pull_request, "issues": _issue, "release": _release}


def parse_time(value: str) -> datetime:
    """GitHub's ISO 8601 times (`Z` or an offset, as push payloads give) in UTC; ValueError
    when it is not one."""
    parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    if parsed.tzinfo is None:
        raise ValueError(f"{value} has no time zone")
    return parsed.astimezone(UTC)


def _headline(text: str) -> str:
    """A commit message's first line, or a title, within the stored length."""
    first = text.strip().splitlines()[0] if text.strip() else ""
    return first[:MAX_TITLE]


def _path(where: str, key: str) -> str:
    return f"{where}.{key}" if where else key


def _invalid(path: str, expected: str) -> InvalidInput:
    return InvalidInput(
        f"the GitHub payload's {path} is missing or is not {expected}; send the event as "
        "GitHub does (Content type application/json)",
        code="github_payload_invalid",
    )


def _object(data: Mapping[str, Any], key: str, where: str) -> Mapping[str, Any]:
    value = data.get(key)
    if not isinstance(value, Mapping):
        raise _invalid(_path(where, key), "an object")
    return value


def _optional_object(data: Mapping[str, Any], key: str) -> Mapping[str, Any]:
    value = data.get(key)
    return value if isinstance(value, Mapping) else {}


def _text(data: Mapping[str, Any], key: str, where: str) -> str:
    value = data.get(key)
    if not isinstance(value, str) or not value:
        raise _invalid(_path(where, key), "a non-empty string")
    return value


def _optional_text(data: Mapping[str, Any], key: str) -> str | None:
    value = data.get(key)
    return value if isinstance(value, str) and value else None


def _number(data: Mapping[str, Any], key: str, where: str) -> int:
    value = data.get(key)
    if not isinstance(value, int) or isinstance(value, bool) or value < 0:
        raise _invalid(_path(where, key), "a non-negative integer")
    return value


def _login(data: Mapping[str, Any], where: str, *, key: str = "user") -> str | None:
    return _optional_text(_optional_object(data, key), "login")


def _time(data: Mapping[str, Any], key: str, where: str) -> datetime:
    text = _text(data, key, where)
    try:
        return parse_time(text)
    except ValueError:
        raise _invalid(_path(where, key), "an ISO 8601 time with a zone") from None
