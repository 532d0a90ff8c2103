"""Seed 002's content generation request and answer, under our conventions: the content
items of a date range (filtered, sorted, paged), the GitHub activity of the range counted,
and a blog post (Markdown with YAML front matter) made from them."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, model_validator

from crosspost.domain.pipeline import (
    EARLIEST,
    LATEST,
    ContentCategory,
    ContentItemPublic,
    ContentPlatform,
    ProcessingStatus,
)

ContentType = Literal["daily_recap", "weekly_summary", "topic_focus"]
SortBy = Literal["created_at", "view_count", "content_score", "duration"]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class DateRange(_Strict):
    """[start, end), both with a time zone."""

    start: AwareDatetime
    end: AwareDatetime

    @model_validator(mode="after")
    def _ordered(self) -> DateRange:
        for value in (self.start, self.end):
            if not EARLIEST <= value <= LATEST:
                raise ValueError(f"give times between {EARLIEST:%Y} and {LATEST:%Y}")
        if self.end <= self.start:
            raise ValueError("date_range.end must be after date_range.start")
        return self


class Filters(_Strict):
    """Seed 002's filters of the items a recap is made of."""

    min_views: int | None = Field(default=None, ge=0, le=2**31 - 1)
    min_duration: float | None = Field(default=None, ge=0, le=1e9, allow_inf_nan=False)
    max_duration: float | None = Field(default=None, ge=0, le=1e9, allow_inf_nan=False)
    categories: list[ContentCategory] | None = Field(default=None, max_length=5)
    min_confidence: float | None = Field(default=None, ge=0, le=1, allow_inf_nan=False)
    platform: ContentPlatform | None = None
    processing_status: list[ProcessingStatus] | None = Field(
        default=None,
        max_length=7,
        description="Defaults to ready_for_content: only finished items make a recap.",
    )


class GenerateRequest(_Strict):
    """The JSON body of `POST /v1/content/generate` (seed 002's ContentGenerationRequest)."""

    date_range: DateRange
    content_type: ContentType
    pipeline_id: str | None = Field(
        default=None,
        max_length=40,
        description="Only this pipeline's items (and its repositories' activity).",
    )
    repository: str | None = Field(
        default=None, max_length=140, description="Count only this repository's activity."
    )
    topic: str | None = Field(
        default=None,
        min_length=1,
        max_length=100,
        description="topic_focus: the word or tag the post is about (items carrying it).",
    )
    filters: Filters = Field(default_factory=Filters)
    sort_by: SortBy = "content_score"
    sort_order: Literal["asc", "desc"] = "desc"
    page: int = Field(default=1, ge=1, le=10_000)
    limit: int = Field(default=20, ge=1, le=100)
    mode: Literal["sync", "async"] = "sync"
    writer: Literal["template", "llm"] = Field(
        default="template",
        description="`template`: the post is the template's alone (deterministic). `llm`: "
        "the configured chat model also writes an opening paragraph (the template's "
        "`intro`) from the recap's facts; its tokens count against `llm_tokens`.",
    )
    open_pull_request: bool = Field(
        default=False,
        description="Commit the post to the pipeline's recap repository and open (or "
        "update) its pull request; needs `pipeline_id` with a `recap` target.",
    )
    idempotency_key: str | None = Field(
        default=None,
        min_length=1,
        max_length=255,
        description="As the Idempotency-Key header (which wins when both are given).",
    )

    @model_validator(mode="after")
    def _consistent(self) -> GenerateRequest:
        if self.content_type == "topic_focus" and not self.topic:
            raise ValueError("a topic_focus post needs `topic`")
        if self.open_pull_request and not self.pipeline_id:
            raise ValueError("open_pull_request needs pipeline_id (its recap target)")
        low, high = self.filters.min_duration, self.filters.max_duration
        if low is not None and high is not None and low > high:
            raise ValueError("filters.min_duration is above filters.max_duration")
        return self


class Pagination(BaseModel):
    """Seed 002's page-number pagination of the items shown."""

    total_items: int
    total_pages: int
    current_page: int
    per_page: int
    has_next: bool
    has_prev: bool


class Summary(BaseModel):
    """What happened in the range: the clips used, and GitHub's activity counted."""

    total_clips: int
    total_prs: int
    total_commits: int
    total_issues: int


class BlogPost(BaseModel):
    """The generated post."""

    title: str
    path: str = Field(description="Where it goes in the recap repository.")
    markdown: str = Field(description="YAML front matter, then the body.")
    front_matter: dict[str, Any]


class PullRequestRef(BaseModel):
    """The pull request the post was proposed in."""

    number: int
    url: str
    branch: str
    commit: str
    created: bool = Field(description="False when an open one was found and updated.")


class GenerateResponse(BaseModel):
    """Seed 002's ContentGenerationResponse (and a finished job's `result`)."""

    job_id: str
    job_status: Literal["queued", "processing", "completed", "failed"]
    status_url: str
    expires_at: datetime
    content_type: ContentType
    date_range: DateRange
    content_items: list[ContentItemPublic] | None = None
    pagination: Pagination | None = None
    summary: Summary | None = None
    suggested_title: str | None = None
    suggested_tags: list[str] | None = None
    content_score: float | None = None
    post: BlogPost | None = None
    pull_request: PullRequestRef | None = None
    error: dict[str, Any] | None = None


class TemplateBody(_Strict):
    """The JSON body of `PUT /v1/content/templates/{content_type}`."""

    template: str = Field(
        min_length=1,
        max_length=100_000,
        description="A Jinja template of the post's body (the front matter is made for "
        "you); see the documentation for the variables it is given.",
    )
