"""A recap proposed as a pull request on the pipeline's recap repository: the file
committed on a branch of its own (blob, tree, commit, ref), and the pull request opened,
or, when the branch and its pull request already exist (a rerun, or a run taken over from
a worker that died), the branch moved to the new content and the pull request updated.

Idempotent: the branch is named after the file, a file already holding the same bytes is
not committed again, and an open pull request from the branch is found before one is
opened, so one recap has one branch and one pull request however often it is proposed.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from typing import Any

from crosspost.domain.content import PullRequestRef
from crosspost.domain.enums import ErrorKind
from crosspost.engine.services import Services
from crosspost.pipeline.github_backfill import github_client
from crosspost.providers.errors import ProviderError

BRANCH_PREFIX = "crosspost/"


def blob_sha(content: bytes) -> str:
    """The git blob id of `content` (what GitHub reports as a file's sha)."""
    return hashlib.sha1(b"blob %d\0" % len(content) + content, usedforsecurity=False).hexdigest()


def branch_for(path: str) -> str:
    """The branch a recap file is proposed on: one per file."""
    stem = path.rsplit("/", 1)[-1].rsplit(".", 1)[0]
    return f"{BRANCH_PREFIX}{stem}"


def propose(
    svc: Services,
    pipeline: Mapping[str, Any],
    *,
    path: str,
    content: bytes,
    title: str,
    description: str,
) -> PullRequestRef:
    """Commit `content` at `path` on the recap's branch and open or update its pull
    request. ProviderError (permanent) when the pipeline has no recap target or token."""
    recap = pipeline["recap"]
    client = github_client(svc, pipeline)
    if not recap or client is None:
        missing = "a recap target (PATCH its recap)" if not recap else "a github_token"
        raise ProviderError(
            ErrorKind.PERMANENT,
            "recap_not_configured",
            f"the pipeline needs {missing} to open pull requests",
        )
    repo, base = recap["repository"], recap["base_branch"]
    branch = branch_for(path)
    base_sha = client.branch_sha(repo, base)
    if base_sha is None:
        raise ProviderError(
            ErrorKind.PERMANENT,
            "recap_base_missing",
            f"{repo} has no branch {base}; fix the pipeline's recap.base_branch",
        )
    head = client.branch_sha(repo, branch)
    commit = head
    if head is None or client.file_sha(repo, path, head) != blob_sha(content):
        commit = client.commit_file(
            repo, parent=head or base_sha, path=path, content=content, message=title
        )
        if head is None:
            client.create_branch(repo, branch, commit)
        else:
            client.move_branch(repo, branch, commit)
    assert commit is not None
    pull = client.open_pull(repo, branch)
    created = pull is None
    if pull is None:
        pull = client.create_pull(repo, head=branch, base=base, title=title, body=description)
    elif pull.get("title") != title or (pull.get("body") or "") != description:
        pull = client.update_pull(repo, int(pull["number"]), title=title, body=description)
    return PullRequestRef(
        number=int(pull["number"]),
        url=str(pull["html_url"]),
        branch=branch,
        commit=commit,
        created=created,
    )
