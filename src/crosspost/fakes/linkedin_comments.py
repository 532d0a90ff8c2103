"""Comments on the LinkedIn fake's posts: `POST` and `GET /rest/socialActions/{urn}/comments`
(the Community Management Comments API), with LinkedIn's shapes and refusals."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from crosspost.fakes.base import unique_id
from crosspost.fakes.linkedin_rules import LinkedInLimits, Post, li_error, may_act_as
from crosspost.fakes.tokens import Account

TEXT_MAX_CHARS = 1_250
PAGE_MAX = 100


@dataclass
class Comment:
    """A first-level comment on a post."""

    id: str
    post_urn: str
    actor: str
    text: str
    created_ms: int

    @property
    def urn(self) -> str:
        """`urn:li:comment:(<post urn>,<id>)`, as LinkedIn names a comment."""
        return f"urn:li:comment:({self.post_urn},{self.id})"

    def element(self) -> dict[str, Any]:
        """The comment as the API returns it."""
        stamp = {"actor": self.actor, "time": self.created_ms}
        return {
            "id": self.id,
            "$URN": self.urn,
            "actor": self.actor,
            "object": self.post_urn,
            "message": {"text": self.text},
            "created": stamp,
            "lastModified": stamp,
        }


class Comments:
    """Every comment the fake holds."""

    def __init__(self, now_ms: Callable[[], int], limits: LinkedInLimits) -> None:
        self.now_ms = now_ms
        self.limits = limits
        self.comments: list[Comment] = []

    def create(self, account: Account, urn: str, body: Any, posts: Sequence[Post]) -> Response:
        """A new comment by `actor` on the post `urn` (201, its URN in `x-restli-id`)."""
        if not isinstance(body, dict):
            return li_error(400, "ILLEGAL_ARGUMENT", "The request body must be a JSON object")
        message = body.get("message")
        text = message.get("text") if isinstance(message, dict) else None
        actor = body.get("actor")
        if not isinstance(actor, str) or not isinstance(text, str) or not text.strip():
            return li_error(422, "UNPROCESSABLE_ENTITY", "actor and message.text are required")
        if body.get("object", urn) != urn:
            return li_error(400, "ILLEGAL_ARGUMENT", "object must be the post the path names")
        if len(text) > TEXT_MAX_CHARS:
            return li_error(
                422,
                "UNPROCESSABLE_ENTITY",
                f"message.text is longer than {TEXT_MAX_CHARS} characters",
            )
        if not may_act_as(account, actor, self.limits):
            return li_error(
                403, "ACCESS_DENIED", f"Not enough permissions to comment as {actor}", 100
            )
        if not any(p.urn == urn for p in posts):
            return li_error(404, "NOT_FOUND", f"Post {urn} does not exist")
        comment = Comment(unique_id(19, "0123456789"), urn, actor, text, self.now_ms())
        self.comments.append(comment)
        return JSONResponse(
            comment.element(), status_code=201, headers={"x-restli-id": comment.urn}
        )

    def list_comments(self, request: Request, urn: str, posts: Sequence[Post]) -> Response:
        """The post's comments, newest first, `start`/`count` paged."""
        if not any(p.urn == urn for p in posts):
            return li_error(404, "NOT_FOUND", f"Post {urn} does not exist")
        params = request.query_params
        start_raw, count_raw = params.get("start", "0"), params.get("count", "10")
        if not start_raw.isdigit() or not count_raw.isdigit() or int(count_raw) > PAGE_MAX:
            return li_error(
                400,
                "ILLEGAL_ARGUMENT",
                f"start and count must be integers, count at most {PAGE_MAX}",
            )
        start, count = int(start_raw), int(count_raw)
        on_post = [c for c in reversed(self.comments) if c.post_urn == urn]
        return JSONResponse(
            {
                "paging": {"start": start, "count": count, "total": len(on_post)},
                "elements": [c.element() for c in on_post[start : start + count]],
            }
        )

    def state(self) -> list[dict[str, Any]]:
        """Each comment: its URN, post, actor and text."""
        return [
            {"id": c.urn, "post": c.post_urn, "actor": c.actor, "text": c.text}
            for c in self.comments
        ]
