"""A repository's git objects with their real SHA-1s: blobs, trees and commits.

Each object is hashed exactly as git hashes it (``sha1(b"<type> <size>\\0" + body)``, trees in
git's entry order and binary form, commits in git's header format), so a test can check any
SHA the fake hands out with nothing but hashlib.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator, Mapping
from dataclasses import dataclass

BLOB_MODES = ("100644", "100755", "120000")
TREE_MODE = "040000"  # as the API spells it; inside the tree object git writes "40000"
COMMIT_MODE = "160000"  # a submodule's commit


def object_sha(kind: str, body: bytes) -> str:
    """Git's object id for a body of the given type."""
    return hashlib.sha1(f"{kind} {len(body)}\0".encode() + body, usedforsecurity=False).hexdigest()


@dataclass(frozen=True)
class Entry:
    """One tree entry: its name within the tree, mode (API spelling), type and object."""

    name: str
    mode: str
    kind: str  # "blob", "tree" or "commit"
    sha: str


@dataclass(frozen=True)
class Signature:
    """An author or committer line: who, and when (epoch seconds, with a UTC offset)."""

    name: str
    email: str
    when: int
    offset: str = "+0000"

    def line(self) -> str:
        """The signature as git writes it."""
        return f"{self.name} <{self.email}> {self.when} {self.offset}"


@dataclass(frozen=True)
class Commit:
    """A commit object."""

    sha: str
    tree: str
    parents: tuple[str, ...]
    author: Signature
    committer: Signature
    message: str


# A path's entry when a tree is flattened: (mode, type, sha).
Flat = dict[str, tuple[str, str, str]]


class GitStore:
    """The object database of one repository."""

    def __init__(self) -> None:
        self.blobs: dict[str, bytes] = {}
        self.trees: dict[str, tuple[Entry, ...]] = {}
        self.commits: dict[str, Commit] = {}

    def kind_of(self, sha: str) -> str | None:
        """ "blob", "tree", "commit", or None for an unknown object."""
        if sha in self.blobs:
            return "blob"
        if sha in self.trees:
            return "tree"
        return "commit" if sha in self.commits else None

    def put_blob(self, data: bytes) -> str:
        """Store a blob; its SHA."""
        sha = object_sha("blob", data)
        self.blobs[sha] = data
        return sha

    def put_tree(self, entries: list[Entry]) -> str:
        """Store one level of a tree (entries named without slashes); its SHA."""
        ordered = tuple(sorted(entries, key=_order))
        body = b"".join(
            f"{e.mode.lstrip('0')} {e.name}\0".encode() + bytes.fromhex(e.sha) for e in ordered
        )
        sha = object_sha("tree", body)
        self.trees[sha] = ordered
        return sha

    def write_tree(self, flat: Mapping[str, tuple[str, str, str]]) -> str:
        """Store the nested trees for a flat ``{path: (mode, type, sha)}`` map; the root's SHA."""
        children: dict[str, dict[str, tuple[str, str, str]]] = {}
        entries: list[Entry] = []
        for path, (mode, kind, sha) in flat.items():
            head, _, rest = path.partition("/")
            if rest:
                children.setdefault(head, {})[rest] = (mode, kind, sha)
            else:
                entries.append(Entry(head, mode, kind, sha))
        for name, below in children.items():
            entries.append(Entry(name, TREE_MODE, "tree", self.write_tree(below)))
        return self.put_tree(entries)

    def flatten(self, tree: str, prefix: str = "") -> Flat:
        """Every non-tree entry under a tree, keyed by its full path."""
        flat: Flat = {}
        for entry in self.trees.get(tree, ()):
            path = f"{prefix}{entry.name}"
            if entry.kind == "tree":
                flat.update(self.flatten(entry.sha, f"{path}/"))
            else:
                flat[path] = (entry.mode, entry.kind, entry.sha)
        return flat

    def walk(self, tree: str, prefix: str = "") -> Iterator[tuple[str, Entry]]:
        """Every entry under a tree, subtrees included, as (full path, entry)."""
        for entry in self.trees.get(tree, ()):
            path = f"{prefix}{entry.name}"
            yield path, entry
            if entry.kind == "tree":
                yield from self.walk(entry.sha, f"{path}/")

    def put_commit(
        self,
        tree: str,
        parents: tuple[str, ...],
        author: Signature,
        committer: Signature,
        message: str,
    ) -> Commit:
        """Store a commit; the commit."""
        lines = [
            f"tree {tree}",
            *(f"parent {p}" for p in parents),
            f"author {author.line()}",
            f"committer {committer.line()}",
        ]
        body = ("\n".join(lines) + "\n\n" + message).encode()
        commit = Commit(object_sha("commit", body), tree, parents, author, committer, message)
        self.commits[commit.sha] = commit
        return commit

    def history(self, head: str) -> list[Commit]:
        """Every commit reachable from ``head``, newest committer date first (ties: the
        later-written first, as a topological walk would show a child before its parent)."""
        seen: dict[str, int] = {}
        stack = [head]
        while stack:
            sha = stack.pop()
            if sha in seen or sha not in self.commits:
                continue
            seen[sha] = len(seen)
            stack.extend(self.commits[sha].parents)
        return sorted(
            (self.commits[sha] for sha in seen),
            key=lambda c: (-c.committer.when, seen[c.sha]),
        )

    def is_ancestor(self, old: str, new: str) -> bool:
        """True when ``old`` is reachable from ``new`` (moving a ref old→new fast-forwards)."""
        return any(c.sha == old for c in self.history(new))

    def lookup(self, tree: str, path: str) -> Entry | None:
        """The entry at ``path`` under a tree; a root-level pseudo-entry for ``""``."""
        if not path:
            return Entry("", TREE_MODE, "tree", tree)
        current = tree
        parts = path.strip("/").split("/")
        for index, part in enumerate(parts):
            found = next((e for e in self.trees.get(current, ()) if e.name == part), None)
            if found is None:
                return None
            if index == len(parts) - 1:
                return found
            if found.kind != "tree":
                return None
            current = found.sha
        return None

    def changes(self, commit: Commit) -> list[tuple[str, str, str]]:
        """(path, status, blob sha) for what a commit changed against its first parent."""
        before = self.flatten(self.commits[commit.parents[0]].tree) if commit.parents else {}
        after = self.flatten(commit.tree)
        changed = []
        for path in sorted(set(before) | set(after)):
            if path not in before:
                changed.append((path, "added", after[path][2]))
            elif path not in after:
                changed.append((path, "removed", before[path][2]))
            elif before[path] != after[path]:
                changed.append((path, "modified", after[path][2]))
        return changed


def _order(entry: Entry) -> bytes:
    # git sorts a subtree as if its name ended in "/"
    return entry.name.encode() + (b"/" if entry.kind == "tree" else b"")


__all__ = [
    "BLOB_MODES",
    "COMMIT_MODE",
    "TREE_MODE",
    "Commit",
    "Entry",
    "Flat",
    "GitStore",
    "Signature",
    "object_sha",
]
