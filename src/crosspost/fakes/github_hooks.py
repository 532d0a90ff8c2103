"""Repository webhooks as GitHub delivers them: registration, the payload of each event,
signing, sending, and redelivery.

Written from GitHub's webhook documentation ("Webhook events and payloads", "Validating webhook
deliveries", "Best practices for using webhooks"). A delivery is an HTTP POST with
``X-GitHub-Event``, ``X-GitHub-Delivery`` (a GUID), ``X-GitHub-Hook-ID``,
``X-GitHub-Hook-Installation-Target-Type``/``-ID``, ``User-Agent: GitHub-Hookshot/<hex>``,
and, when the hook has a secret, ``X-Hub-Signature-256: sha256=<HMAC-SHA256 hex of the raw
body>`` (plus the legacy SHA-1 ``X-Hub-Signature``). A redelivery resends the same body under
the same delivery GUID. GitHub gives a receiver 10 seconds and never retries by itself; a new
hook is sent a ``ping`` first.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import time
import uuid
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlencode

import httpx

from crosspost.fakes.github_model import Repo, Shapes, User
from crosspost.fakes.github_world import World

EVENTS = ("push", "pull_request", "issues", "release")
ZEN = "Design for failure."


@dataclass
class Hook:
    """A repository webhook."""

    id: int
    repo: Repo
    url: str
    secret: str | None
    events: tuple[str, ...]
    content_type: str = "json"  # or "form": the JSON sent as the `payload` form field

    def wants(self, event: str) -> bool:
        """True when subscribed to the event (``ping`` always goes through)."""
        return event == "ping" or event in self.events or "*" in self.events


@dataclass
class Delivery:
    """One attempt to deliver an event to a hook, with what the receiver answered."""

    guid: str
    hook_id: int
    event: str
    action: str | None
    body: bytes
    redelivery: bool = False
    status_code: int | None = None
    error: str | None = None
    duration_ms: int = 0
    delivered_at: float = 0.0
    headers: dict[str, str] = field(default_factory=dict)

    def view(self) -> dict[str, Any]:
        """The inspection view (the body by size; the headers as sent)."""
        return {
            "guid": self.guid,
            "hook_id": self.hook_id,
            "event": self.event,
            "action": self.action,
            "redelivery": self.redelivery,
            "status_code": self.status_code,
            "error": self.error,
            "duration_ms": self.duration_ms,
            "delivered_at": self.delivered_at,
            "payload_bytes": len(self.body),
            "headers": dict(self.headers),
        }


def sign(secret: str, body: bytes, digest: str = "sha256") -> str:
    """The ``X-Hub-Signature-256`` (or, with sha1, ``X-Hub-Signature``) value for a body."""
    mac = hmac.new(secret.encode(), body, getattr(hashlib, digest)).hexdigest()
    return f"{digest}={mac}"


class Hooks:
    """The registered hooks and every delivery made to them."""

    def __init__(self, agent: str, timeout: float) -> None:
        self.agent = agent
        self.timeout = timeout
        self.hooks: dict[int, Hook] = {}
        self.deliveries: list[Delivery] = []

    def clear(self) -> None:
        """Forget every hook and delivery."""
        self.hooks.clear()
        self.deliveries.clear()

    def for_repo(self, repo: Repo, event: str) -> list[Hook]:
        """The hooks of a repository subscribed to an event."""
        return [h for h in self.hooks.values() if h.repo is repo and h.wants(event)]

    async def send(self, hook: Hook, event: str, payload: dict[str, Any], now: float) -> Delivery:
        """Deliver an event to one hook under a new GUID."""
        body = json.dumps(payload, separators=(",", ":"), ensure_ascii=False).encode()
        if hook.content_type == "form":
            body = urlencode({"payload": body.decode()}).encode()
        action = payload.get("action") if isinstance(payload.get("action"), str) else None
        delivery = Delivery(str(uuid.uuid4()), hook.id, event, action, body)
        return await self._post(hook, delivery, now)

    async def redeliver(self, guid: str, now: float) -> Delivery | None:
        """Send a past delivery again: same GUID, same body; None when unknown."""
        past = next((d for d in self.deliveries if d.guid == guid), None)
        hook = self.hooks.get(past.hook_id) if past else None
        if past is None or hook is None:
            return None
        again = Delivery(
            past.guid, past.hook_id, past.event, past.action, past.body, redelivery=True
        )
        return await self._post(hook, again, now)

    async def _post(self, hook: Hook, delivery: Delivery, now: float) -> Delivery:
        headers = {
            "User-Agent": self.agent,
            "Content-Type": "application/json"
            if hook.content_type == "json"
            else "application/x-www-form-urlencoded",
            "X-GitHub-Event": delivery.event,
            "X-GitHub-Delivery": delivery.guid,
            "X-GitHub-Hook-ID": str(hook.id),
            "X-GitHub-Hook-Installation-Target-Type": "repository",
            "X-GitHub-Hook-Installation-Target-ID": str(hook.repo.id),
        }
        if hook.secret:
            headers["X-Hub-Signature"] = sign(hook.secret, delivery.body, "sha1")
            headers["X-Hub-Signature-256"] = sign(hook.secret, delivery.body)
        delivery.headers, delivery.delivered_at = headers, now
        started = time.monotonic()
        try:
            async with httpx.AsyncClient(timeout=self.timeout) as client:
                answer = await client.post(hook.url, content=delivery.body, headers=headers)
            delivery.status_code = answer.status_code
        except httpx.HTTPError as exc:
            delivery.error = f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
        delivery.duration_ms = int((time.monotonic() - started) * 1000)
        self.deliveries.append(delivery)
        return delivery


def ping_payload(hook: Hook, shapes: Shapes, sender: User) -> dict[str, Any]:
    """The ``ping`` sent when a hook is created."""
    return {
        "zen": ZEN,
        "hook_id": hook.id,
        "hook": {
            "type": "Repository",
            "id": hook.id,
            "name": "web",
            "active": True,
            "events": list(hook.events),
            "config": {"content_type": hook.content_type, "insecure_ssl": "0", "url": hook.url},
        },
        "repository": shapes.repo(hook.repo),
        "sender": shapes.user(sender),
    }


def event_payload(
    event: str, action: str | None, world: World, repo: Repo, shapes: Shapes
) -> dict[str, Any]:
    """A realistic payload for an event, built from the repository's latest activity.

    Raises ValueError when the repository has nothing the event could be about.
    """
    owner = repo.owner
    if event == "push":
        return _push(world, repo, shapes)
    if event == "pull_request":
        if not repo.pulls:
            raise ValueError("the repository has no pull request")
        pull = max(repo.pulls.values(), key=lambda p: (p.updated_at, p.number))
        default = "closed" if pull.state == "closed" else "opened"
        return {
            "action": action or default,
            "number": pull.number,
            "pull_request": shapes.pull(repo, pull, detail=True),
            "repository": shapes.repo(repo),
            "sender": shapes.user(pull.user),
        }
    if event == "issues":
        if not repo.issues:
            raise ValueError("the repository has no issue")
        issue = max(repo.issues.values(), key=lambda i: (i.updated_at, i.number))
        default = "closed" if issue.state == "closed" else "opened"
        return {
            "action": action or default,
            "issue": shapes.issue(repo, issue),
            "repository": shapes.repo(repo),
            "sender": shapes.user(issue.user),
        }
    if event == "release":
        if not repo.releases:
            raise ValueError("the repository has no release")
        release = max(repo.releases, key=lambda r: (r.created_at, r.id))
        return {
            "action": action or "published",
            "release": shapes.release(repo, release),
            "repository": shapes.repo(repo),
            "sender": shapes.user(owner),
        }
    raise ValueError(f"event must be one of {', '.join(EVENTS)}")


def _push(world: World, repo: Repo, shapes: Shapes) -> dict[str, Any]:
    branch = repo.default_branch
    after = repo.branch(branch)
    if after is None:
        raise ValueError("the repository has no commits")
    commit = repo.store.commits[after]
    before = commit.parents[0] if commit.parents else "0" * 40
    web = f"{shapes.web}/{repo.full_name}"
    changes = repo.store.changes(commit)

    def who(name: str, email: str) -> dict[str, Any]:
        account = world.by_email(email)
        person: dict[str, Any] = {"name": name, "email": email}
        if account:
            person["username"] = account.login
        return person

    head = {
        "id": commit.sha,
        "tree_id": commit.tree,
        "distinct": True,
        "message": commit.message,
        "timestamp": time.strftime("%Y-%m-%dT%H:%M:%S+00:00", time.gmtime(commit.author.when)),
        "url": f"{web}/commit/{commit.sha}",
        "author": who(commit.author.name, commit.author.email),
        "committer": who(commit.committer.name, commit.committer.email),
        "added": [p for p, s, _ in changes if s == "added"],
        "removed": [p for p, s, _ in changes if s == "removed"],
        "modified": [p for p, s, _ in changes if s == "modified"],
    }
    pusher = world.by_email(commit.author.email) or repo.owner  # web-flow commits merges
    # A push payload's repository differs from the REST one: epoch-second created_at and
    # pushed_at, and an owner carrying name and email.
    repository = shapes.repo(repo)
    repository["created_at"] = int(repo.created_at)
    repository["pushed_at"] = int(repo.pushed_at)
    repository["owner"] = {
        **shapes.user(repo.owner),
        "name": repo.owner.login,
        "email": repo.owner.email,
    }
    repository["master_branch"] = repo.default_branch
    return {
        "ref": f"refs/heads/{branch}",
        "before": before,
        "after": commit.sha,
        "repository": repository,
        "pusher": {"name": pusher.login, "email": pusher.email},
        "sender": shapes.user(pusher),
        "created": False,
        "deleted": False,
        "forced": False,
        "base_ref": None,
        "compare": f"{web}/compare/{before[:12]}...{commit.sha[:12]}",
        "commits": [head],
        "head_commit": head,
    }


__all__ = ["EVENTS", "Delivery", "Hook", "Hooks", "event_payload", "ping_payload", "sign"]
