"""Comments on the Instagram fake's media: `POST /{ig-media-id}/comments?message=…` and
`GET /{ig-media-id}/comments`, with the Graph API's shapes and refusals."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from starlette.responses import JSONResponse, Response

from crosspost.fakes.instagram_rules import graph_time, invalid_parameter, numeric_id
from crosspost.fakes.tokens import Account

# [U] Meta documents no comment length; the app takes a caption's 2,200 characters.
TEXT_MAX_CHARS = 2_200
PAGE_MAX = 50


@dataclass
class Comment:
    """A comment on a published media object."""

    id: str
    media_id: str
    author: Account
    text: str
    created_at: float

    def view(self) -> dict[str, Any]:
        """The IG Comment node with the fields a media's comments edge returns."""
        return {
            "id": self.id,
            "text": self.text,
            "username": self.author.handle,
            "from": {"id": self.author.external_id, "username": self.author.handle},
            "timestamp": graph_time(self.created_at),
        }


class Comments:
    """Every comment the fake holds, oldest first."""

    def __init__(self) -> None:
        self.comments: list[Comment] = []

    def create(self, account: Account, media_id: str, message: str | None, now: float) -> Response:
        """A new comment on the media; `{"id"}`."""
        if not message or not message.strip():
            return invalid_parameter("The parameter message is required")
        if len(message) > TEXT_MAX_CHARS:
            return invalid_parameter(f"The comment is longer than {TEXT_MAX_CHARS} characters")
        comment = Comment(numeric_id(), media_id, account, message, now)
        self.comments.append(comment)
        return JSONResponse({"id": comment.id})

    def page(self, media_id: str, params: dict[str, str]) -> Response:
        """The media's comments, newest first, cursor-paged by `after`."""
        raw = params.get("limit", "25")
        if not raw.isdigit() or not 1 <= int(raw) <= PAGE_MAX:
            return invalid_parameter(f"limit must be between 1 and {PAGE_MAX}")
        limit = int(raw)
        on_media = [c for c in reversed(self.comments) if c.media_id == media_id]
        after = params.get("after")
        start = next((i + 1 for i, c in enumerate(on_media) if c.id == after), 0)
        chunk = on_media[start : start + limit]
        body: dict[str, Any] = {"data": [c.view() for c in chunk]}
        if chunk:
            cursors = {"before": chunk[0].id, "after": chunk[-1].id}
            body["paging"] = {"cursors": cursors}
            if start + limit < len(on_media):
                body["paging"]["next"] = f"?after={chunk[-1].id}&limit={limit}"
        return JSONResponse(body)

    def state(self) -> list[dict[str, Any]]:
        """Each comment: id, media, author and text."""
        return [
            {"id": c.id, "media_id": c.media_id, "author": c.author.external_id, "text": c.text}
            for c in self.comments
        ]
