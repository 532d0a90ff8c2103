"""Backfill: what happened on a pipeline's repositories in a time range, read through
GitHub's REST API and kept as the same events webhooks bring (one row per thing, whichever
way it came first).

Pages are read conditionally (`github_api`): what a backfill read of each page is kept on
the pipeline, so a rerun over the same range is answered 304 and costs no rate limit.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from datetime import datetime
from typing import Any

from crosspost.engine.services import Services
from crosspost.pipeline import pipelines
from crosspost.pipeline.github_api import GitHubClient, Seen
from crosspost.pipeline.github_events import Event, parse_time
from crosspost.pipeline.github_webhook import event_row
from crosspost.store import pipelines as rows

MAX_SEEN = 500  # page records kept per pipeline (the newest)


def github_client(svc: Services, pipeline: Mapping[str, Any]) -> GitHubClient | None:
    """A client with the pipeline's token (a test pipeline falls back to the sandbox's);
    None when a live pipeline has none."""
    test = pipeline["mode"] == "test"
    token = pipelines.github_token(svc.keyring, pipeline)
    if token is None and test:
        token = svc.settings.sandbox_github_token
    if token is None:
        return None
    base = svc.settings.github_base(test_mode=test)
    return GitHubClient(svc.http, token, clock=svc.clock, base_url=base)


def backfill(svc: Services, pipeline: Mapping[str, Any], since: datetime, until: datetime) -> int:
    """Read the repositories' commits, pull requests, issues and releases of [since, until)
    and keep what is new; how many events were new. ProviderError when GitHub refuses."""
    client = github_client(svc, pipeline)
    if client is None:
        return 0
    seen: Seen = dict(pipeline["github_seen"] or {})
    found: list[Event] = []
    for repo in pipeline["repositories"]:
        found += _commits(client, repo, since, until, seen)
        found += _pulls(client, repo, since, until, seen)
        found += _issues(client, repo, since, until, seen)
        found += _releases(client, repo, since, until, seen)
    now = svc.clock.now()
    with svc.db.write() as conn:
        added = rows.add_events(conn, [event_row(pipeline, e, "backfill", now) for e in found])
        kept = dict(list(seen.items())[-MAX_SEEN:])
        rows.update_pipeline(conn, pipeline["id"], {"github_seen": kept})
    return added


def _items(pages: Iterator[Any]) -> Iterator[dict[str, Any]]:
    for page in pages:
        yield from page.items or []


def _within(value: str | None, since: datetime, until: datetime) -> datetime | None:
    if not value:
        return None
    at = parse_time(value)
    return at if since <= at < until else None


def _commits(
    client: GitHubClient, repo: str, since: datetime, until: datetime, seen: Seen
) -> list[Event]:
    events = []
    for item in _items(client.commits(repo, since, until, seen)):
        commit = item.get("commit") or {}
        author = commit.get("author") or {}
        at = _within(author.get("date"), since, until)
        if at is None:
            continue
        login = (item.get("author") or {}).get("login")
        events.append(
            Event(
                repo,
                "commit",
                str(item["sha"]),
                "pushed",
                _headline(str(commit.get("message") or "")),
                str(item["html_url"]),
                login or author.get("name"),
                at,
            )
        )
    return events


def _pulls(
    client: GitHubClient, repo: str, since: datetime, until: datetime, seen: Seen
) -> list[Event]:
    events = []
    for pull in _items(client.pulls(repo, seen)):
        updated = parse_time(str(pull["updated_at"]))
        if updated < since:
            break  # sorted by update, newest first: the rest are older
        merged = pull.get("merged_at")
        moments = [
            ("opened", pull.get("created_at")),
            ("merged" if merged else "closed", merged or pull.get("closed_at")),
        ]
        for action, when in moments:
            at = _within(when, since, until)
            if at is not None:
                events.append(_item_event(repo, "pull_request", pull, action, at))
    return events


def _issues(
    client: GitHubClient, repo: str, since: datetime, until: datetime, seen: Seen
) -> list[Event]:
    events = []
    for issue in _items(client.issues(repo, since, seen)):
        if "pull_request" in issue:
            continue  # GitHub lists pull requests among issues; _pulls took them
        for action, when in (
            ("opened", issue.get("created_at")),
            ("closed", issue.get("closed_at")),
        ):
            at = _within(when, since, until)
            if at is not None:
                events.append(_item_event(repo, "issue", issue, action, at))
    return events


def _releases(
    client: GitHubClient, repo: str, since: datetime, until: datetime, seen: Seen
) -> list[Event]:
    events = []
    for release in _items(client.releases(repo, seen)):
        at = _within(release.get("published_at"), since, until)
        if at is None:
            continue
        tag = str(release["tag_name"])
        events.append(
            Event(
                repo,
                "release",
                str(release["id"]),
                "published",
                _headline(str(release.get("name") or tag)),
                str(release["html_url"]),
                (release.get("author") or {}).get("login"),
                at,
                {"tag": tag},
            )
        )
    return events


def _item_event(repo: str, kind: str, item: Mapping[str, Any], action: str, at: datetime) -> Event:
    detail = {"base": (item.get("base") or {}).get("ref")} if kind == "pull_request" else {}
    return Event(
        repo,
        kind,
        str(item["number"]),
        action,
        _headline(str(item["title"])),
        str(item["html_url"]),
        (item.get("user") or {}).get("login"),
        at,
        detail,
    )


def _headline(text: str) -> str:
    lines = text.strip().splitlines()
    return (lines[0] if lines else "")[:500]
