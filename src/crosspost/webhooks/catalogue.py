"""The event catalogue: every webhook event type, the shape of its `data`, and an example.

Receivers get `{"type", "timestamp", "data"}` (Standard Webhooks). The models here are the
contract: the engine emits exactly these shapes, `GET /v1/webhooks/event-types` and the
OpenAPI document publish their JSON Schemas, and endpoint filters are checked against the
names. Models ignore unknown members, so receivers validating with them survive additions.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from functools import cached_property
from typing import Any, Literal

import orjson
from pydantic import BaseModel, ConfigDict, Field, create_model

from crosspost.domain.enums import AccountStatus, ErrorKind, PostStatus, TargetStatus
from crosspost.errors import InvalidInput

WILDCARD = "*"
MAX_PATTERNS = 64
_MAX_PATTERN_LEN = 64
EXAMPLE_TIMESTAMP = "2026-03-01T12:00:05.120Z"


class _Data(BaseModel):
    model_config = ConfigDict(extra="ignore")


# --- post.* -------------------------------------------------------------------------------


class WebhookPostTarget(_Data):
    """One destination of a post, as post events summarise it."""

    id: str = Field(description="The target id (`tgt_…`).")
    platform: str = Field(description="youtube, tiktok, instagram, x, linkedin or soundcloud.")
    account_id: str = Field(description="The social account published to (`acc_…`).")
    status: TargetStatus
    external_id: str | None = Field(description="The platform's id of the published item.")
    external_url: str | None = Field(description="Where the published item can be seen.")
    error_code: str | None = Field(description="The platform's error code when it failed.")


class WebhookPost(_Data):
    """A post and the state of each of its targets."""

    id: str = Field(description="The post id (`post_…`).")
    status: PostStatus
    text: str
    media_id: str | None
    publish_at: datetime | None = Field(description="When it is scheduled; null: at once.")
    created_at: datetime
    targets: list[WebhookPostTarget]


class PostEventData(_Data):
    """`data` of every `post.*` event."""

    post: WebhookPost


class WebhookLeftAlone(_Data):
    """A target an edit did not reach, and why."""

    target_id: str
    platform: str
    status: TargetStatus
    reason: str


class PostEditedData(PostEventData):
    """`data` of `post.edited`: the post as edited and what the edit reached."""

    changed: list[str] = Field(description="The post's fields that changed.")
    edited: list[str] = Field(description="Targets that will publish the edited post.")
    added: list[str] = Field(description="Targets the edit added.")
    removed: list[str] = Field(description="Targets the edit removed (cancelled).")
    left_alone: list[WebhookLeftAlone] = Field(
        description="Targets already publishing or finished, which keep what they started with."
    )


# --- target.* -----------------------------------------------------------------------------


class WebhookTargetError(_Data):
    """Why a target failed or is unconfirmed: our classification and the platform's words."""

    kind: ErrorKind
    code: str | None
    message: str | None


class WebhookTarget(_Data):
    """One (post, account) pair of a post."""

    id: str = Field(description="The target id (`tgt_…`).")
    post_id: str
    platform: str
    account_id: str
    status: TargetStatus
    attempts: int = Field(ge=0, description="Publishing attempts made so far.")
    next_attempt_at: datetime | None = Field(
        default=None, description="When it is tried again (set while `waiting`)."
    )
    external_id: str | None
    external_url: str | None
    error: WebhookTargetError | None


class TargetEventData(_Data):
    """`data` of every `target.*` event."""

    target: WebhookTarget


# --- account.* ----------------------------------------------------------------------------


class WebhookAccount(_Data):
    """A connected social account (never its tokens)."""

    id: str = Field(description="The account id (`acc_…`).")
    platform: str
    handle: str
    external_id: str = Field(description="The platform's id of the user or channel.")
    status: AccountStatus


class AccountConnectedData(_Data):
    """`data` of `account.connected`."""

    account: WebhookAccount
    reconnected: bool = Field(description="True when an existing account was reconnected.")


class AccountNeedsReauthData(_Data):
    """`data` of `account.needs_reauth`."""

    account: WebhookAccount
    reason: str = Field(description="What the platform said, e.g. the refresh token expired.")


class AccountDisconnectedData(_Data):
    """`data` of `account.disconnected`."""

    account: WebhookAccount
    platform_revocation: Literal["revoked", "unsupported", "failed"] = Field(
        description="Whether the platform confirmed it revoked our access (`unsupported`: it "
        "offers no way; `failed`: it refused or did not answer, our copy is erased anyway)."
    )
    failed_targets: list[str] = Field(
        description="Targets still to publish on the account, now failed with "
        "`account_disconnected`."
    )


class WebhookBudget(_Data):
    """One of a platform's call budgets that crosspost paces."""

    name: str = Field(description="The platform's name of the limit, e.g. tweets, units.")
    scope: Literal["account", "app"]
    limit: int
    window_seconds: float
    used: int
    remaining: int
    resets_at: datetime | None


class AccountQuotaExhaustedData(_Data):
    """`data` of `account.quota_exhausted`."""

    account: WebhookAccount
    budget: WebhookBudget


# --- post.metrics_updated -----------------------------------------------------------------


class WebhookMetricsTarget(_Data):
    """The target whose counts were fetched."""

    id: str = Field(description="The target id (`tgt_…`).")
    platform: str
    account_id: str
    external_id: str | None = Field(description="The platform's id of the published item.")
    external_url: str | None


class WebhookMetrics(_Data):
    """Counts as the platform reported them, under crosspost's names (null: the platform
    does not report it)."""

    views: int | None = Field(description="Views, plays or impressions, as the platform counts.")
    likes: int | None = Field(description="Likes or reactions.")
    comments: int | None = Field(description="Comments or replies.")
    shares: int | None = Field(description="Shares, reposts or retweets.")
    extra: dict[str, int] = Field(
        description="The platform's other counts (reach, saves, quotes, bookmarks, …)."
    )


class PostMetricsUpdatedData(_Data):
    """`data` of `post.metrics_updated`."""

    post_id: str
    target: WebhookMetricsTarget
    fetched_at: datetime
    age_seconds: int = Field(ge=0, description="How long after publishing it was fetched.")
    metrics: WebhookMetrics


# --- usage, webhooks, endpoints -----------------------------------------------------------


class UsageThresholdData(_Data):
    """`data` of `usage.threshold`: a monthly soft limit was reached."""

    metric: str = Field(
        description="posts, posts_published, targets_published, media_minutes, "
        "bytes_uploaded, api_calls, exports, processing_minutes, renders, "
        "transcription_minutes or llm_tokens."
    )
    period: str = Field(description="The calendar month (UTC), YYYY-MM.")
    used: int | float
    soft_limit: int
    hard_limit: int | None


class WebhookTestData(_Data):
    """`data` of `webhook.test`: sent on request to one endpoint only."""

    endpoint_id: str
    message: str


class EndpointDisabledData(_Data):
    """`data` of `endpoint.disabled`: an endpoint was turned off after failing."""

    endpoint_id: str
    url: str
    reason: str
    failing_since: datetime | None = Field(description="When its current failing streak began.")
    consecutive_failures: int = Field(ge=0)


class WebhookExport(_Data):
    """A data export as `data_export.ready` shows it."""

    id: str
    kind: str = Field(description="posts (each post with its targets) or ledger.")
    format: str = Field(description="jsonl or csv.")
    since: datetime | None = Field(description="Start of the range covered (inclusive).")
    until: datetime = Field(description="End of the range covered (exclusive).")
    rows: int = Field(ge=0, description="Lines (JSON Lines) or data rows (CSV) in the file.")
    bytes: int = Field(ge=0)
    sha256: str = Field(description="Hex SHA-256 of the file, to check the download.")
    download_url: str = Field(description="Where to GET the file, with the API key.")
    expires_at: datetime = Field(description="When the file is deleted.")


class DataExportReadyData(_Data):
    """`data` of `data_export.ready`: a data export's file can be downloaded."""

    export: WebhookExport


# --- export.* (renders of clips; seed 000 calls them exports) -------------------------------
# Members are camelCase here, and only here: seed 000's partner apps read these events so.


class WebhookRenderVideo(_Data):
    """The rendered video: a media item, publishable like any upload."""

    mediaId: str = Field(description="The media item (`med_…`) to publish or download.")
    url: str = Field(description="The media item's API path.")
    durationSeconds: float | None = Field(description="Its length in seconds.")
    sizeBytes: int | None = Field(description="Its size in bytes.")
    sha256: str | None = Field(description="Hex SHA-256 of the file.")
    width: int | None = Field(description="Its width in pixels.")
    height: int | None = Field(description="Its height in pixels.")


class WebhookRenderPoster(_Data):
    """The render's poster frame, a JPEG."""

    url: str = Field(description="Where to GET it, with the API key.")


class WebhookRenderArtifacts(_Data):
    """What a completed render made."""

    video: WebhookRenderVideo
    poster: WebhookRenderPoster


class WebhookRenderError(_Data):
    """Why a render failed: a stable code and what to change."""

    code: str
    message: str


class RenderReadyData(_Data):
    """`data` of `export.ready`: a clip's render finished and its video is a media item."""

    exportId: str = Field(description="The render (`rnd_…`, `GET /v1/renders/{id}`).")
    status: Literal["COMPLETED"]
    clipId: str
    projectId: str
    artifacts: WebhookRenderArtifacts
    error: None = Field(description="Always null here.")


class RenderFailedData(_Data):
    """`data` of `export.failed`: a clip's render failed and made nothing."""

    exportId: str = Field(description="The render (`rnd_…`, `GET /v1/renders/{id}`).")
    status: Literal["FAILED"]
    clipId: str
    projectId: str
    artifacts: None = Field(description="Always null here.")
    error: WebhookRenderError


class ContentGeneratedData(_Data):
    """`data` of `content.generated`: a recap was made (seed 002)."""

    job_id: str = Field(description="The generation's job (`GET /v1/jobs/{id}`).")
    content_type: Literal["daily_recap", "weekly_summary", "topic_focus"]
    title: str
    path: str = Field(description="Where the post goes in the recap repository.")
    total_clips: int
    date_range: dict[str, str]


class WebhookPullRequest(_Data):
    """A recap's pull request."""

    number: int
    url: str
    branch: str
    commit: str
    created: bool = Field(description="False when an open one was found and updated.")


class ContentPullRequestData(_Data):
    """`data` of `content.pr_opened`: a recap was proposed as a pull request."""

    job_id: str
    repository: str
    pull_request: WebhookPullRequest


class JobError(_Data):
    """Why a job failed."""

    code: str
    message: str


class JobCompletedData(_Data):
    """`data` of `job.completed`: a long-running request succeeded (its result at
    `GET /v1/jobs/{job_id}`)."""

    job_id: str
    kind: str = Field(
        description="highlights, render, transcription, pipeline_run or content_generation."
    )
    subject_id: str = Field(description="The project, render or pipeline it worked on.")
    finished_at: str


class JobFailedData(JobCompletedData):
    """`data` of `job.failed`: a long-running request failed, and why."""

    error: JobError


class DistributionStatusData(_Data):
    """`data` of `distribution.status_changed`, `distribution.live` and
    `distribution.failed`: a release's distribution on a channel moved (its stores at
    `GET /v1/distributions/{distribution_id}`)."""

    distribution_id: str
    release_id: str
    channel: str = Field(
        description="ddex: the stores, through the distributor; soundcloud: a set of the "
        "tracks on the tenant's SoundCloud account."
    )
    status: str = Field(
        description="pending, uploading, processing, scheduled, live, failed or taken_down."
    )
    previous_status: str
    attempt: int


class DistributionFailedData(DistributionStatusData):
    """`data` of `distribution.failed`: the distribution failed, and why."""

    error: JobError


# --- the registry -------------------------------------------------------------------------


@dataclass(frozen=True)
class EventType:
    """One event type: its name, what it means, the model of its `data`, and an example."""

    name: str
    description: str
    data_model: type[BaseModel]
    example: Mapping[str, Any]

    @cached_property
    def payload_model(self) -> type[BaseModel]:
        """The model of the whole body `{type, timestamp, data}` of this event type."""
        # A Literal of a runtime value: typed as Any, since no static type can name it.
        name_type: Any = Literal[self.name]
        title = "".join(part.title() for part in self.name.replace("_", ".").split(".")) + "Event"
        model: type[BaseModel] = create_model(
            title,
            __config__=ConfigDict(extra="ignore", title=title),
            __doc__=f"The `{self.name}` event. {self.description}",
            type=(name_type, Field(description="The event type.")),
            timestamp=(datetime, Field(description="When the event happened (UTC).")),
            data=(self.data_model, ...),
        )
        return model

    def example_payload(self) -> dict[str, Any]:
        """A whole example body, as a receiver would get it."""
        return {"type": self.name, "timestamp": EXAMPLE_TIMESTAMP, "data": dict(self.example)}

    def json_schema(self) -> dict[str, Any]:
        """The self-contained JSON Schema (2020-12) of the whole body."""
        return self.payload_model.model_json_schema()


_POST_EXAMPLE_TARGETS = [
    {
        "id": "tgt_01JQ3Z5V2K8M4N6P8R0T2W4Y6A",
        "platform": "youtube",
        "account_id": "acc_01JQ3Y0A1B2C3D4E5F6G7H8J9K",
        "status": "published",
        "external_id": "dQw4w9WgXcQ",
        "external_url": "https://www.youtube.com/shorts/dQw4w9WgXcQ",
        "error_code": None,
    },
    {
        "id": "tgt_01JQ3Z5V2K8M4N6P8R0T2W4Y6B",
        "platform": "tiktok",
        "account_id": "acc_01JQ3Y0A1B2C3D4E5F6G7H8J9M",
        "status": "failed",
        "external_id": None,
        "external_url": None,
        "error_code": "spam_risk_too_many_posts",
    },
]


def _post_example(status: str, targets: list[dict[str, Any]]) -> dict[str, Any]:
    return {
        "post": {
            "id": "post_01JQ3Z5TZ9X7V5T3R1P0N8M6K4",
            "status": status,
            "text": "Behind the scenes of our spring launch #bts",
            "media_id": "med_01JQ3Z4QH6G4E2C0A8Y6W4T2R0",
            "publish_at": "2026-03-01T12:00:00Z" if status == "scheduled" else None,
            "created_at": "2026-03-01T11:58:41Z",
            "targets": targets,
        }
    }


def _targets(*statuses: str) -> list[dict[str, Any]]:
    out = []
    for template, status in zip(_POST_EXAMPLE_TARGETS, statuses, strict=False):
        target = dict(template, status=status)
        if status not in ("published", "deleted"):
            target.update(external_id=None, external_url=None)
        if status != "failed":
            target["error_code"] = None
        out.append(target)
    return out


def _target_example(
    status: str, error: dict[str, Any] | None = None, next_attempt_at: str | None = None
) -> dict[str, Any]:
    published = status == "published"
    return {
        "target": {
            "id": "tgt_01JQ3Z5V2K8M4N6P8R0T2W4Y6A",
            "post_id": "post_01JQ3Z5TZ9X7V5T3R1P0N8M6K4",
            "platform": "youtube",
            "account_id": "acc_01JQ3Y0A1B2C3D4E5F6G7H8J9K",
            "status": status,
            "attempts": 2 if error else 1,
            "next_attempt_at": next_attempt_at,
            "external_id": "dQw4w9WgXcQ" if published else None,
            "external_url": "https://www.youtube.com/shorts/dQw4w9WgXcQ" if published else None,
            "error": error,
        }
    }


_ACCOUNT = {
    "id": "acc_01JQ3Y0A1B2C3D4E5F6G7H8J9K",
    "platform": "youtube",
    "handle": "@acmestudio",
    "external_id": "UCx8Zq1c2v3b4n5m6L7k8J9h",
    "status": "active",
}

_POST = PostEventData
_TARGET = TargetEventData

_TYPES: tuple[EventType, ...] = (
    EventType(
        "post.created",
        "A post was accepted; its targets are queued or scheduled.",
        _POST,
        _post_example("publishing", _targets("queued", "queued")),
    ),
    EventType(
        "post.scheduled",
        "A post was accepted for publishing later, at `publish_at`.",
        _POST,
        _post_example("scheduled", _targets("scheduled", "scheduled")),
    ),
    EventType(
        "post.published",
        "Every target of a post is published.",
        _POST,
        _post_example("published", _targets("published", "published")),
    ),
    EventType(
        "post.partially_published",
        "A post is done: some targets were published, others failed or were cancelled.",
        _POST,
        _post_example("partially_published", _targets("published", "failed")),
    ),
    EventType(
        "post.failed",
        "A post is done and none of its targets was published.",
        _POST,
        _post_example("failed", _targets("failed", "failed")),
    ),
    EventType(
        "post.edited",
        "A post was edited (text, options, schedule or destinations); targets already under "
        "way keep what they started with and are listed in `left_alone`.",
        PostEditedData,
        {
            **_post_example("scheduled", _targets("scheduled", "published")),
            "changed": ["text", "publish_at"],
            "edited": ["tgt_01JQ3Z5V2K8M4N6P8R0T2W4Y6A"],
            "added": [],
            "removed": [],
            "left_alone": [
                {
                    "target_id": "tgt_01JQ3Z5V2K8M4N6P8R0T2W4Y6B",
                    "platform": "tiktok",
                    "status": "published",
                    "reason": "already published",
                }
            ],
        },
    ),
    EventType(
        "post.cancelled",
        "A post was cancelled before any target reached its publish step.",
        _POST,
        _post_example("cancelled", _targets("cancelled", "cancelled")),
    ),
    EventType(
        "post.deleted",
        "Every target of a post that was published has been taken down on its platform; "
        "nothing of the post is up any more.",
        _POST,
        _post_example("deleted", _targets("deleted", "failed")),
    ),
    EventType(
        "target.uploading",
        "A target started uploading its media to the platform.",
        _TARGET,
        _target_example("uploading"),
    ),
    EventType(
        "target.published",
        "A target is live on its platform; `external_url` points at it.",
        _TARGET,
        _target_example("published"),
    ),
    EventType(
        "target.failed",
        "A target failed for good; `error` says why (no further attempt will be made).",
        _TARGET,
        _target_example(
            "failed",
            {
                "kind": "permanent",
                "code": "invalidVideoMetadata",
                "message": "The request metadata specifies an invalid video title.",
            },
        ),
    ),
    EventType(
        "target.unconfirmed",
        "The platform's answer to the publish call was lost; crosspost is checking whether "
        "the post exists before doing anything else (never a blind retry).",
        _TARGET,
        _target_example(
            "unconfirmed",
            {
                "kind": "unconfirmed",
                "code": "timeout",
                "message": "no answer to the publish request within 30 s",
            },
        ),
    ),
    EventType(
        "target.waiting",
        "A target waits for the platform's rate limit or daily quota to allow it; "
        "`next_attempt_at` says when it is tried again (no action needed).",
        _TARGET,
        _target_example(
            "waiting",
            {
                "kind": "quota",
                "code": "quotaExceeded",
                "message": "The request cannot be completed because you have exceeded your quota.",
            },
            next_attempt_at="2026-03-02T08:00:00Z",
        ),
    ),
    EventType(
        "target.needs_reauth",
        "A target cannot publish until its account is reconnected "
        "(`crosspost accounts connect <platform>`); it resumes once it is.",
        _TARGET,
        _target_example(
            "needs_reauth",
            {
                "kind": "auth",
                "code": "invalid_grant",
                "message": "Token has been expired or revoked.",
            },
        ),
    ),
    EventType(
        "target.deleted",
        "A published target was taken down on its platform (`DELETE /v1/posts/{id}/remote` "
        "or `…/targets/{id}/remote`); `external_id` and `external_url` name what was removed.",
        _TARGET,
        {
            "target": {
                **_target_example("published")["target"],
                "status": "deleted",
            }
        },
    ),
    EventType(
        "post.metrics_updated",
        "A published target's counts were fetched from its platform (1 h, 6 h, 24 h, 72 h and "
        "7 days after publishing, then weekly for 90 days by default).",
        PostMetricsUpdatedData,
        {
            "post_id": "post_01JQ3Z5TZ9X7V5T3R1P0N8M6K4",
            "target": {
                "id": "tgt_01JQ3Z5V2K8M4N6P8R0T2W4Y6A",
                "platform": "youtube",
                "account_id": "acc_01JQ3Y0A1B2C3D4E5F6G7H8J9K",
                "external_id": "dQw4w9WgXcQ",
                "external_url": "https://www.youtube.com/shorts/dQw4w9WgXcQ",
            },
            "fetched_at": "2026-03-02T12:00:03Z",
            "age_seconds": 86403,
            "metrics": {
                "views": 1960,
                "likes": 117,
                "comments": 16,
                "shares": None,
                "extra": {"favorites": 0},
            },
        },
    ),
    EventType(
        "account.connected",
        "A social account was connected (or reconnected) and can be published to.",
        AccountConnectedData,
        {"account": _ACCOUNT, "reconnected": False},
    ),
    EventType(
        "account.needs_reauth",
        "A social account's credentials stopped working; reconnect it to resume publishing.",
        AccountNeedsReauthData,
        {
            "account": dict(_ACCOUNT, status="needs_reauth"),
            "reason": "the refresh token was revoked by the user (invalid_grant)",
        },
    ),
    EventType(
        "account.disconnected",
        "A social account was disconnected: its access revoked at the platform where it allows "
        "that, its credentials erased, and its targets still to publish failed.",
        AccountDisconnectedData,
        {
            "account": dict(_ACCOUNT, status="disabled"),
            "platform_revocation": "revoked",
            "failed_targets": ["tgt_01JQ3ZB1C3D5E7F9G1H3J5K7M9"],
        },
    ),
    EventType(
        "account.quota_exhausted",
        "One of the platform's call budgets ran out for this account (or for the whole "
        "platform app): its targets wait, publishing resumes when room comes back "
        "(`budget.resets_at`). Sent once per run-out.",
        AccountQuotaExhaustedData,
        {
            "account": _ACCOUNT,
            "budget": {
                "name": "tweets",
                "scope": "account",
                "limit": 200,
                "window_seconds": 900.0,
                "used": 200,
                "remaining": 0,
                "resets_at": "2026-03-01T12:15:00Z",
            },
        },
    ),
    EventType(
        "usage.threshold",
        "A monthly usage metric reached its soft limit (sent once per metric and month).",
        UsageThresholdData,
        {
            "metric": "posts",
            "period": "2026-03",
            "used": 800,
            "soft_limit": 800,
            "hard_limit": 1000,
        },
    ),
    EventType(
        "data_export.ready",
        "A data export (`POST /v1/exports`) finished: its file can be downloaded until it expires.",
        DataExportReadyData,
        {
            "export": {
                "id": "exp_01JQ3ZB1C3D5E7F9G1H3J5K7M9",
                "kind": "posts",
                "format": "csv",
                "since": "2026-02-01T00:00:00Z",
                "until": "2026-03-01T00:00:00Z",
                "rows": 1342,
                "bytes": 412877,
                "sha256": "9f2c5e0b7a1d4c3e8f6a2b1c0d9e8f7a6b5c4d3e2f1a0b9c8d7e6f5a4b3c2d1e",
                "download_url": "/v1/exports/exp_01JQ3ZB1C3D5E7F9G1H3J5K7M9/download",
                "expires_at": "2026-03-08T00:00:12Z",
            }
        },
    ),
    EventType(
        "export.ready",
        "A clip's render (`POST /v1/clips/{id}/renders`) finished: its video is a media item, "
        "publishable like any upload, and its poster can be downloaded. Sent once per render. "
        "Members are camelCase, as seed 000's partner apps read them.",
        RenderReadyData,
        {
            "exportId": "rnd_01JQ3ZC4E6G8J0K2M4N6P8R0T2",
            "status": "COMPLETED",
            "clipId": "clp_01JQ3ZB9X1Z3B5D7F9H1K3M5P7",
            "projectId": "prj_01JQ3ZB2A4C6E8G0J2L4N6Q8S0",
            "artifacts": {
                "video": {
                    "mediaId": "med_01JQ3ZC4E6G8J0K2M4N6P8R0T3",
                    "url": "/v1/media/med_01JQ3ZC4E6G8J0K2M4N6P8R0T3",
                    "durationSeconds": 29.5,
                    "sizeBytes": 14210337,
                    "sha256": "3b7e0c1a9d8f6e5b4a3c2d1e0f9a8b7c6d5e4f3a2b1c0d9e8f7a6b5c4d3e2f1a",
                    "width": 1080,
                    "height": 1920,
                },
                "poster": {"url": "/v1/renders/rnd_01JQ3ZC4E6G8J0K2M4N6P8R0T2/poster"},
            },
            "error": None,
        },
    ),
    EventType(
        "export.failed",
        "A clip's render failed and made nothing; `error.code` says why (e.g. "
        "`source_unreadable`, `clip_too_short`, `source_missing`). Sent once per render.",
        RenderFailedData,
        {
            "exportId": "rnd_01JQ3ZC4E6G8J0K2M4N6P8R0T2",
            "status": "FAILED",
            "clipId": "clp_01JQ3ZB9X1Z3B5D7F9H1K3M5P7",
            "projectId": "prj_01JQ3ZB2A4C6E8G0J2L4N6Q8S0",
            "artifacts": None,
            "error": {
                "code": "source_unreadable",
                "message": "stream.mp4 is damaged: only 212 of 900 frames could be decoded; "
                "upload it again or re-export it",
            },
        },
    ),
    EventType(
        "content.generated",
        "A recap (`POST /v1/content/generate`) was made from the content items of a range.",
        ContentGeneratedData,
        {
            "job_id": "job_01JQ3ZD5F7H9K1M3P5R7T9V1X3",
            "content_type": "daily_recap",
            "title": "Dev recap: Saturday 5 December 2026",
            "path": "content/recaps/2026-12-05.md",
            "total_clips": 7,
            "date_range": {"start": "2026-12-05T00:00:00Z", "end": "2026-12-06T00:00:00Z"},
        },
    ),
    EventType(
        "content.pr_opened",
        "A recap was committed on its own branch and proposed as a pull request (opened, "
        "or an open one updated: `created` says which).",
        ContentPullRequestData,
        {
            "job_id": "job_01JQ3ZD5F7H9K1M3P5R7T9V1X3",
            "repository": "sandbox-dev/crosspost-demo",
            "pull_request": {
                "number": 12,
                "url": "https://github.com/sandbox-dev/crosspost-demo/pull/12",
                "branch": "crosspost/2026-12-05",
                "commit": "5f1d0c2a3b4e6f7081920a1b2c3d4e5f60718293",
                "created": True,
            },
        },
    ),
    EventType(
        "job.completed",
        "A long-running request (`/v1/jobs`: a pipeline run, a generation, a render, a "
        "transcription, a highlight scan) succeeded; its result is at `GET /v1/jobs/{id}`.",
        JobCompletedData,
        {
            "job_id": "job_01JQ3ZD5F7H9K1M3P5R7T9V1X3",
            "kind": "pipeline_run",
            "subject_id": "pln_01JQ3ZD1B3D5F7H9K1M3P5R7T9",
            "finished_at": "2026-12-06T06:12:09.120000+00:00",
        },
    ),
    EventType(
        "job.failed",
        "A long-running request failed as a whole (an item that fails alone inside a run "
        "does not fail its run); `error` says why.",
        JobFailedData,
        {
            "job_id": "job_01JQ3ZD5F7H9K1M3P5R7T9V1X3",
            "kind": "content_generation",
            "subject_id": "pln_01JQ3ZD1B3D5F7H9K1M3P5R7T9",
            "finished_at": "2026-12-06T06:12:09.120000+00:00",
            "error": {
                "code": "github_forbidden",
                "message": "the pipeline's GitHub token cannot push to sandbox-dev/blog",
            },
        },
    ),
    EventType(
        "distribution.status_changed",
        "A release's distribution on a channel moved: pending, uploading (the batch going "
        "to the distributor), processing (delivered, the stores deciding), scheduled (held "
        "for its release date), then live, failed or taken_down.",
        DistributionStatusData,
        {
            "distribution_id": "dst_01JQ3ZF1A3C5E7G9J1L3N5Q7S9",
            "release_id": "rel_01JQ3ZE9Z1B3D5F7H9K1M3P5R7",
            "channel": "ddex",
            "status": "processing",
            "previous_status": "uploading",
            "attempt": 1,
        },
    ),
    EventType(
        "distribution.live",
        "A release is live in the channel's stores (each store's URL at "
        "`GET /v1/distributions/{id}`; a store that refused it keeps its reason there).",
        DistributionStatusData,
        {
            "distribution_id": "dst_01JQ3ZF1A3C5E7G9J1L3N5Q7S9",
            "release_id": "rel_01JQ3ZE9Z1B3D5F7H9K1M3P5R7",
            "channel": "ddex",
            "status": "live",
            "previous_status": "processing",
            "attempt": 1,
        },
    ),
    EventType(
        "distribution.failed",
        "A release's distribution failed; `error` says why (the distributor's refusal, a "
        "delivery that could not finish, or every store's refusal). Fix it and retry.",
        DistributionFailedData,
        {
            "distribution_id": "dst_01JQ3ZF1A3C5E7G9J1L3N5Q7S9",
            "release_id": "rel_01JQ3ZE9Z1B3D5F7H9K1M3P5R7",
            "channel": "ddex",
            "status": "failed",
            "previous_status": "processing",
            "attempt": 1,
            "error": {
                "code": "distributor_rejected",
                "message": "the distributor refused it: HashMismatch: resources/A1.flac",
            },
        },
    ),
    EventType(
        "webhook.test",
        "A test event, sent on request (`POST /v1/webhooks/{id}/test`) to one endpoint only.",
        WebhookTestData,
        {
            "endpoint_id": "whep_01JQ3X9R7P5N3M1K9H7F5D3B1Z",
            "message": "This is a test event from crosspost.",
        },
    ),
    EventType(
        "endpoint.disabled",
        "An endpoint was disabled after failing for too long (or answering 410 Gone); "
        "fix it, then enable it and recover the events it missed.",
        EndpointDisabledData,
        {
            "endpoint_id": "whep_01JQ3X9R7P5N3M1K9H7F5D3B1Z",
            "url": "https://hooks.example.com/crosspost",
            "reason": "failing for 5 days",
            "failing_since": "2026-02-24T11:58:00Z",
            "consecutive_failures": 37,
        },
    ),
)

EVENT_TYPES: dict[str, EventType] = {t.name: t for t in _TYPES}


def matches(patterns: Sequence[str], event_type: str) -> bool:
    """True when an endpoint with these filter patterns receives `event_type`.

    An empty list receives everything; `*` does too; `post.*` receives every `post.` type.
    """
    if not patterns:
        return True
    for pattern in patterns:
        if pattern in (WILDCARD, event_type):
            return True
        if pattern.endswith(".*") and event_type.startswith(pattern[:-1]):
            return True
    return False


def validate_patterns(patterns: Iterable[object]) -> None:
    """Refuse (422 `invalid_event_types`) names that are unknown, malformed or match nothing."""
    valid = sorted(EVENT_TYPES)
    problems: list[str] = []
    given = list(patterns)
    if len(given) > MAX_PATTERNS:
        problems.append(f"at most {MAX_PATTERNS} patterns are allowed, got {len(given)}")
    for pattern in given[:MAX_PATTERNS]:
        problem = _pattern_problem(pattern)
        if problem:
            problems.append(problem)
    if problems:
        raise InvalidInput(
            f"event_types: {'; '.join(problems)}. Use exact names, `*`, or a prefix "
            f"wildcard such as `post.*`; valid types: {', '.join(valid)}",
            code="invalid_event_types",
            valid_event_types=valid,
        )


def _pattern_problem(pattern: object) -> str | None:
    if not isinstance(pattern, str) or not pattern:
        return f"{pattern!r} is not a non-empty string"
    if len(pattern) > _MAX_PATTERN_LEN:
        return f"{pattern[:20]!r}… is longer than {_MAX_PATTERN_LEN} characters"
    if pattern == WILDCARD or pattern in EVENT_TYPES:
        return None
    if pattern.endswith(".*") and WILDCARD not in pattern[:-2]:
        if any(name.startswith(pattern[:-1]) for name in EVENT_TYPES):
            return None
        return f"{pattern!r} matches no event type"
    if WILDCARD in pattern:
        return f"{pattern!r} is not a supported wildcard (only `*` or a `prefix.*`)"
    return f"{pattern!r} is not an event type"


def validate_payload(body: str | bytes | Mapping[str, Any]) -> BaseModel:
    """Parse a whole event body against its type's model; ValueError when it does not fit.

    For tests and receivers: checks that an emitted event has the documented shape.
    """
    raw: Any = body if isinstance(body, Mapping) else orjson.loads(body)
    if not isinstance(raw, Mapping):
        raise ValueError("an event body is a JSON object")
    event_type = EVENT_TYPES.get(str(raw.get("type")))
    if event_type is None:
        raise ValueError(f"unknown event type {raw.get('type')!r}")
    return event_type.payload_model.model_validate(raw)
