"""Comment threads on the YouTube fake's videos: `commentThreads.insert` (50 units) and
`commentThreads.list` (1 unit), with the Data API's resources and error reasons."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from crosspost.fakes.base import iso_time, unique_id
from crosspost.fakes.tokens import Account
from crosspost.fakes.youtube_rules import google_error
from crosspost.fakes.youtube_video import Video

INSERT_UNITS = 50
TEXT_MAX_CHARS = 10_000
PAGE_MAX = 100


@dataclass
class Thread:
    """A top-level comment and the thread it starts."""

    id: str
    video_id: str
    channel_id: str  # the video's channel
    author: Account
    text: str
    created_at: float

    def resource(self) -> dict[str, Any]:
        """The `youtube#commentThread` resource with its `snippet`."""
        when = iso_time(self.created_at)
        comment = {
            "kind": "youtube#comment",
            "etag": f"etag-{self.id}",
            "id": self.id,
            "snippet": {
                "channelId": self.channel_id,
                "videoId": self.video_id,
                "textDisplay": self.text,
                "textOriginal": self.text,
                "authorDisplayName": self.author.handle,
                "authorChannelId": {"value": self.author.external_id},
                "canRate": True,
                "viewerRating": "none",
                "likeCount": 0,
                "publishedAt": when,
                "updatedAt": when,
            },
        }
        return {
            "kind": "youtube#commentThread",
            "etag": f"etag-thread-{self.id}",
            "id": self.id,
            "snippet": {
                "channelId": self.channel_id,
                "videoId": self.video_id,
                "topLevelComment": comment,
                "canReply": True,
                "totalReplyCount": 0,
                "isPublic": True,
            },
        }


def _missing_video() -> JSONResponse:
    return google_error(
        404,
        "videoNotFound",
        "The video identified by the videoId parameter could not be found.",
        domain="youtube.commentThread",
    )


class CommentThreads:
    """Every comment thread the fake holds, newest last."""

    def __init__(self, now: Callable[[], float]) -> None:
        self.now = now
        self.threads: list[Thread] = []

    def insert(self, account: Account, body: Any, videos: dict[str, Video]) -> Response:
        """`commentThreads.insert?part=snippet`: a new top-level comment on a video."""
        snippet = body.get("snippet") if isinstance(body, dict) else None
        top = snippet.get("topLevelComment") if isinstance(snippet, dict) else None
        inner = top.get("snippet") if isinstance(top, dict) else None
        if not isinstance(snippet, dict) or not isinstance(snippet.get("videoId"), str):
            return google_error(
                400,
                "invalidCommentMetadata",
                "The request metadata is invalid: snippet.videoId is required.",
                domain="youtube.commentThread",
            )
        text = inner.get("textOriginal") if isinstance(inner, dict) else None
        if not isinstance(text, str) or not text.strip():
            return google_error(
                400,
                "commentTextRequired",
                "The comment resource that is being inserted must specify a value "
                "for the snippet.topLevelComment.snippet.textOriginal property.",
                domain="youtube.commentThread",
            )
        if len(text) > TEXT_MAX_CHARS:
            return google_error(
                400,
                "commentTextTooLong",
                "The comment resource that is being inserted contains too many "
                "characters in the snippet.topLevelComment.snippet.textOriginal "
                "property.",
                domain="youtube.commentThread",
            )
        video = videos.get(snippet["videoId"])
        if video is None:
            return _missing_video()
        if video.meta.made_for_kids:
            return google_error(
                403,
                "commentsDisabled",
                "The video identified by the videoId parameter has disabled comments.",
                domain="youtube.commentThread",
            )
        thread = Thread(
            id="Ugz" + unique_id(20) + "4AaABAg",
            video_id=video.id,
            channel_id=video.account.external_id,
            author=account,
            text=text,
            created_at=self.now(),
        )
        self.threads.append(thread)
        return JSONResponse(thread.resource())

    def list_threads(self, request: Request, videos: dict[str, Video]) -> Response:
        """`commentThreads.list?part=snippet&videoId=…`: newest first, a page at a time."""
        params = request.query_params
        video_id = params.get("videoId")
        if not video_id:
            return google_error(
                400,
                "missingRequiredParameter",
                "No filter selected. Expected one of: videoId, id, allThreadsRelatedToChannelId.",
            )
        if video_id not in videos:
            return _missing_video()
        raw_size = params.get("maxResults", "20")
        if not raw_size.isdigit() or not 1 <= int(raw_size) <= PAGE_MAX:
            return google_error(
                400,
                "invalidParameter",
                f"Invalid value '{raw_size}'. Values must be within the range: [1, {PAGE_MAX}]",
                location="maxResults",
            )
        size = int(raw_size)
        token = params.get("pageToken", "0")
        start = int(token) if token.isdigit() else -1
        threads = [t for t in reversed(self.threads) if t.video_id == video_id]
        if not 0 <= start <= len(threads):
            return google_error(
                400, "invalidPageToken", "The request specifies an invalid page token."
            )
        page = threads[start : start + size]
        body: dict[str, Any] = {
            "kind": "youtube#commentThreadListResponse",
            "pageInfo": {"totalResults": len(threads), "resultsPerPage": size},
            "items": [t.resource() for t in page],
        }
        if start + size < len(threads):
            body["nextPageToken"] = str(start + size)
        return JSONResponse(body)

    def state(self) -> list[dict[str, Any]]:
        """Each comment: its thread id, video, author and text."""
        return [
            {"id": t.id, "video_id": t.video_id, "author": t.author.external_id, "text": t.text}
            for t in self.threads
        ]
