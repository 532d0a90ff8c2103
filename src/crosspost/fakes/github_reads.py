"""The GitHub fake's read endpoints: the repository, its commits, pull requests, issues,
releases and file contents, and the authenticated user.

Lists page as GitHub pages them (``per_page``/``page`` with an RFC 8288 Link header) and
filter as the endpoint pages document: commits by ``sha``/``path``/``author`` and by committer
date with ``since``/``until``; pulls by ``state``/``head``/``base`` (a ``head`` without the
``owner:`` prefix is ignored, as GitHub ignores it); issues by ``state``/``labels``/``creator``
and by update time with ``since``, pull requests included with their ``pull_request`` key.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from crosspost.fakes.base import platform_path
from crosspost.fakes.github_call import Call, Endpoint
from crosspost.fakes.github_model import Issue, Pull, Repo
from crosspost.fakes.github_objects import Commit
from crosspost.fakes.github_rules import (
    Answer,
    ApiError,
    base64_lines,
    link_header,
    not_found,
    paginate,
    query_choice,
    query_time,
)

EMPTY = "Git Repository is empty."
RAW_TYPES = ("application/vnd.github.raw", "application/vnd.github.v3.raw")


def resolve(repo: Repo, ref: str) -> str | None:
    """A commit SHA for a branch, a tag, ``refs/…``, a full SHA or an unambiguous prefix."""
    for name in (f"refs/heads/{ref}", f"refs/tags/{ref}", ref):
        if name in repo.refs:
            return repo.refs[name]
    if ref in repo.store.commits:
        return ref
    if len(ref) >= 4:
        found = [sha for sha in repo.store.commits if sha.startswith(ref.lower())]
        if len(found) == 1:
            return found[0]
    return None


def paged(
    call: Call,
    items: Sequence[Any],
    render: Callable[[Any], Any],
    last_modified: float | None = None,
) -> Answer:
    """One page of a list, with the Link header to the others."""
    page = paginate(items, call.query("per_page"), call.query("page"))
    answer = Answer([render(item) for item in page.items], last_modified=last_modified)
    url = f"{call.shapes.api}{platform_path(call.request)}"
    link = link_header(url, list(call.request.query_params.multi_items()), page)
    if link:
        answer.headers["Link"] = link
    return answer


async def get_repo(call: Call) -> Answer:
    """GET /repos/{owner}/{repo}."""
    repo = call.repo
    return Answer(
        call.shapes.repo(repo, call.permission), last_modified=max(repo.updated_at, repo.pushed_at)
    )


async def list_commits(call: Call) -> Answer:
    """GET /repos/{owner}/{repo}/commits."""
    repo = call.repo
    if not repo.refs:
        raise ApiError(409, EMPTY, doc=call.doc)
    since = query_time(call.query("since"), "since", call.doc)
    until = query_time(call.query("until"), "until", call.doc)
    start = call.query("sha") or repo.default_branch
    head = resolve(repo, start)
    if head is None:
        raise ApiError(404, f"No commit found for SHA: {start}", doc=call.doc)
    commits = repo.store.history(head)
    if since is not None:
        commits = [c for c in commits if c.committer.when >= since]
    if until is not None:
        commits = [c for c in commits if c.committer.when <= until]
    path, author = call.query("path"), call.query("author")
    if path:
        prefix = path.strip("/")
        commits = [
            c
            for c in commits
            if any(p == prefix or p.startswith(f"{prefix}/") for p, _, _ in repo.store.changes(c))
        ]
    if author:
        commits = [c for c in commits if _authored_by(call, c, author)]
    newest = commits[0].committer.when if commits else None
    return paged(call, commits, lambda c: _commit_item(call, c), last_modified=newest)


def _authored_by(call: Call, commit: Commit, who: str) -> bool:
    if commit.author.email.lower() == who.lower():
        return True
    account = call.account(commit.author.email)
    return account is not None and account.login.lower() == who.lower()


def _commit_item(call: Call, commit: Commit) -> dict[str, Any]:
    return call.shapes.commit_item(
        call.repo, commit, call.account(commit.author.email), call.account(commit.committer.email)
    )


async def get_commit(call: Call) -> Answer:
    """GET /repos/{owner}/{repo}/commits/{ref}: the commit with the files it changed."""
    repo = call.repo
    if not repo.refs:
        raise ApiError(409, EMPTY, doc=call.doc)
    ref = call.param("ref")
    sha = resolve(repo, ref)
    if sha is None:
        raise ApiError(422, f"No commit found for SHA: {ref}", doc=call.doc)
    commit = repo.store.commits[sha]
    shape = _commit_item(call, commit)
    files = []
    for path, status, blob in repo.store.changes(commit):
        files.append(
            {
                "sha": blob,
                "filename": path,
                "status": status,
                "raw_url": f"{call.shapes.web}/raw/{repo.full_name}/{sha}/{path}",
                "contents_url": f"{call.shapes.repo_url(repo)}/contents/{path}?ref={sha}",
            }
        )
    shape["files"] = files
    shape["stats"] = {"total": len(files), "additions": 0, "deletions": 0}
    return Answer(shape, last_modified=commit.committer.when)


async def list_pulls(call: Call) -> Answer:
    """GET /repos/{owner}/{repo}/pulls."""
    repo, doc = call.repo, call.doc
    state = query_choice(
        call.query("state"), "state", ("open", "closed", "all"), "open", "PullRequest", doc
    )
    sort = query_choice(
        call.query("sort"),
        "sort",
        ("created", "updated", "popularity", "long-running"),
        "created",
        "PullRequest",
        doc,
    )
    default = "desc" if sort == "created" else "asc"
    direction = query_choice(
        call.query("direction"), "direction", ("asc", "desc"), default, "PullRequest", doc
    )
    pulls = [p for p in repo.pulls.values() if state in ("all", p.state)]
    head, base = call.query("head"), call.query("base")
    if head and ":" in head:  # "user:ref-name"; without the owner GitHub ignores the filter
        owner, _, branch = head.partition(":")
        pulls = [
            p for p in pulls if owner.lower() == repo.owner.login.lower() and p.head_ref == branch
        ]
    if base:
        pulls = [p for p in pulls if p.base_ref == base]
    key: Callable[[Pull], Any] = (
        (lambda p: (p.updated_at, p.number))
        if sort == "updated"
        else (lambda p: (p.created_at, p.number))
    )
    pulls.sort(key=key, reverse=direction == "desc")
    return paged(call, pulls, lambda p: call.shapes.pull(repo, p))


async def get_pull(call: Call) -> Answer:
    """GET /repos/{owner}/{repo}/pulls/{pull_number}."""
    pull = _pull(call)
    return Answer(call.shapes.pull(call.repo, pull, detail=True), last_modified=pull.updated_at)


def _pull(call: Call) -> Pull:
    number = call.param("number")
    pull = call.repo.pulls.get(int(number)) if number.isdigit() else None
    if pull is None:
        raise not_found(call.doc)
    return pull


async def list_issues(call: Call) -> Answer:
    """GET /repos/{owner}/{repo}/issues: issues and pull requests alike."""
    repo, doc = call.repo, call.doc
    state = query_choice(
        call.query("state"), "state", ("open", "closed", "all"), "open", "Issue", doc
    )
    sort = query_choice(
        call.query("sort"), "sort", ("created", "updated", "comments"), "created", "Issue", doc
    )
    direction = query_choice(
        call.query("direction"), "direction", ("asc", "desc"), "desc", "Issue", doc
    )
    since = query_time(call.query("since"), "since", doc)
    items: list[Issue | Pull] = [*repo.issues.values(), *repo.pulls.values()]
    items = [i for i in items if state in ("all", i.state)]
    if since is not None:
        items = [i for i in items if i.updated_at >= since]
    labels = [name.strip() for name in (call.query("labels") or "").split(",") if name.strip()]
    if labels:
        items = [
            i for i in items if isinstance(i, Issue) and all(name in i.labels for name in labels)
        ]
    creator = call.query("creator")
    if creator:
        items = [i for i in items if i.user.login.lower() == creator.lower()]
    if sort == "updated":
        items.sort(key=lambda i: (i.updated_at, i.number), reverse=direction == "desc")
    else:  # "comments" ties everywhere: nothing here has comments
        items.sort(key=lambda i: (i.created_at, i.number), reverse=direction == "desc")

    def render(item: Issue | Pull) -> dict[str, Any]:
        if isinstance(item, Pull):
            return call.shapes.issue_of_pull(repo, item)
        return call.shapes.issue(repo, item)

    return paged(call, items, render)


async def list_releases(call: Call) -> Answer:
    """GET /repos/{owner}/{repo}/releases, newest first."""
    repo = call.repo
    releases = sorted(repo.releases, key=lambda r: (r.created_at, r.id), reverse=True)
    return paged(call, releases, lambda r: call.shapes.release(repo, r))


async def get_contents(call: Call) -> Answer:
    """GET /repos/{owner}/{repo}/contents/{path}?ref=: a file (base64, or raw bytes with the
    raw media type) or a directory listing."""
    repo = call.repo
    path = str(call.request.path_params.get("path", "")).strip("/")
    if not repo.refs:
        raise ApiError(404, "This repository is empty.", doc=call.doc)
    ref = call.query("ref") or repo.default_branch
    sha = resolve(repo, ref)
    if sha is None:
        raise ApiError(404, f"No commit found for the ref {ref}", doc=call.doc)
    store = repo.store
    entry = store.lookup(store.commits[sha].tree, path)
    if entry is None or entry.kind == "commit":
        raise not_found(call.doc)
    if entry.kind == "tree":
        listing = []
        for child in store.trees[entry.sha]:
            child_path = f"{path}/{child.name}" if path else child.name
            kind = "dir" if child.kind == "tree" else "file"
            size = len(store.blobs[child.sha]) if kind == "file" else 0
            listing.append(
                {
                    "type": kind,
                    "size": size,
                    "name": child.name,
                    "path": child_path,
                    "sha": child.sha,
                    **call.shapes.content_urls(repo, child_path, ref, child.sha, kind),
                }
            )
        return Answer(listing)
    data = store.blobs[entry.sha]
    accept = call.request.headers.get("accept", "")
    if any(raw in accept for raw in RAW_TYPES):
        return Answer(None, raw=data, media_type="application/vnd.github.raw")
    return Answer(
        {
            "type": "symlink" if entry.mode == "120000" else "file",
            "encoding": "base64",
            "size": len(data),
            "name": entry.name,
            "path": path,
            "content": base64_lines(data),
            "sha": entry.sha,
            **call.shapes.content_urls(repo, path, ref, entry.sha, "file"),
        }
    )


async def get_user(call: Call) -> Answer:
    """GET /user: the authenticated user."""
    assert call.user is not None
    shape = call.shapes.user(call.user)
    shape.update(
        {
            "name": call.user.name,
            "email": call.user.email,
            "company": None,
            "blog": "",
            "location": None,
            "bio": None,
            "public_repos": sum(1 for r in call.world.repos.values() if r.owner == call.user),
        }
    )
    return Answer(shape)


READS = (
    Endpoint("GET", "/user", get_user, "user", "user"),
    Endpoint("GET", "/repos/{owner}/{repo}", get_repo, "repo", "read", "metadata=read"),
    Endpoint(
        "GET", "/repos/{owner}/{repo}/commits", list_commits, "commits", "read", "contents=read"
    ),
    Endpoint(
        "GET",
        "/repos/{owner}/{repo}/commits/{ref:path}",
        get_commit,
        "commit",
        "read",
        "contents=read",
    ),
    Endpoint(
        "GET", "/repos/{owner}/{repo}/pulls", list_pulls, "pulls", "read", "pull_requests=read"
    ),
    Endpoint(
        "GET",
        "/repos/{owner}/{repo}/pulls/{number}",
        get_pull,
        "pull",
        "read",
        "pull_requests=read",
    ),
    Endpoint(
        "GET",
        "/repos/{owner}/{repo}/issues",
        list_issues,
        "issues",
        "read",
        "issues=read; pull_requests=read",
    ),
    Endpoint(
        "GET", "/repos/{owner}/{repo}/releases", list_releases, "releases", "read", "contents=read"
    ),
    Endpoint(
        "GET", "/repos/{owner}/{repo}/contents", get_contents, "contents", "read", "contents=read"
    ),
    Endpoint(
        "GET",
        "/repos/{owner}/{repo}/contents/{path:path}",
        get_contents,
        "contents",
        "read",
        "contents=read",
    ),
)

__all__ = ["READS", "resolve"]
