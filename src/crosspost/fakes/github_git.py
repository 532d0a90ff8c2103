"""The GitHub fake's write side: the Git database API (blobs, trees, commits, refs) and
creating and updating pull requests, as GitHub documents them.

Objects get real git SHA-1s (`github_objects`). Refused as GitHub refuses: a ref name without
``refs/`` and two slashes, a ref that already exists ("Reference already exists"), a ref moved
backwards without ``force`` ("Update is not a fast forward"), objects that do not exist, a
second open pull request for the same head ("A pull request already exists for owner:branch."),
a head or base branch that does not exist (422 naming the field), and writes to an empty
repository (409 "Git Repository is empty.").
"""

from __future__ import annotations

import base64
import binascii
import re
from typing import Any

from crosspost.fakes.github_call import Call, Endpoint
from crosspost.fakes.github_model import Pull, Repo
from crosspost.fakes.github_objects import BLOB_MODES, COMMIT_MODE, TREE_MODE, Flat, Signature
from crosspost.fakes.github_reads import EMPTY, resolve
from crosspost.fakes.github_rules import (
    Answer,
    ApiError,
    base64_lines,
    body_fields,
    not_found,
    parse_time,
    validation_failed,
)

_MODE_KIND = {**dict.fromkeys(BLOB_MODES, "blob"), TREE_MODE: "tree", COMMIT_MODE: "commit"}


def _require_history(call: Call) -> Repo:
    repo = call.repo
    if not repo.refs:
        raise ApiError(409, EMPTY, doc=call.doc)
    return repo


def _created(answer_body: dict[str, Any], location: str) -> Answer:
    return Answer(answer_body, 201, headers={"Location": location})


async def create_blob(call: Call) -> Answer:
    """POST /repos/{owner}/{repo}/git/blobs."""
    repo = _require_history(call)
    body = body_fields(
        await call.body(), call.doc, {"content": "a string"}, {"encoding": "a string"}
    )
    encoding = body.get("encoding", "utf-8")
    if encoding not in ("utf-8", "base64"):
        raise validation_failed(
            call.doc, {"resource": "Blob", "field": "encoding", "code": "invalid"}
        )
    if encoding == "base64":
        try:
            data = base64.b64decode(body["content"], validate=False)
        except (binascii.Error, ValueError):
            raise validation_failed(
                call.doc, {"resource": "Blob", "field": "content", "code": "invalid"}
            ) from None
    else:
        data = body["content"].encode()
    sha = repo.store.put_blob(data)
    url = f"{call.shapes.repo_url(repo)}/git/blobs/{sha}"
    return _created({"url": url, "sha": sha}, url)


async def get_blob(call: Call) -> Answer:
    """GET /repos/{owner}/{repo}/git/blobs/{sha}."""
    repo, sha = call.repo, call.param("sha")
    data = repo.store.blobs.get(sha)
    if data is None:
        raise not_found(call.doc)
    return Answer(
        {
            "sha": sha,
            "node_id": f"B_{sha[:20]}",
            "size": len(data),
            "url": f"{call.shapes.repo_url(repo)}/git/blobs/{sha}",
            "content": base64_lines(data),
            "encoding": "base64",
        }
    )


async def create_tree(call: Call) -> Answer:
    """POST /repos/{owner}/{repo}/git/trees: entries (path, mode, type, sha or content) over
    an optional ``base_tree``; nested paths make nested trees; ``sha: null`` deletes."""
    repo = _require_history(call)
    store, doc = repo.store, call.doc
    body = body_fields(await call.body(), doc, {"tree": "an array"}, {"base_tree": "a string"})
    flat: Flat = {}
    if "base_tree" in body:
        if body["base_tree"] not in store.trees:
            raise call.fail(422, "base_tree is not a valid tree oid")
        flat = store.flatten(body["base_tree"])
    for entry in body["tree"]:
        _apply_entry(call, repo, flat, entry)
    sha = store.write_tree(flat)
    url = f"{call.shapes.repo_url(repo)}/git/trees/{sha}"
    return _created(
        {
            "sha": sha,
            "url": url,
            "tree": _entries(call, repo, sha, recursive=False),
            "truncated": False,
        },
        url,
    )


def _apply_entry(call: Call, repo: Repo, flat: Flat, entry: Any) -> None:
    store = repo.store
    if not isinstance(entry, dict):
        raise call.fail(422, "Invalid request.\n\nFor 'items', the tree entries must be objects.")
    path, mode, kind = entry.get("path"), entry.get("mode"), entry.get("type")
    if not isinstance(path, str) or any(p in ("", ".", "..", ".git") for p in path.split("/")):
        raise call.fail(422, "tree.path contains a malformed path component")
    if mode not in _MODE_KIND:
        raise call.fail(422, f"tree.mode {mode!r} is not one of {sorted(_MODE_KIND)}")
    if kind is not None and kind != _MODE_KIND[mode]:
        raise call.fail(422, f"tree.type {kind!r} does not match tree.mode {mode}")
    kind = _MODE_KIND[mode]
    has_sha, has_content = "sha" in entry, "content" in entry
    if has_sha == has_content:
        raise call.fail(
            422,
            "Must supply either tree.sha or tree.content. Request will be "
            "rejected if both are present.",
        )
    inside = [p for p in flat if p == path or p.startswith(f"{path}/")]
    if has_content:
        if kind != "blob" or not isinstance(entry["content"], str):
            raise call.fail(422, "tree.content must be a string for a blob entry")
        for old in inside:
            del flat[old]
        flat[path] = (mode, "blob", store.put_blob(entry["content"].encode()))
        return
    sha = entry["sha"]
    if sha is None:
        if not inside:
            raise call.fail(422, f"tree.path {path} does not exist, so it cannot be deleted")
        for old in inside:
            del flat[old]
        return
    if not isinstance(sha, str) or (kind != "commit" and store.kind_of(sha) != kind):
        raise call.fail(422, f"tree.sha {sha} is not a valid {kind}")
    for old in inside:
        del flat[old]
    if kind == "tree":
        flat.update({f"{path}/{sub}": value for sub, value in store.flatten(sha).items()})
    else:
        flat[path] = (mode, kind, sha)


def _entries(call: Call, repo: Repo, tree: str, *, recursive: bool) -> list[dict[str, Any]]:
    store, url = repo.store, call.shapes.repo_url(repo)
    walked = store.walk(tree) if recursive else ((e.name, e) for e in store.trees[tree])
    shown = []
    for path, entry in walked:
        item: dict[str, Any] = {
            "path": path,
            "mode": entry.mode,
            "type": entry.kind,
            "sha": entry.sha,
        }
        if entry.kind == "blob":
            item["size"] = len(store.blobs[entry.sha])
            item["url"] = f"{url}/git/blobs/{entry.sha}"
        elif entry.kind == "tree":
            item["url"] = f"{url}/git/trees/{entry.sha}"
        shown.append(item)
    return shown


async def get_tree(call: Call) -> Answer:
    """GET /repos/{owner}/{repo}/git/trees/{tree_sha}?recursive=: by tree SHA or ref name."""
    repo, wanted = call.repo, call.param("sha")
    tree = wanted if wanted in repo.store.trees else None
    if tree is None:
        commit = resolve(repo, wanted)
        tree = repo.store.commits[commit].tree if commit else None
    if tree is None:
        raise not_found(call.doc)
    recursive = call.query("recursive") not in (None, "", "0", "false")
    return Answer(
        {
            "sha": tree,
            "url": f"{call.shapes.repo_url(repo)}/git/trees/{tree}",
            "tree": _entries(call, repo, tree, recursive=recursive),
            "truncated": False,
        }
    )


async def create_commit(call: Call) -> Answer:
    """POST /repos/{owner}/{repo}/git/commits: author and committer default to the caller,
    now; a committer defaults to the author given."""
    repo = _require_history(call)
    body = body_fields(
        await call.body(),
        call.doc,
        {"message": "a string", "tree": "a string"},
        {"parents": "an array", "author": "an object", "committer": "an object"},
    )
    store = repo.store
    if body["tree"] not in store.trees:
        raise call.fail(422, "Tree SHA does not exist")
    parents = tuple(body.get("parents", []))
    for parent in parents:
        if not isinstance(parent, str) or parent not in store.commits:
            raise call.fail(422, "Parent SHA does not exist or is not a commit object")
    assert call.user is not None  # a write needs a token
    fallback = Signature(call.user.name, call.user.email, int(call.now))
    author = _signature(call, body.get("author"), fallback, "author")
    committer = _signature(call, body.get("committer"), author, "committer")
    commit = store.put_commit(body["tree"], parents, author, committer, body["message"])
    shape = call.shapes.git_commit(repo, commit)
    return _created(shape, shape["url"])


def _signature(call: Call, given: Any, fallback: Signature, name: str) -> Signature:
    if given is None:
        return fallback
    for key in ("name", "email"):
        if not isinstance(given.get(key), str):
            raise call.fail(422, f'Invalid request.\n\n"{key}" wasn\'t supplied.')
    date = given.get("date")
    when, offset = fallback.when, "+0000"
    if date is not None:
        stamp = parse_time(date) if isinstance(date, str) else None
        if stamp is None:
            raise call.fail(
                422, f"Invalid request.\n\nFor 'properties/date', {date!r} is not a date-time."
            )
        when, zone = int(stamp), re.search(r"([+-]\d{2}):?(\d{2})$", date)
        offset = f"{zone.group(1)}{zone.group(2)}" if zone else "+0000"
    return Signature(given["name"], given["email"], when, offset)


async def get_commit_object(call: Call) -> Answer:
    """GET /repos/{owner}/{repo}/git/commits/{commit_sha}."""
    repo, sha = call.repo, call.param("sha")
    commit = repo.store.commits.get(sha)
    if commit is None:
        raise not_found(call.doc)
    return Answer(call.shapes.git_commit(repo, commit), last_modified=commit.committer.when)


async def get_ref(call: Call) -> Answer:
    """GET /repos/{owner}/{repo}/git/ref/{ref}: ``heads/<branch>`` or ``tags/<tag>``."""
    repo, name = call.repo, f"refs/{call.param('ref')}"
    if name not in repo.refs:
        raise not_found(call.doc)
    return Answer(call.shapes.ref(repo, name, repo.refs[name]))


async def matching_refs(call: Call) -> Answer:
    """GET /repos/{owner}/{repo}/git/matching-refs/{ref}: refs starting with the name."""
    repo, prefix = call.repo, f"refs/{call.param('ref')}"
    return Answer(
        [
            call.shapes.ref(repo, name, sha)
            for name, sha in sorted(repo.refs.items())
            if name.startswith(prefix)
        ]
    )


async def create_ref(call: Call) -> Answer:
    """POST /repos/{owner}/{repo}/git/refs."""
    repo = _require_history(call)
    body = body_fields(await call.body(), call.doc, {"ref": "a string", "sha": "a string"})
    name, sha = body["ref"], body["sha"]
    if not name.startswith("refs/") or name.count("/") < 2 or name.endswith("/"):
        raise call.fail(422, f"{name} is not a valid ref name.")
    if name in repo.refs:
        raise call.fail(422, "Reference already exists")
    if repo.store.kind_of(sha) is None:
        raise call.fail(422, "Object does not exist")
    call.world.set_ref(repo, name, sha, call.now)
    shape = call.shapes.ref(repo, name, sha)
    return _created(shape, shape["url"])


async def update_ref(call: Call) -> Answer:
    """PATCH /repos/{owner}/{repo}/git/refs/{ref}: only forward unless ``force``."""
    repo = call.repo
    body = body_fields(await call.body(), call.doc, {"sha": "a string"}, {"force": "a boolean"})
    name, sha = f"refs/{call.param('ref')}", body["sha"]
    if name not in repo.refs:
        raise call.fail(422, "Reference does not exist")
    if sha not in repo.store.commits:
        raise call.fail(422, "Object does not exist")
    if not body.get("force", False) and not repo.store.is_ancestor(repo.refs[name], sha):
        raise call.fail(422, "Update is not a fast forward")
    call.world.set_ref(repo, name, sha, call.now)
    return Answer(call.shapes.ref(repo, name, sha))


async def delete_ref(call: Call) -> Answer:
    """DELETE /repos/{owner}/{repo}/git/refs/{ref}."""
    repo, name = call.repo, f"refs/{call.param('ref')}"
    if repo.refs.pop(name, None) is None:
        raise call.fail(422, "Reference does not exist")
    return Answer(None, 204)


async def create_pull(call: Call) -> Answer:
    """POST /repos/{owner}/{repo}/pulls."""
    repo, doc = call.repo, call.doc
    body = body_fields(
        await call.body(),
        doc,
        {"head": "a string", "base": "a string"},
        {
            "title": "a string",
            "body": "a string or null",
            "draft": "a boolean",
            "maintainer_can_modify": "a boolean",
        },
    )
    owner, _, head = body["head"].rpartition(":")
    errors = []
    if (owner and owner.lower() != repo.owner.login.lower()) or repo.branch(head) is None:
        errors.append({"resource": "PullRequest", "field": "head", "code": "invalid"})
    if repo.branch(body["base"]) is None:
        errors.append({"resource": "PullRequest", "field": "base", "code": "invalid"})
    if errors:
        raise validation_failed(doc, *errors)
    if not body.get("title"):
        raise validation_failed(
            doc, {"resource": "PullRequest", "code": "missing_field", "field": "title"}
        )
    base = body["base"]
    for pull in repo.pulls.values():
        if pull.state == "open" and pull.head_ref == head and pull.base_ref == base:
            raise validation_failed(
                doc,
                {
                    "resource": "PullRequest",
                    "code": "custom",
                    "message": f"A pull request already exists for {repo.owner.login}:{head}.",
                },
            )
    head_sha, base_sha = repo.branch(head), repo.branch(base)
    assert head_sha is not None
    assert base_sha is not None
    if repo.store.is_ancestor(head_sha, base_sha):
        raise validation_failed(
            doc,
            {
                "resource": "PullRequest",
                "code": "custom",
                "message": f"No commits between {base} and {head}",
            },
        )
    assert call.user is not None
    pull = call.world.open_pull(
        repo,
        title=body["title"],
        body=body.get("body"),
        user=call.user,
        head=head,
        base=base,
        at=call.now,
        draft=bool(body.get("draft", False)),
    )
    shape = call.shapes.pull(repo, pull, detail=True)
    return _created(shape, shape["url"])


async def update_pull(call: Call) -> Answer:
    """PATCH /repos/{owner}/{repo}/pulls/{pull_number}: title, body, state, base."""
    repo, doc = call.repo, call.doc
    number = call.param("number")
    pull: Pull | None = repo.pulls.get(int(number)) if number.isdigit() else None
    if pull is None:
        raise not_found(doc)
    body = body_fields(
        await call.body(),
        doc,
        {},
        {
            "title": "a string",
            "body": "a string or null",
            "state": "a string",
            "base": "a string",
            "maintainer_can_modify": "a boolean",
        },
    )
    state = body.get("state", pull.state)
    if state not in ("open", "closed"):
        raise validation_failed(
            doc, {"resource": "PullRequest", "field": "state", "code": "invalid"}
        )
    if "base" in body and repo.branch(body["base"]) is None:
        raise validation_failed(
            doc, {"resource": "PullRequest", "field": "base", "code": "invalid"}
        )
    if state == "open" and pull.state == "closed":
        if pull.merged_at is not None or repo.branch(pull.head_ref) is None:
            raise validation_failed(
                doc,
                {
                    "resource": "PullRequest",
                    "code": "custom",
                    "message": "state cannot be changed. The "
                    f"{pull.head_ref} branch has been deleted."
                    if pull.merged_at is None
                    else "state cannot be changed. The pull request cannot "
                    "be reopened because it is merged.",
                },
            )
        pull.state, pull.closed_at = "open", None
    elif state == "closed" and pull.state == "open":
        call.world.close_pull(pull, call.now)
    pull.title = body.get("title", pull.title)
    pull.body = body.get("body", pull.body)
    pull.base_ref = body.get("base", pull.base_ref)
    pull.updated_at = call.now
    return Answer(call.shapes.pull(repo, pull, detail=True))


WRITES = (
    Endpoint(
        "POST",
        "/repos/{owner}/{repo}/git/blobs",
        create_blob,
        "blob_create",
        "write",
        "contents=write",
    ),
    Endpoint(
        "GET", "/repos/{owner}/{repo}/git/blobs/{sha}", get_blob, "blob", "read", "contents=read"
    ),
    Endpoint(
        "POST",
        "/repos/{owner}/{repo}/git/trees",
        create_tree,
        "tree_create",
        "write",
        "contents=write",
    ),
    Endpoint(
        "GET",
        "/repos/{owner}/{repo}/git/trees/{sha:path}",
        get_tree,
        "tree",
        "read",
        "contents=read",
    ),
    Endpoint(
        "POST",
        "/repos/{owner}/{repo}/git/commits",
        create_commit,
        "gitcommit_create",
        "write",
        "contents=write",
    ),
    Endpoint(
        "GET",
        "/repos/{owner}/{repo}/git/commits/{sha}",
        get_commit_object,
        "gitcommit",
        "read",
        "contents=read",
    ),
    Endpoint(
        "GET", "/repos/{owner}/{repo}/git/ref/{ref:path}", get_ref, "ref", "read", "contents=read"
    ),
    Endpoint(
        "GET",
        "/repos/{owner}/{repo}/git/matching-refs/{ref:path}",
        matching_refs,
        "ref",
        "read",
        "contents=read",
    ),
    Endpoint(
        "POST",
        "/repos/{owner}/{repo}/git/refs",
        create_ref,
        "ref_create",
        "write",
        "contents=write",
    ),
    Endpoint(
        "PATCH",
        "/repos/{owner}/{repo}/git/refs/{ref:path}",
        update_ref,
        "ref_update",
        "write",
        "contents=write",
    ),
    Endpoint(
        "DELETE",
        "/repos/{owner}/{repo}/git/refs/{ref:path}",
        delete_ref,
        "ref_delete",
        "write",
        "contents=write",
    ),
    Endpoint(
        "POST",
        "/repos/{owner}/{repo}/pulls",
        create_pull,
        "pull_create",
        "write",
        "pull_requests=write",
    ),
    Endpoint(
        "PATCH",
        "/repos/{owner}/{repo}/pulls/{number}",
        update_pull,
        "pull_update",
        "write",
        "pull_requests=write",
    ),
)

__all__ = ["WRITES"]
