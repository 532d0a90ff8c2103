"""The fake GitHub's data and the changes developers make to it: people and repositories,
commits on branches, pull requests opened, merged or closed, issues filed and closed,
releases cut; plus the seeded sample repository the fake starts with.

Every change is a real git change (objects hashed as git hashes them), so the history the
REST API shows, the SHAs it names and the files it serves all agree.
"""

from __future__ import annotations

import random
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from crosspost.fakes.github_model import Ids, Issue, Pull, Release, Repo, User
from crosspost.fakes.github_objects import Commit, Signature

SAMPLE_OWNER = "sandbox-dev"
SAMPLE_REPO = "crosspost-demo"
DAY = 86_400.0

# (login, name, email); the first owns the sample repository.
PEOPLE = (
    (SAMPLE_OWNER, "Sam Rivera", "sam@crosspost.dev"),
    ("mira-okafor", "Mira Okafor", "mira.okafor@example.com"),
    ("tomasz-wrobel", "Tomasz Wróbel", "tomasz@example.org"),
    ("lena-fischer", "Lena Fischer", "lena.fischer@example.net"),
)
# GitHub's merge commits are committed by web-flow; the release bot's email is no account's,
# so its commits list with "author": null, as unlinked commits do on GitHub.
WEB_FLOW = ("web-flow", "GitHub", "noreply@github.com")
RELEASE_BOT = Signature("Release Bot", "release-bot@ci.example.invalid", 0)

INITIAL_FILES = {
    "README.md": "# crosspost-demo\n\nA small service that publishes one clip everywhere.\n",
    "pyproject.toml": '[project]\nname = "crosspost-demo"\nversion = "0.3.0"\n',
    "src/crosspost_demo/__init__.py": '"""crosspost-demo."""\n',
    "CHANGELOG.md": "# Changelog\n",
}
# Direct commits to main: (message, file they touch).
COMMITS = (
    ("Fix off-by-one in upload chunk offsets", "src/crosspost_demo/upload.py"),
    ("Retry transient 503s from the storage backend with jitter", "src/crosspost_demo/storage.py"),
    ("Bump httpx to 0.28", "pyproject.toml"),
    ("Docs: explain self-hosting behind a reverse proxy", "docs/self-hosting.md"),
    ("Log the request id on every failed publish", "src/crosspost_demo/publish.py"),
    ("Make the scheduler tick interval configurable", "src/crosspost_demo/scheduler.py"),
    ("Cap the thumbnail cache at 200 entries", "src/crosspost_demo/thumbnails.py"),
    ("Tests: cover caption wrapping at 2200 characters", "tests/test_captions.py"),
    ("Handle empty transcripts without crashing", "src/crosspost_demo/captions.py"),
    ("CI: run the Postgres suite on pull requests", ".github/workflows/ci.yml"),
)
# Pull requests: (title, branch, file, outcome).
PULLS = (
    (
        "Add webhook signature verification",
        "feat/webhook-signatures",
        "src/crosspost_demo/webhooks.py",
        "merged",
    ),
    (
        "Stream large uploads instead of buffering them",
        "perf/stream-uploads",
        "src/crosspost_demo/upload.py",
        "merged",
    ),
    (
        "Per-platform caption limits",
        "feat/caption-limits",
        "src/crosspost_demo/captions.py",
        "merged",
    ),
    (
        "Show the publish queue in the dashboard",
        "feat/queue-view",
        "src/crosspost_demo/dashboard.py",
        "open",
    ),
    (
        "Refactor settings loading into one module",
        "refactor/settings",
        "src/crosspost_demo/settings.py",
        "open",
    ),
    (
        "Try a SQLite WAL checkpoint on shutdown",
        "experiment/wal-checkpoint",
        "src/crosspost_demo/store.py",
        "closed",
    ),
)
# Issues: (title, labels, closed).
ISSUES = (
    ("Upload fails for clips over 2 GB", ["bug"], True),
    ("Support scheduling in the creator's own timezone", ["enhancement"], False),
    ("Dashboard shows a blank page when the queue is empty", ["bug"], False),
    ("Document the minimum Postgres version", ["documentation"], True),
    ("Retry budget is shared across platforms", ["bug", "needs-triage"], False),
)


@dataclass
class Seeded:
    """What the sample holds, for tests that want to know without asking the API."""

    repo: Repo
    start: float
    end: float


class World:
    """Everyone and everything the fake knows, and the changes made to it."""

    def __init__(self) -> None:
        self.ids = Ids()
        self.users: dict[str, User] = {}
        self.repos: dict[str, Repo] = {}

    def user(self, login: str, name: str | None = None, email: str | None = None) -> User:
        """The account with this login, created (with a noreply email) when new."""
        known = self.users.get(login.lower())
        if known is not None:
            return known
        user_id = self.ids.next("user")
        user = User(
            login, user_id, name or login, email or f"{user_id}+{login}@users.noreply.github.com"
        )
        self.users[login.lower()] = user
        return user

    def by_email(self, email: str) -> User | None:
        """The account a commit email belongs to, if any."""
        return next((u for u in self.users.values() if u.email.lower() == email.lower()), None)

    def find_repo(self, full_name: str) -> Repo | None:
        """A repository by ``owner/name`` (case-insensitive, as GitHub's paths are)."""
        return self.repos.get(full_name.lower())

    def create_repo(
        self,
        owner: User,
        name: str,
        *,
        at: float,
        private: bool = False,
        description: str = "",
        default_branch: str = "main",
        files: Mapping[str, str] | None = None,
    ) -> Repo:
        """A new repository; with ``files`` its default branch starts at an initial commit."""
        repo = Repo(
            owner, name, self.ids.next("repo"), private, description, default_branch, at, at, at
        )
        self.repos[repo.full_name.lower()] = repo
        if files is not None:
            self.commit(
                repo, default_branch, _sign(owner, at), "Initial commit", dict(files), start=None
            )
        return repo

    def commit(
        self,
        repo: Repo,
        branch: str,
        author: Signature,
        message: str,
        files: Mapping[str, str | None],
        *,
        start: str | None = "",
        committer: Signature | None = None,
    ) -> Commit:
        """Commit file changes (None deletes) on top of a branch and move the branch.

        A branch that does not exist yet starts from ``start`` (a commit; "" means the default
        branch's tip, None means a root commit).
        """
        tip = repo.branch(branch)
        if tip is None and start == "":
            tip = repo.branch(repo.default_branch)
        elif tip is None:
            tip = start
        store = repo.store
        flat = store.flatten(store.commits[tip].tree) if tip else {}
        for path, text in files.items():
            if text is None:
                flat.pop(path, None)
            else:
                flat[path] = ("100644", "blob", store.put_blob(text.encode()))
        made = store.put_commit(
            store.write_tree(flat), (tip,) if tip else (), author, committer or author, message
        )
        self.set_ref(repo, f"refs/heads/{branch}", made.sha, author.when)
        return made

    def text(self, repo: Repo, branch: str, path: str) -> str:
        """A file's text at a branch's tip ("" when absent)."""
        tip = repo.branch(branch)
        entry = repo.store.lookup(repo.store.commits[tip].tree, path) if tip else None
        return repo.store.blobs[entry.sha].decode() if entry and entry.kind == "blob" else ""

    def set_ref(self, repo: Repo, name: str, sha: str, at: float) -> None:
        """Point a ref at a commit; open pull requests from that branch follow it."""
        repo.refs[name] = sha
        if name.startswith("refs/heads/"):
            repo.pushed_at = max(repo.pushed_at, at)
            repo.updated_at = max(repo.updated_at, at)
            branch = name.removeprefix("refs/heads/")
            for pull in repo.pulls.values():
                if pull.state == "open" and pull.head_ref == branch and pull.head_sha != sha:
                    pull.head_sha = sha
                    pull.updated_at = max(pull.updated_at, at)

    def open_pull(
        self,
        repo: Repo,
        *,
        title: str,
        body: str | None,
        user: User,
        head: str,
        base: str,
        at: float,
        draft: bool = False,
    ) -> Pull:
        """Open a pull request from ``head`` into ``base`` (both existing branches)."""
        head_sha, base_sha = repo.branch(head), repo.branch(base)
        assert head_sha is not None
        assert base_sha is not None
        pull = Pull(
            repo.take_number(),
            self.ids.next("pull"),
            self.ids.next("issue"),
            title,
            body,
            user,
            head,
            head_sha,
            base,
            base_sha,
            at,
            at,
            draft=draft,
        )
        repo.pulls[pull.number] = pull
        return pull

    def merge_pull(self, repo: Repo, pull: Pull, by: User, at: float) -> Commit:
        """Merge with a merge commit (committed by web-flow), as the merge button does."""
        store = repo.store
        base_tip = repo.branch(pull.base_ref)
        assert base_tip is not None
        flat = store.flatten(store.commits[base_tip].tree)
        fork = store.flatten(store.commits[pull.base_sha].tree)
        head = store.flatten(store.commits[pull.head_sha].tree)
        for path in set(fork) | set(head):
            if fork.get(path) != head.get(path):
                if path in head:
                    flat[path] = head[path]
                else:
                    flat.pop(path, None)
        web = self.user(*WEB_FLOW)
        message = (
            f"Merge pull request #{pull.number} from {repo.owner.login}/{pull.head_ref}"
            f"\n\n{pull.title}"
        )
        merge = store.put_commit(
            store.write_tree(flat),
            (base_tip, pull.head_sha),
            _sign(by, at),
            _sign(web, at),
            message,
        )
        self.set_ref(repo, f"refs/heads/{pull.base_ref}", merge.sha, at)
        pull.state, pull.merged_at, pull.closed_at = "closed", at, at
        pull.merge_commit_sha, pull.updated_at = merge.sha, at
        return merge

    def close_pull(self, pull: Pull, at: float) -> None:
        """Close without merging."""
        pull.state, pull.closed_at, pull.updated_at = "closed", at, at

    def file_issue(
        self,
        repo: Repo,
        *,
        title: str,
        body: str | None,
        user: User,
        at: float,
        labels: list[str] | None = None,
    ) -> Issue:
        """File an issue."""
        issue = Issue(
            repo.take_number(),
            self.ids.next("issue"),
            title,
            body,
            user,
            at,
            at,
            labels=list(labels or []),
        )
        repo.issues[issue.number] = issue
        return issue

    def close_issue(self, issue: Issue, at: float) -> None:
        """Close an issue as completed."""
        issue.state, issue.state_reason = "closed", "completed"
        issue.closed_at, issue.updated_at = at, at

    def release(
        self,
        repo: Repo,
        *,
        tag: str,
        name: str,
        body: str,
        author: User,
        at: float,
        prerelease: bool = False,
    ) -> Release:
        """Tag the default branch's tip and publish a release for the tag."""
        tip = repo.branch(repo.default_branch)
        assert tip is not None
        repo.refs[f"refs/tags/{tag}"] = tip
        release = Release(
            self.ids.next("release"),
            tag,
            repo.default_branch,
            name,
            body,
            author,
            at,
            at,
            prerelease,
        )
        repo.releases.append(release)
        return release


def _sign(user: User, at: float) -> Signature:
    return Signature(user.name, user.email, int(at))


def line_added(world: World, repo: Repo, branch: str, path: str, line: str) -> dict[str, str]:
    """The change that appends one line to a file (creating it), as a `commit` files map."""
    return {path: world.text(repo, branch, path) + line + "\n"}


def build_sample(world: World, now: float, seed: int, *, private: bool = False) -> Seeded:
    """The sample repository: thirty days old, with three days of a team's activity before
    ``now`` (direct commits, pull requests merged, open and closed, issues, two releases).

    The same seed and ``now`` always build the same history, down to every SHA.
    """
    rng = random.Random(f"github-sample:{seed}")
    people = [world.user(*person) for person in PEOPLE]
    owner = people[0]
    start, end = now - 3 * DAY, now - 1800.0
    repo = world.create_repo(
        owner,
        SAMPLE_REPO,
        at=now - 30 * DAY,
        private=private,
        description="Publish one clip everywhere, exactly once.",
        files=INITIAL_FILES,
    )
    plan: list[tuple[float, int, str, tuple[Any, ...]]] = []

    def at(low: float, high: float) -> float:
        return float(int(rng.uniform(low, high)))

    def add(when: float, kind: str, *args: Any) -> None:
        plan.append((when, len(plan), kind, args))

    for message, path in COMMITS:
        add(at(start, end), "commit", message, path, rng.choice(people))
    for title, branch, path, outcome in PULLS:
        who, opened = rng.choice(people), at(start, end - 8 * 3600)
        add(opened, "propose", title, branch, path, who)
        if outcome != "open":
            add(at(opened + 3600, min(opened + 10 * 3600, end)), outcome, branch)
    for title, labels, closed in ISSUES:
        who, opened = rng.choice(people), at(start, end - 6 * 3600)
        add(opened, "issue", title, labels, who)
        if closed:
            add(at(opened + 1800, end), "close_issue", title)
    for index, (fraction, version) in enumerate(((0.4, "0.3.1"), (0.85, "0.4.0"))):
        add(float(int(start + fraction * (end - start))) + index, "release", version)
    for when, _, kind, args in sorted(plan, key=lambda step: (step[0], step[1])):
        _perform(world, repo, owner, when, kind, args)
    return Seeded(repo, start, end)


def _perform(
    world: World, repo: Repo, owner: User, when: float, kind: str, args: tuple[Any, ...]
) -> None:
    """One step of the sample's plan."""
    main = repo.default_branch
    if kind == "commit":
        message, path, who = args
        world.commit(
            repo,
            main,
            _sign(who, when),
            message,
            line_added(world, repo, main, path, f"# {message}"),
        )
    elif kind == "propose":
        title, branch, path, who = args
        _propose(world, repo, title, branch, path, who, when)
    elif kind == "merged":
        world.merge_pull(repo, _by_head(repo, args[0]), owner, when)
    elif kind == "closed":
        world.close_pull(_by_head(repo, args[0]), when)
    elif kind == "issue":
        title, labels, who = args
        world.file_issue(
            repo,
            title=title,
            body=f"Seen on {main}: {title.lower()}.",
            user=who,
            at=when,
            labels=labels,
        )
    elif kind == "close_issue":
        world.close_issue(next(i for i in repo.issues.values() if i.title == args[0]), when)
    else:
        _cut_release(world, repo, owner, args[0], when)


def _propose(
    world: World, repo: Repo, title: str, branch: str, path: str, who: User, opened: float
) -> Pull:
    change = line_added(world, repo, repo.default_branch, path, f"# {title}")
    first = world.commit(repo, branch, _sign(who, opened - 1200), f"WIP: {title.lower()}", change)
    world.commit(
        repo,
        branch,
        _sign(who, opened - 600),
        "Address review notes",
        line_added(world, repo, branch, path, "# reviewed"),
        start=first.sha,
    )
    return world.open_pull(
        repo,
        title=title,
        body=f"{title}.\n\nCloses nothing yet.",
        user=who,
        head=branch,
        base=repo.default_branch,
        at=opened,
    )


def _by_head(repo: Repo, branch: str) -> Pull:
    return next(p for p in repo.pulls.values() if p.head_ref == branch)


def _cut_release(world: World, repo: Repo, owner: User, version: str, when: float) -> Release:
    main = repo.default_branch
    files = line_added(world, repo, main, "CHANGELOG.md", f"\n## {version}")
    files["pyproject.toml"] = INITIAL_FILES["pyproject.toml"].replace("0.3.0", version)
    bot = Signature(RELEASE_BOT.name, RELEASE_BOT.email, int(when) - 60)
    world.commit(repo, main, bot, f"Release v{version}", files)
    merged = [p.title for p in repo.pulls.values() if p.merged_at is not None]
    notes = "\n".join(f"* {title}" for title in merged) or "* Maintenance release"
    return world.release(
        repo,
        tag=f"v{version}",
        name=f"v{version}",
        body=f"## What's changed\n{notes}",
        author=owner,
        at=when,
    )


__all__ = [
    "PEOPLE",
    "SAMPLE_OWNER",
    "SAMPLE_REPO",
    "Seeded",
    "World",
    "build_sample",
    "line_added",
]
