"""The content pipeline as the API takes and shows it (seed 002): a pipeline ties a Twitch
channel to the GitHub repositories its streams are about, and holds what happened on them."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, SecretStr

from crosspost.domain.bounds import Range

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
EventKind = Literal["commit", "pull_request", "issue", "release"]
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


class PipelinePatch(BaseModel):
    """The JSON body of `PATCH /v1/pipelines/{id}`: only the fields given change; a null
    `recap` or `github_token` removes it."""

    model_config = ConfigDict(extra="forbid")

    name: str | None = Field(default=None, min_length=1, max_length=200)
    twitch_login: TwitchLogin | None = None
    repositories: list[Repository] | None = Field(default=None, min_length=1, max_length=20)
    match_window_minutes: MatchWindow | None = None
    recap: RecapTarget | None = None
    github_token: SecretStr | None = Field(default=None, min_length=1, max_length=255)


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


class PipelinePublic(BaseModel):
    """A pipeline as the API shows it (its GitHub token never, only whether one is set)."""

    id: str
    name: str
    twitch_login: str
    repositories: list[str]
    match_window_minutes: int
    recap: RecapTarget | None
    github_token_set: bool
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
