"""The GitHub fake's ``/_fake`` control routes: reset, state, faults, tokens, repositories,
activity at chosen times, webhooks and their deliveries. All JSON; a bad body is a 400
``{"error": ...}`` saying what is wrong."""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from crosspost.fakes.base import mount_base
from crosspost.fakes.github_hooks import EVENTS, Hook, event_payload, ping_payload
from crosspost.fakes.github_model import PERMISSIONS, Repo, Shapes, User
from crosspost.fakes.github_objects import Signature
from crosspost.fakes.github_rules import parse_time
from crosspost.fakes.github_world import SAMPLE_OWNER, SAMPLE_REPO, line_added

if TYPE_CHECKING:
    from crosspost.fakes.github import GitHubFake


class ControlError(ValueError):
    """A control request the fake cannot carry out; its text is the 400's error."""


def _bad(message: str, status: int = 400) -> Response:
    return JSONResponse({"error": message}, status_code=status)


async def _json(request: Request) -> dict[str, Any]:
    try:
        body = await request.json()
    except ValueError:
        raise ControlError("body must be JSON") from None
    if not isinstance(body, dict):
        raise ControlError("body must be a JSON object")
    return body


def _text(body: dict[str, Any], name: str, default: str | None = None) -> str:
    value = body.get(name, default)
    if not isinstance(value, str) or not value:
        raise ControlError(f"{name} must be a non-empty string")
    return value


def _count(body: dict[str, Any], name: str, default: int, low: int = 1) -> int:
    value = body.get(name, default)
    if not isinstance(value, int) or isinstance(value, bool) or value < low:
        raise ControlError(f"{name} must be an integer >= {low}")
    return value


def _when(value: Any, default: float) -> float:
    """An ``at`` given as epoch seconds or ISO 8601."""
    if value is None:
        return default
    if isinstance(value, int | float) and not isinstance(value, bool):
        return float(value)
    stamp = parse_time(value) if isinstance(value, str) else None
    if stamp is None:
        raise ControlError("times must be epoch seconds or ISO 8601")
    return stamp


class Controls:
    """The control routes of one fake."""

    def __init__(self, fake: GitHubFake) -> None:
        self.fake = fake

    def routes(self) -> list[Route]:
        """The ``/_fake`` routes."""
        handlers = {
            "/_fake/reset": (self.reset, ["POST"]),
            "/_fake/state": (self.state, ["GET"]),
            "/_fake/faults": (self.faults, ["GET", "POST", "DELETE"]),
            "/_fake/tokens": (self.tokens, ["POST"]),
            "/_fake/repos": (self.repos, ["POST"]),
            "/_fake/events": (self.events, ["POST"]),
            "/_fake/hooks": (self.hooks, ["GET", "POST"]),
            "/_fake/deliver": (self.deliver, ["POST"]),
            "/_fake/redeliver": (self.redeliver, ["POST"]),
        }
        return [
            Route(path, self._guarded(handler), methods=methods)
            for path, (handler, methods) in handlers.items()
        ]

    def _guarded(self, handler: Any) -> Any:
        async def run(request: Request) -> Response:
            try:
                response: Response = await handler(request)
            except ControlError as exc:
                return _bad(str(exc))
            return response

        return run

    def _repo(self, body: dict[str, Any]) -> Repo:
        name = body.get("repo", f"{SAMPLE_OWNER}/{SAMPLE_REPO}")
        repo = self.fake.world.find_repo(name) if isinstance(name, str) else None
        if repo is None:
            raise ControlError(f"no repository {name!r}")
        return repo

    def _person(self, body: dict[str, Any], repo: Repo) -> User:
        login = body.get("author")
        if login is None:
            return repo.owner
        if not isinstance(login, str) or not login:
            raise ControlError("author must be a login")
        return self.fake.world.user(login)

    async def reset(self, request: Request) -> Response:
        """POST: back to the start (sample rebuilt at the clock's now)."""
        self.fake.reset()
        return JSONResponse({"ok": True})

    async def state(self, request: Request) -> Response:
        """GET: the inspection view."""
        return JSONResponse(self.fake.state())

    async def faults(self, request: Request) -> Response:
        """POST ``{"status": 500|502|503, "count"?}`` makes the next N API requests fail so;
        ``{"status": 403|429, "secondary": true, "retry_after"?, "count"?}`` makes them hit a
        secondary rate limit; ``{"exhaust": "<login>"}`` spends that user's primary limit
        until its window resets; ``{"latency_ms": N}`` delays every API answer by N ms
        (0 to stop). DELETE drops queued faults and latency."""
        fake = self.fake
        if request.method == "DELETE":
            fake.faults.clear()
            fake.latency_ms = 0
        elif request.method == "POST":
            body = await _json(request)
            if "latency_ms" in body:
                fake.latency_ms = _count(body, "latency_ms", 0, low=0)
                return JSONResponse({"faults": fake.faults, "latency_ms": fake.latency_ms})
            if "exhaust" in body:
                fake.exhaust(_text(body, "exhaust"))
                return JSONResponse({"faults": fake.faults, "exhausted": body["exhaust"]})
            status, count = body.get("status"), _count(body, "count", 1)
            if body.get("secondary", False) is True:
                if status not in (403, 429):
                    raise ControlError("a secondary rate limit answers 403 or 429")
                retry = _count(body, "retry_after", 60, low=0)
                fault = {"status": status, "secondary": True, "retry_after": retry}
            elif status in (500, 502, 503):
                fault = {"status": status}
            else:
                raise ControlError("status must be 500, 502 or 503 (or 403/429 with secondary)")
            fake.faults += [dict(fault) for _ in range(count)]
        return JSONResponse({"faults": fake.faults})

    async def tokens(self, request: Request) -> Response:
        """POST ``{"login", "repos": {"owner/name": "read"|"write"|"admin"}}``: a new
        fine-grained token for the user (created when new)."""
        body = await _json(request)
        login = _text(body, "login")
        repos = body.get("repos", {})
        if not isinstance(repos, dict) or any(
            not isinstance(k, str) or "/" not in k or v not in PERMISSIONS for k, v in repos.items()
        ):
            raise ControlError('repos maps "owner/name" to "read", "write" or "admin"')
        token = self.fake.mint(login, repos)
        return JSONResponse(
            {
                "token": token.value,
                "login": token.user.login,
                "id": token.user.id,
                "repos": token.repos,
            },
            201,
        )

    async def repos(self, request: Request) -> Response:
        """POST ``{"owner", "name", "private"?, "description"?, "default_branch"?,
        "auto_init"? (true: an initial commit), "files"? {path: text}, "created_at"?}``."""
        body = await _json(request)
        world = self.fake.world
        owner, name = _text(body, "owner"), _text(body, "name")
        if not re.fullmatch(r"[A-Za-z0-9._-]+", name) or world.find_repo(f"{owner}/{name}"):
            raise ControlError(f"{owner}/{name} exists or is not a valid name")
        files = body.get("files", {"README.md": f"# {name}\n"})
        if not isinstance(files, dict) or not all(
            isinstance(k, str) and isinstance(v, str) for k, v in files.items()
        ):
            raise ControlError("files maps paths to text")
        private = body.get("private", False)
        if not isinstance(private, bool):
            raise ControlError("private must be a boolean")
        repo = world.create_repo(
            world.user(owner),
            name,
            at=_when(body.get("created_at"), self.fake.now()),
            private=private,
            description=str(body.get("description", "")),
            default_branch=_text(body, "default_branch", "main"),
            files=files if body.get("auto_init", True) else None,
        )
        return JSONResponse(
            {
                "full_name": repo.full_name,
                "id": repo.id,
                "private": repo.private,
                "default_branch": repo.default_branch,
                "head": repo.branch(repo.default_branch),
            },
            201,
        )

    async def events(self, request: Request) -> Response:
        """POST activity at a chosen time (``at``: epoch or ISO, default now), by ``author``:
        ``{"kind": "commit", "message", "branch"?, "files"? {path: text|null}}``,
        ``{"kind": "pull_request", "title", "branch"?, "base"?, "state"? open|merged|closed,
        "closed_at"?}``, ``{"kind": "issue", "title", "labels"?, "state"?, "closed_at"?}``,
        ``{"kind": "release", "tag", "name"?, "body"?, "prerelease"?}``."""
        body = await _json(request)
        repo = self._repo(body)
        world, who = self.fake.world, self._person(body, repo)
        at = _when(body.get("at"), self.fake.now())
        kind = body.get("kind")
        if kind == "commit":
            branch = _text(body, "branch", repo.default_branch)
            message = _text(body, "message")
            files = body.get("files") or line_added(world, repo, branch, "NOTES.md", message)
            if not isinstance(files, dict) or not all(
                isinstance(v, str | None) for v in files.values()
            ):
                raise ControlError("files maps paths to text (or null to delete)")
            if repo.branch(branch) is None and repo.branch(repo.default_branch) is None:
                raise ControlError("the repository is empty; create it with auto_init")
            made = world.commit(
                repo, branch, Signature(who.name, who.email, int(at)), message, files
            )
            return JSONResponse({"kind": kind, "sha": made.sha, "branch": branch}, 201)
        if kind == "pull_request":
            return self._pull(body, repo, who, at)
        if kind == "issue":
            labels, state = body.get("labels", []), _text(body, "state", "open")
            if not isinstance(labels, list) or not all(isinstance(x, str) for x in labels):
                raise ControlError("labels must be a list of names")
            if state not in ("open", "closed"):
                raise ControlError("state must be open or closed")
            issue = world.file_issue(
                repo,
                title=_text(body, "title"),
                body=body.get("body"),
                user=who,
                at=at,
                labels=labels,
            )
            if state == "closed":
                world.close_issue(issue, _when(body.get("closed_at"), at + 3600))
            return JSONResponse({"kind": kind, "number": issue.number, "state": issue.state}, 201)
        if kind == "release":
            if repo.branch(repo.default_branch) is None:
                raise ControlError("the repository is empty")
            tag = _text(body, "tag")
            if f"refs/tags/{tag}" in repo.refs:
                raise ControlError(f"tag {tag!r} exists")
            release = world.release(
                repo,
                tag=tag,
                name=str(body.get("name", tag)),
                body=str(body.get("body", "")),
                author=who,
                at=at,
                prerelease=body.get("prerelease") is True,
            )
            return JSONResponse({"kind": kind, "id": release.id, "tag": tag}, 201)
        raise ControlError("kind must be commit, pull_request, issue or release")

    def _pull(self, body: dict[str, Any], repo: Repo, who: User, at: float) -> Response:
        world = self.fake.world
        title = _text(body, "title")
        slug = re.sub(r"[^a-z0-9]+", "-", title.lower()).strip("-")[:40] or "change"
        branch, base = (
            _text(body, "branch", f"topic/{slug}"),
            _text(body, "base", repo.default_branch),
        )
        state = _text(body, "state", "open")
        if state not in ("open", "merged", "closed"):
            raise ControlError("state must be open, merged or closed")
        if repo.branch(base) is None or repo.branch(branch) is not None:
            raise ControlError(f"base {base!r} must exist and branch {branch!r} must not")
        world.commit(
            repo,
            branch,
            Signature(who.name, who.email, int(at) - 600),
            title,
            line_added(world, repo, base, f"changes/{slug}.md", title),
            start=repo.branch(base),
        )
        pull = world.open_pull(
            repo, title=title, body=body.get("body"), user=who, head=branch, base=base, at=at
        )
        done = _when(body.get("closed_at"), at + 3600)
        if state == "merged":
            world.merge_pull(repo, pull, repo.owner, done)
        elif state == "closed":
            world.close_pull(pull, done)
        return JSONResponse(
            {"kind": "pull_request", "number": pull.number, "state": pull.state, "branch": branch},
            201,
        )

    async def hooks(self, request: Request) -> Response:
        """POST ``{"url", "secret"?, "events"? (default ["push"]; "*" for all),
        "content_type"? json|form, "repo"?}`` registers a webhook and sends it a ping, as
        GitHub does; GET lists the hooks."""
        fake = self.fake
        if request.method == "GET":
            return JSONResponse(fake.state()["hooks"])
        body = await _json(request)
        repo, url = self._repo(body), _text(body, "url")
        if not url.startswith(("http://", "https://")):
            raise ControlError("url must be http(s)")
        events = body.get("events", ["push"])
        if (
            not isinstance(events, list)
            or not events
            or any(e not in (*EVENTS, "*") for e in events)
        ):
            raise ControlError(f"events are some of {', '.join(EVENTS)} or '*'")
        secret = body.get("secret")
        if secret is not None and not isinstance(secret, str):
            raise ControlError("secret must be a string")
        content_type = body.get("content_type", "json")
        if content_type not in ("json", "form"):
            raise ControlError("content_type must be json or form")
        hook = Hook(
            fake.world.ids.next("hook"), repo, url, secret or None, tuple(events), content_type
        )
        fake.hooks.hooks[hook.id] = hook
        payload = ping_payload(hook, Shapes(mount_base(request)), repo.owner)
        ping = await fake.hooks.send(hook, "ping", payload, fake.now())
        return JSONResponse(
            {"id": hook.id, "repo": repo.full_name, "events": events, "ping": ping.view()}, 201
        )

    async def deliver(self, request: Request) -> Response:
        """POST ``{"event": push|pull_request|issues|release, "payload"?, "action"?,
        "repo"?}``: deliver to each subscribed hook of the repository, with a payload built
        from its latest activity unless one is given."""
        fake = self.fake
        body = await _json(request)
        event, repo = body.get("event"), self._repo(body)
        if event not in EVENTS:
            raise ControlError(f"event must be one of {', '.join(EVENTS)}")
        payload = body.get("payload")
        if payload is None:
            action = body.get("action")
            try:
                payload = event_payload(
                    event,
                    action if isinstance(action, str) else None,
                    fake.world,
                    repo,
                    Shapes(mount_base(request)),
                )
            except ValueError as exc:
                raise ControlError(str(exc)) from None
        elif not isinstance(payload, dict):
            raise ControlError("payload must be a JSON object")
        sent = [
            await fake.hooks.send(hook, event, payload, fake.now())
            for hook in fake.hooks.for_repo(repo, event)
        ]
        return JSONResponse({"deliveries": [d.view() for d in sent]})

    async def redeliver(self, request: Request) -> Response:
        """POST ``{"delivery": "<guid>"}``: send that delivery again, same GUID and body."""
        fake = self.fake
        body = await _json(request)
        again = await fake.hooks.redeliver(_text(body, "delivery"), fake.now())
        if again is None:
            return _bad("no such delivery", 404)
        return JSONResponse({"delivery": again.view()})


__all__ = ["Controls"]
