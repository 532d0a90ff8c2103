"""What an endpoint handler of the GitHub fake is given: the request, the caller, the
repository the path names (already checked for access), the world, and readers for the
query and the JSON body that fail as GitHub fails."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from starlette.requests import Request

from crosspost.fakes.github_model import Repo, Shapes, User
from crosspost.fakes.github_rules import Answer, ApiError, doc_url, parse_body
from crosspost.fakes.github_world import World


@dataclass
class Call:
    """One API call as a handler sees it."""

    request: Request
    world: World
    shapes: Shapes
    user: User | None
    permission: str | None  # the caller's permission on `repo`, None when anonymous
    now: float
    doc_key: str
    _repo: Repo | None = None

    @property
    def doc(self) -> str:
        """This endpoint's documentation URL, for its errors."""
        return doc_url(self.doc_key)

    @property
    def repo(self) -> Repo:
        """The repository the path names (routes without one never ask)."""
        assert self._repo is not None
        return self._repo

    def query(self, name: str) -> str | None:
        """A query parameter."""
        return self.request.query_params.get(name)

    def param(self, name: str) -> str:
        """A path parameter."""
        return str(self.request.path_params[name])

    async def body(self) -> Any:
        """The JSON body; 400 when it does not parse."""
        return parse_body(await self.request.body(), self.doc)

    def account(self, email: str) -> User | None:
        """The GitHub account a commit email belongs to."""
        return self.world.by_email(email)

    def fail(self, status: int, message: str) -> ApiError:
        """An error naming this endpoint's documentation."""
        return ApiError(status, message, doc=self.doc)


Handler = Callable[[Call], Awaitable[Answer]]


@dataclass(frozen=True)
class Endpoint:
    """One REST operation: its handler, its docs key, and what access it needs.

    ``access`` is "read" or "write" on the path's repository, "user" (any authenticated
    caller) or "any"; ``accepted`` is the fine-grained permission GitHub names in
    X-Accepted-GitHub-Permissions.
    """

    method: str
    path: str
    handler: Handler
    doc_key: str
    access: str
    accepted: str = ""
    counts: bool = True  # False: free against the primary rate limit (GET /rate_limit)


__all__ = ["Call", "Endpoint", "Handler"]
