"""The content pipeline as the API takes and shows it (seed 002): a pipeline ties a Twitch
channel to the GitHub repositories its streams are about, and holds what happened on them."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any, Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, SecretStr, field_validator

from crosspost.domain.bounds import Range
from crosspost.domain.models import ReturnTo

# Twitch logins: 4 to 25 letters, digits or underscores.
TwitchLogin = Annotated[str, Field(pattern=r"^[A-Za-z0-9_]{4,25}$", examples=["sandbox_streamer"])]
# GitHub's own limits: an owner of up to 39 characters, a repository name of up to 100.
Repository = Annotated[
    str,
    Field(
        pattern=r"^[A-Za-z0-9](?:[A-Za-z0-9-]{0,38})/[A-Za-z0-9._-]{1,100}$",
        max_length=140,
        examples=["sandbox-dev/crosspost-demo"],
    ),
]
# A branch name git accepts (a conservative subset: no `..`, no leading `-` or `/`).
Branch = Annotated[
    str, Field(pattern=r"^(?!-)(?!.*\.\.)[A-Za-z0-9._/-]{1,100}(?<![./])$", examples=["main"])
]
MatchWindow = Annotated[int, Range(5, 24 * 60)]
EARLIEST = datetime(2000, 1, 1, tzinfo=UTC)
LATEST = datetime(2100, 1, 1, tzinfo=UTC)
EventKind = Literal["commit", "pull_request", "issue", "release"]
JudgeKind = Literal["heuristic", "llm"]
# The deliveries a pipeline's GitHub webhook should subscribe to.
WEBHOOK_EVENTS = ("push", "pull_request", "issues", "release")


class RecapTarget(BaseModel):
    """Where generated recaps are proposed: a file on a new branch, as a pull request."""

    # Python's engine: the patterns look ahead and behind, which the default one cannot.
    model_config = ConfigDict(extra="forbid", regex_engine="python-re")

    repository: Repository
    base_branch: Branch = Field(default="main", description="The branch pull requests target.")
    path: str = Field(
        default="content/recaps/{date}.md",
        pattern=r"^(?!/)(?!.*\.\.)[A-Za-z0-9._/{}-]{1,200}$",
        description="The file's path; `{date}` becomes the recap's date (YYYY-MM-DD).",
    )


class PipelineCreate(BaseModel):
    """The JSON body of `POST /v1/pipelines`."""

    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1, max_length=200, examples=["Dev streams"])
    twitch_login: TwitchLogin = Field(description="The channel whose clips are taken in.")
    repositories: list[Repository] = Field(
        min_length=1,
        max_length=20,
        description="The repositories whose activity clips are matched with (owner/name).",
    )
    match_window_minutes: MatchWindow = Field(
        default=120,
        description="How far before or after a clip GitHub activity still counts as its context.",
    )
    recap: RecapTarget | None = Field(default=None, description="Where recaps are proposed.")
    github_token: SecretStr | None = Field(
        default=None,
        min_length=1,
        max_length=255,
        description="A GitHub token that can read the repositories (and push to the recap's): "
        "used to backfill activity and open recap pull requests. Stored encrypted, never "
        "shown again.",
    )
    judge: JudgeKind = Field(
        default="heuristic",
        description="Who scores the items: `heuristic` (deterministic, free) or `llm` (the "
        "configured chat-completions model; its tokens count against `llm_tokens`).",
    )
    discord_webhook_url: SecretStr | None = Field(
        default=None,
        min_length=1,
        max_length=500,
        description="A Discord webhook URL told when a recap is generated and when its pull "
        "request opens. Stored encrypted, never shown again.",
    )


class PipelinePatch(BaseModel):
    """The JSON body of `PATCH /v1/pipelines/{id}`: only the fields given change; a null
    `recap`, `github_token` or `discord_webhook_url` removes it."""

    model_config = ConfigDict(extra="forbid")

    name: str | None = Field(default=None, min_length=1, max_length=200)
    twitch_login: TwitchLogin | None = None
    repositories: list[Repository] | None = Field(default=None, min_length=1, max_length=20)
    match_window_minutes: MatchWindow | None = None
    recap: RecapTarget | None = None
    github_token: SecretStr | None = Field(default=None, min_length=1, max_length=255)
    judge: JudgeKind | None = None
    discord_webhook_url: SecretStr | None = Field(default=None, min_length=1, max_length=500)


class RunRequest(BaseModel):
    """The JSON body of `POST /v1/pipelines/{id}/runs`: the clips made in [since, until)
    (both with a time zone; by default yesterday, UTC)."""

    model_config = ConfigDict(extra="forbid")

    since: AwareDatetime | None = None
    until: AwareDatetime | None = None

    @field_validator("since", "until")
    @classmethod
    def _plausible(cls, value: datetime | None) -> datetime | None:
        # Twitch began in 2011; far years only overflow the window arithmetic.
        if value is not None and not EARLIEST <= value <= LATEST:
            raise ValueError(f"give a time between {EARLIEST:%Y} and {LATEST:%Y}")
        return value


class GitHubWebhook(BaseModel):
    """How to point a repository's webhook at the pipeline (Settings → Webhooks)."""

    url: str = Field(description="The Payload URL.")
    content_type: Literal["application/json"] = "application/json"
    events: list[str] = Field(description="The events to send.")
    secret: str | None = Field(
        default=None,
        description="The webhook's secret: shown when the pipeline is created and when the "
        "secret is rotated, never again.",
    )


class TwitchOwner(BaseModel):
    """The Twitch user whose consent a pipeline downloads clips with."""

    user_id: str
    login: str
    role: Literal["owner", "editor"] = Field(
        description="owner when the user is the channel, else an editor of it (Twitch "
        "refuses downloads if they are not)."
    )
    scopes: list[str]
    connected_at: datetime


class TwitchConnectRequest(BaseModel):
    """Start connecting the channel's Twitch account to a pipeline."""

    model_config = ConfigDict(extra="forbid")

    return_to: ReturnTo = None


class TwitchConnected(BaseModel):
    """What the OAuth callback answers once a pipeline's Twitch owner is connected."""

    pipeline_id: str
    twitch_login: str
    twitch_user_id: str
    status: Literal["connected", "reconnected"]


class TwitchDisconnected(BaseModel):
    """A pipeline's Twitch connection forgotten."""

    pipeline_id: str
    revoked: bool = Field(
        description="Whether Twitch confirmed the token's revocation (false when Twitch "
        "could not be reached: the token then lapses on its own)."
    )


class PipelinePublic(BaseModel):
    """A pipeline as the API shows it (its GitHub token never, only whether one is set)."""

    id: str
    name: str
    mode: Literal["test", "live"] = Field(
        description="The mode of the key that made it: a test pipeline reads the sandbox's "
        "Twitch and GitHub."
    )
    twitch_login: str
    repositories: list[str]
    match_window_minutes: int
    recap: RecapTarget | None
    github_token_set: bool
    judge: JudgeKind
    discord_webhook_set: bool
    twitch_owner: TwitchOwner | None = Field(
        description="Who connected the channel's Twitch account (POST "
        "/v1/pipelines/{id}/twitch/connect): clip downloads need the owner or an editor. "
        "Null when nobody did (a test pipeline then signs in as the sandbox's streamer)."
    )
    github_webhook: GitHubWebhook
    created_at: datetime
    updated_at: datetime


class GitHubEventPublic(BaseModel):
    """One thing that happened on a repository: a commit pushed, a pull request or issue
    opened, merged or closed, a release published."""

    id: str
    repository: str
    kind: EventKind
    ref: str = Field(description="The commit's sha, the pull request's or issue's number, "
                     "or the release's id.")  # fmt: skip
    action: str
    title: str
    url: str
    author: str | None
    occurred_at: datetime
    source: Literal["webhook", "backfill"]
    detail: dict[str, Any]


class DeliveryReceipt(BaseModel):
    """What a GitHub delivery did."""

    delivery: str
    event: str
    stored: int = Field(description="Events new to the pipeline.")
    already_held: int = Field(description="Events it held already (a backfill found them).")
    ignored: str | None = Field(default=None, description="Why nothing was taken, if so.")


ContentCategory = Literal["development", "gaming", "tutorial", "review", "other"]
ContentPlatform = Literal["twitch", "youtube", "unknown"]
ProcessingStatus = Literal[
    "pending", "queued", "audio_ready", "transcribed", "enhanced", "ready_for_content", "failed"
]
Review = Literal["pending", "approved", "rejected"]


class ItemError(BaseModel):
    """Why an item stopped."""

    code: str
    message: str
    occurred_at: datetime


class Judgement(BaseModel):
    """What the judge thought of an item: each score from 0 to 1."""

    judge: Literal["heuristic", "llm"]
    coherence: float
    correctness: float
    dev_signal: float
    confidence: float
    reasons: list[str]


class ContentItemPublic(BaseModel):
    """Seed 002's ContentItem (schema 1.0.0), with the review and the judge's scores."""

    schema_version: Literal["1.0.0"] = "1.0.0"
    content_item_id: str
    pipeline_id: str
    clip_id: str
    clip_title: str
    clip_url: str
    clip_embed_url: str
    clip_thumbnail_url: str
    clip_duration: float
    clip_view_count: int
    clip_created_at: datetime
    broadcaster_name: str
    creator_name: str
    platform: ContentPlatform
    processing_status: ProcessingStatus
    media_id: str | None = Field(description="The clip's video, publishable like any upload.")
    audio_file_url: str | None = Field(description="A signed URL of the extracted audio.")
    transcript_url: str | None = Field(description="A signed URL of the full transcript.")
    transcript_summary: str | None
    transcript_size_bytes: int | None
    transcript_origin: Literal["transcribed", "imported"] | None = Field(
        description="Whether the transcript came from the transcription API or a WebVTT/SRT "
        "file imported with PUT /v1/content-items/{id}/transcript."
    )
    github_context_url: str | None = Field(description="A signed URL of the GitHub context.")
    github_summary: str | None
    github_context_size_bytes: int | None
    match_confidence: float | None
    content_score: float | None
    content_tags: list[str] | None
    content_category: ContentCategory | None
    judgement: Judgement | None
    review: Review
    error: ItemError | None
    stored_at: datetime
    enhanced_at: datetime | None
    content_ready_at: datetime | None
    updated_at: datetime


class ReviewBody(BaseModel):
    """The JSON body of `POST /v1/content-items/{id}/review`."""

    model_config = ConfigDict(extra="forbid")

    review: Literal["approved", "rejected"]
