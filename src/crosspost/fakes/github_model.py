"""The fake GitHub's state (people, tokens, repositories with their pulls, issues and
releases) and the JSON shapes the REST API and webhooks render it in.

Shapes keep GitHub's field names and nesting, trimmed to what a client reasonably reads. Every
URL in them is built from the base the request reached the fake at (``Shapes.api``), so the
links work wherever the fake is mounted; ``html_url``s point under ``{api}/web`` (not served).
"""

from __future__ import annotations

import base64
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote

from crosspost.fakes.base import iso_time
from crosspost.fakes.github_objects import Commit, GitStore, Signature

PERMISSIONS = ("read", "write", "admin")


def rank(permission: str | None) -> int:
    """0 for none, then read < write < admin."""
    return PERMISSIONS.index(permission) + 1 if permission in PERMISSIONS else 0


def node_id(prefix: str, number: int) -> str:
    """An opaque global id shaped like GitHub's (``PR_kwDO…``)."""
    packed = base64.urlsafe_b64encode(number.to_bytes(8, "big")).decode().rstrip("=")
    return f"{prefix}_kwDO{packed}"


@dataclass
class User:
    """A GitHub account."""

    login: str
    id: int
    name: str
    email: str


@dataclass
class Token:
    """A fine-grained personal access token: its user and the repositories it may reach."""

    value: str
    user: User
    repos: dict[str, str]  # lower-cased "owner/name" → "read" | "write" | "admin"


@dataclass
class Pull:
    """A pull request (its issue shares the number; its issue id differs from its id)."""

    number: int
    id: int
    issue_id: int
    title: str
    body: str | None
    user: User
    head_ref: str
    head_sha: str
    base_ref: str
    base_sha: str
    created_at: float
    updated_at: float
    state: str = "open"
    closed_at: float | None = None
    merged_at: float | None = None
    merge_commit_sha: str | None = None
    draft: bool = False


@dataclass
class Issue:
    """A plain issue (pull requests are listed among issues too, rendered from `Pull`)."""

    number: int
    id: int
    title: str
    body: str | None
    user: User
    created_at: float
    updated_at: float
    state: str = "open"
    state_reason: str | None = None
    closed_at: float | None = None
    labels: list[str] = field(default_factory=list)


@dataclass
class Release:
    """A published release and its tag."""

    id: int
    tag_name: str
    target_commitish: str
    name: str
    body: str
    author: User
    created_at: float
    published_at: float
    prerelease: bool = False


@dataclass
class Repo:
    """A repository: its git objects, refs, and the issues, pulls and releases around them."""

    owner: User
    name: str
    id: int
    private: bool
    description: str
    default_branch: str
    created_at: float
    updated_at: float
    pushed_at: float
    store: GitStore = field(default_factory=GitStore)
    refs: dict[str, str] = field(default_factory=dict)  # "refs/heads/main" → commit sha
    pulls: dict[int, Pull] = field(default_factory=dict)
    issues: dict[int, Issue] = field(default_factory=dict)
    releases: list[Release] = field(default_factory=list)
    next_number: int = 1

    @property
    def full_name(self) -> str:
        """``owner/name``."""
        return f"{self.owner.login}/{self.name}"

    def branch(self, name: str) -> str | None:
        """The commit a branch points at, or None."""
        return self.refs.get(f"refs/heads/{name}")

    def take_number(self) -> int:
        """The next issue/pull number (they share one sequence)."""
        number = self.next_number
        self.next_number += 1
        return number


class Ids:
    """Deterministic id sequences, one per kind, so a reset fake hands out the same ids."""

    _BASES = {
        "user": 1_000_000,
        "repo": 700_000_000,
        "issue": 2_000_000_000,
        "pull": 1_900_000_000,
        "release": 150_000_000,
        "hook": 480_000_000,
    }

    def __init__(self) -> None:
        self.last = dict(self._BASES)

    def next(self, kind: str) -> int:
        """The next id of a kind."""
        self.last[kind] += 1
        return self.last[kind]


class Shapes:
    """Renders the state as GitHub's JSON, with URLs under the base the caller used."""

    def __init__(self, api: str) -> None:
        self.api = api.rstrip("/")
        self.web = f"{self.api}/web"

    def repo_url(self, repo: Repo) -> str:
        """The repository's API URL."""
        return f"{self.api}/repos/{repo.full_name}"

    def user(self, user: User) -> dict[str, Any]:
        """A user, as nested in other objects."""
        return {
            "login": user.login,
            "id": user.id,
            "node_id": node_id("U", user.id),
            "avatar_url": f"{self.web}/avatars/{user.login}.png",
            "url": f"{self.api}/users/{user.login}",
            "html_url": f"{self.web}/{user.login}",
            "type": "User",
            "site_admin": False,
        }

    def repo(self, repo: Repo, permission: str | None = None) -> dict[str, Any]:
        """A repository (``permissions`` only for an authenticated caller)."""
        url = self.repo_url(repo)
        shape: dict[str, Any] = {
            "id": repo.id,
            "node_id": node_id("R", repo.id),
            "name": repo.name,
            "full_name": repo.full_name,
            "private": repo.private,
            "owner": self.user(repo.owner),
            "html_url": f"{self.web}/{repo.full_name}",
            "description": repo.description,
            "fork": False,
            "url": url,
            "commits_url": f"{url}/commits{{/sha}}",
            "pulls_url": f"{url}/pulls{{/number}}",
            "issues_url": f"{url}/issues{{/number}}",
            "releases_url": f"{url}/releases{{/id}}",
            "git_refs_url": f"{url}/git/refs{{/sha}}",
            "contents_url": f"{url}/contents/{{+path}}",
            "clone_url": f"{self.web}/{repo.full_name}.git",
            "created_at": iso_time(repo.created_at),
            "updated_at": iso_time(repo.updated_at),
            "pushed_at": iso_time(repo.pushed_at),
            "default_branch": repo.default_branch,
            "visibility": "private" if repo.private else "public",
            "archived": False,
            "disabled": False,
        }
        if permission is not None:
            level = rank(permission)
            shape["permissions"] = {
                "admin": level >= 3,
                "maintain": level >= 3,
                "push": level >= 2,
                "triage": level >= 2,
                "pull": level >= 1,
            }
        return shape

    def person(self, signature: Signature) -> dict[str, Any]:
        """A git author or committer."""
        return {"name": signature.name, "email": signature.email, "date": iso_time(signature.when)}

    def commit_item(
        self, repo: Repo, commit: Commit, author: User | None, committer: User | None
    ) -> dict[str, Any]:
        """A commit as "List commits" shows it; ``author``/``committer`` are the GitHub
        accounts their emails belong to, null when none does."""
        url = self.repo_url(repo)
        return {
            "sha": commit.sha,
            "node_id": node_id("C", int(commit.sha[:12], 16)),
            "url": f"{url}/commits/{commit.sha}",
            "html_url": f"{self.web}/{repo.full_name}/commit/{commit.sha}",
            "comments_url": f"{url}/commits/{commit.sha}/comments",
            "commit": {
                "url": f"{url}/git/commits/{commit.sha}",
                "author": self.person(commit.author),
                "committer": self.person(commit.committer),
                "message": commit.message,
                "tree": {"sha": commit.tree, "url": f"{url}/git/trees/{commit.tree}"},
                "comment_count": 0,
                "verification": _unsigned(),
            },
            "author": self.user(author) if author else None,
            "committer": self.user(committer) if committer else None,
            "parents": [
                {
                    "sha": p,
                    "url": f"{url}/commits/{p}",
                    "html_url": f"{self.web}/{repo.full_name}/commit/{p}",
                }
                for p in commit.parents
            ],
        }

    def git_commit(self, repo: Repo, commit: Commit) -> dict[str, Any]:
        """A commit as the Git database API shows it."""
        url = self.repo_url(repo)
        return {
            "sha": commit.sha,
            "node_id": node_id("C", int(commit.sha[:12], 16)),
            "url": f"{url}/git/commits/{commit.sha}",
            "html_url": f"{self.web}/{repo.full_name}/commit/{commit.sha}",
            "author": self.person(commit.author),
            "committer": self.person(commit.committer),
            "message": commit.message,
            "tree": {"sha": commit.tree, "url": f"{url}/git/trees/{commit.tree}"},
            "parents": [
                {
                    "sha": p,
                    "url": f"{url}/git/commits/{p}",
                    "html_url": f"{self.web}/{repo.full_name}/commit/{p}",
                }
                for p in commit.parents
            ],
            "verification": _unsigned(),
        }

    def ref(self, repo: Repo, name: str, sha: str) -> dict[str, Any]:
        """A git reference."""
        url = self.repo_url(repo)
        return {
            "ref": name,
            "node_id": node_id("REF", int(sha[:12], 16)),
            "url": f"{url}/git/{name}",
            "object": {"sha": sha, "type": "commit", "url": f"{url}/git/commits/{sha}"},
        }

    def pull(self, repo: Repo, pull: Pull, *, detail: bool = False) -> dict[str, Any]:
        """A pull request; ``detail`` adds what only "Get a pull request" shows."""
        url = self.repo_url(repo)
        html = f"{self.web}/{repo.full_name}/pull/{pull.number}"
        shape: dict[str, Any] = {
            "url": f"{url}/pulls/{pull.number}",
            "id": pull.id,
            "node_id": node_id("PR", pull.id),
            "html_url": html,
            "diff_url": f"{html}.diff",
            "patch_url": f"{html}.patch",
            "issue_url": f"{url}/issues/{pull.number}",
            "number": pull.number,
            "state": pull.state,
            "locked": False,
            "title": pull.title,
            "user": self.user(pull.user),
            "body": pull.body,
            "labels": [],
            "created_at": iso_time(pull.created_at),
            "updated_at": iso_time(pull.updated_at),
            "closed_at": _time(pull.closed_at),
            "merged_at": _time(pull.merged_at),
            "merge_commit_sha": pull.merge_commit_sha,
            "draft": pull.draft,
            "head": self._end(repo, pull.head_ref, pull.head_sha),
            "base": self._end(repo, pull.base_ref, pull.base_sha),
            "author_association": "OWNER" if pull.user == repo.owner else "CONTRIBUTOR",
        }
        if detail:
            shape["merged"] = pull.merged_at is not None
            shape["mergeable"] = None if pull.state == "closed" else True
            shape["comments"] = 0
            base = {c.sha for c in repo.store.history(pull.base_sha)}
            shape["commits"] = sum(
                1 for c in repo.store.history(pull.head_sha) if c.sha not in base
            )
        return shape

    def _end(self, repo: Repo, ref: str, sha: str) -> dict[str, Any]:
        return {
            "label": f"{repo.owner.login}:{ref}",
            "ref": ref,
            "sha": sha,
            "user": self.user(repo.owner),
            "repo": self.repo(repo),
        }

    def issue(self, repo: Repo, issue: Issue) -> dict[str, Any]:
        """A plain issue."""
        url = self.repo_url(repo)
        return {
            "url": f"{url}/issues/{issue.number}",
            "repository_url": url,
            "html_url": f"{self.web}/{repo.full_name}/issues/{issue.number}",
            "id": issue.id,
            "node_id": node_id("I", issue.id),
            "number": issue.number,
            "title": issue.title,
            "user": self.user(issue.user),
            "labels": [
                {"name": name, "color": "ededed", "default": False} for name in issue.labels
            ],
            "state": issue.state,
            "state_reason": issue.state_reason,
            "locked": False,
            "assignee": None,
            "assignees": [],
            "comments": 0,
            "created_at": iso_time(issue.created_at),
            "updated_at": iso_time(issue.updated_at),
            "closed_at": _time(issue.closed_at),
            "body": issue.body,
            "author_association": "OWNER" if issue.user == repo.owner else "CONTRIBUTOR",
        }

    def issue_of_pull(self, repo: Repo, pull: Pull) -> dict[str, Any]:
        """A pull request as the issues endpoints list it: an issue with a ``pull_request``
        key, and the issue's id rather than the pull request's."""
        url = self.repo_url(repo)
        html = f"{self.web}/{repo.full_name}/pull/{pull.number}"
        shape = self.issue(
            repo,
            Issue(
                pull.number,
                pull.issue_id,
                pull.title,
                pull.body,
                pull.user,
                pull.created_at,
                pull.updated_at,
                pull.state,
                "completed" if pull.state == "closed" else None,
                pull.closed_at,
            ),
        )
        shape["html_url"] = html
        shape["draft"] = pull.draft
        shape["pull_request"] = {
            "url": f"{url}/pulls/{pull.number}",
            "html_url": html,
            "diff_url": f"{html}.diff",
            "patch_url": f"{html}.patch",
            "merged_at": _time(pull.merged_at),
        }
        return shape

    def release(self, repo: Repo, release: Release) -> dict[str, Any]:
        """A release."""
        url = self.repo_url(repo)
        return {
            "url": f"{url}/releases/{release.id}",
            "html_url": f"{self.web}/{repo.full_name}/releases/tag/{release.tag_name}",
            "id": release.id,
            "node_id": node_id("RE", release.id),
            "tag_name": release.tag_name,
            "target_commitish": release.target_commitish,
            "name": release.name,
            "body": release.body,
            "draft": False,
            "prerelease": release.prerelease,
            "created_at": iso_time(release.created_at),
            "published_at": iso_time(release.published_at),
            "author": self.user(release.author),
            "assets": [],
            "tarball_url": f"{url}/tarball/{release.tag_name}",
            "zipball_url": f"{url}/zipball/{release.tag_name}",
        }

    def content_urls(self, repo: Repo, path: str, ref: str, sha: str, kind: str) -> dict[str, Any]:
        """The url, git_url, html_url, download_url and _links of a content entry."""
        url = self.repo_url(repo)
        quoted = quote(path)
        self_url = f"{url}/contents/{quoted}?ref={quote(ref, safe='')}"
        git_url = f"{url}/git/{'trees' if kind == 'dir' else 'blobs'}/{sha}"
        html = f"{self.web}/{repo.full_name}/{'tree' if kind == 'dir' else 'blob'}/{ref}/{quoted}"
        download = None if kind == "dir" else f"{self.web}/raw/{repo.full_name}/{ref}/{quoted}"
        return {
            "url": self_url,
            "git_url": git_url,
            "html_url": html,
            "download_url": download,
            "_links": {"self": self_url, "git": git_url, "html": html},
        }


def _time(stamp: float | None) -> str | None:
    return None if stamp is None else iso_time(stamp)


def _unsigned() -> dict[str, Any]:
    return {
        "verified": False,
        "reason": "unsigned",
        "signature": None,
        "payload": None,
        "verified_at": None,
    }


__all__ = [
    "PERMISSIONS",
    "Ids",
    "Issue",
    "Pull",
    "Release",
    "Repo",
    "Shapes",
    "Token",
    "User",
    "node_id",
    "rank",
]
