"""YouTube videos in the fake: upload sessions, created videos and the video resource."""

from __future__ import annotations

import asyncio
import hashlib
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from starlette.responses import JSONResponse, Response

from crosspost.fakes.base import Account, iso_time
from crosspost.fakes.engagement import engagement
from crosspost.fakes.youtube_rules import VideoMeta

if TYPE_CHECKING:
    from crosspost.fakes.base import FakeConfig

QUANTUM = 262_144  # every non-final chunk is a multiple of 256 KiB


@dataclass
class Video:
    """A video created when its upload's final chunk arrived."""

    id: str
    account: Account
    meta: VideoMeta
    size: int
    sha256: str
    created_at: float
    processing_seconds: float
    fails: bool
    upload_id: str
    thumbnail_sha256: str | None = None


@dataclass
class UploadSession:
    """One resumable upload session.

    Bytes are hashed in whole 256 KiB units as they arrive; the remainder waits in ``tail``
    until the final chunk completes, so an interrupted request keeps exactly
    ``received`` (a multiple of 256 KiB), as the real service may.
    """

    upload_id: str
    account: Account
    total: int
    meta: VideoMeta
    created_at: float
    received: int = 0
    hasher: Any = field(default_factory=hashlib.sha256)
    tail: bytearray = field(default_factory=bytearray)
    video: Video | None = None
    final_body: dict[str, Any] | None = None
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)

    def absorb(self, piece: bytes) -> None:
        """Take bytes of the current request, committing every completed 256 KiB unit."""
        if self.tail:
            need = QUANTUM - len(self.tail)
            self.tail += piece[:need]
            piece = piece[need:]
            if len(self.tail) < QUANTUM:
                return
            self.hasher.update(self.tail)
            self.received += QUANTUM
            self.tail.clear()
        whole = len(piece) - len(piece) % QUANTUM
        if whole:
            with memoryview(piece) as view, view[:whole] as units:
                self.hasher.update(units)
            self.received += whole
        self.tail += piece[whole:]

    def finish(self) -> None:
        """The final request arrived whole: commit the pending remainder."""
        self.hasher.update(self.tail)
        self.received += len(self.tail)
        self.tail.clear()

    def incomplete(self) -> Response:
        """308 Resume Incomplete, with ``Range`` once anything was received."""
        headers = {"X-GUploader-UploadID": self.upload_id}
        if self.received:
            headers["Range"] = f"bytes=0-{self.received - 1}"
        return Response(status_code=308, headers=headers)

    def final(self) -> Response:
        """The original final response, replayed for every later request to the session."""
        return JSONResponse(self.final_body, status_code=201)


def _etag(*values: object) -> str:
    return hashlib.sha256(repr(values).encode()).hexdigest()[:27]


def video_resource(
    video: Video,
    parts: tuple[str, ...],
    now: float,
    config: FakeConfig,
    *,
    just_uploaded: bool = False,
) -> dict[str, Any]:
    """The video resource as YouTube shows it at ``now`` (processing is judged lazily).

    ``just_uploaded`` gives the view of the final upload response, which always precedes
    processing.
    """
    done = not just_uploaded and now >= video.created_at + video.processing_seconds
    phase = ("failed" if video.fails else "succeeded") if done else "processing"
    meta = video.meta
    item: dict[str, Any] = {"kind": "youtube#video", "etag": _etag(video.id, phase), "id": video.id}
    if "snippet" in parts:
        item["snippet"] = {
            "publishedAt": iso_time(video.created_at),
            "channelId": video.account.external_id,
            "title": meta.snippet["title"],
            "description": meta.snippet["description"],
            "thumbnails": {
                "default": {
                    "url": f"https://i.ytimg.com/vi/{video.id}/default.jpg",
                    "width": 120,
                    "height": 90,
                }
            },
            "channelTitle": video.account.handle,
            "categoryId": meta.snippet["categoryId"],
            "liveBroadcastContent": "none",
            "localized": {
                "title": meta.snippet["title"],
                "description": meta.snippet["description"],
            },
        }
        if "tags" in meta.snippet:
            item["snippet"]["tags"] = meta.snippet["tags"]
    if "status" in parts:
        privacy, publish_at = meta.privacy, meta.publish_at
        published = meta.publish_at_ts is not None and now >= meta.publish_at_ts
        if phase == "succeeded" and published:
            privacy, publish_at = "public", None  # a scheduled video goes public on time
        status: dict[str, Any] = {
            "uploadStatus": {"processing": "uploaded", "failed": "failed"}.get(phase, "processed"),
            "privacyStatus": privacy,
            "license": "youtube",
            "embeddable": True,
            "publicStatsViewable": True,
        }
        if phase == "failed":
            status["failureReason"] = config.youtube_failure_reason
        if publish_at is not None:
            status["publishAt"] = publish_at
        if meta.made_for_kids is not None:
            status["selfDeclaredMadeForKids"] = meta.made_for_kids
            status["madeForKids"] = meta.made_for_kids
        item["status"] = status
    if "statistics" in parts:
        grown = engagement(video.id, now - video.created_at)
        item["statistics"] = {  # Google sends these counts as strings
            "viewCount": str(grown.views),
            "likeCount": str(grown.likes),
            "favoriteCount": "0",
            "commentCount": str(grown.comments),
        }
    if "processingDetails" in parts:
        details: dict[str, Any] = {"processingStatus": phase}
        if phase == "processing":
            span = max(video.processing_seconds, 1e-9)
            fraction = min(1.0, max(0.0, (now - video.created_at) / span))
            details["processingProgress"] = {
                "partsTotal": "1000",
                "partsProcessed": str(int(fraction * 1000)),
                "timeLeftMs": str(int((1 - fraction) * video.processing_seconds * 1000)),
            }
        elif phase == "failed":
            details["processingFailureReason"] = "transcodeFailed"
        item["processingDetails"] = details
    return item
