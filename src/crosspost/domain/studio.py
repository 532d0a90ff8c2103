"""The clip studio as the API shows it (seed 000): projects and their source videos, clips,
highlight detection requests, and `/v1/jobs` (one resource for every long-running request)."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

MAX_CLIP_SECONDS = 600.0
MAX_SOURCE_SECONDS = 7 * 24 * 3600.0  # no source lasts a week; bounds every time given


class ProjectCreate(BaseModel):
    """The JSON body of `POST /v1/projects`."""

    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1, max_length=200, examples=["Launch stream"])
    brand_kit_id: str | None = Field(
        default=None, max_length=40, description="The brand kit its renders use by default."
    )
    source_media_ids: list[str] = Field(
        default_factory=list,
        max_length=20,
        description="Ready video (or audio) media items to add as sources, in order.",
    )


class ProjectPatch(BaseModel):
    """The JSON body of `PATCH /v1/projects/{id}`: only the fields given change."""

    model_config = ConfigDict(extra="forbid")

    name: str | None = Field(default=None, min_length=1, max_length=200)
    brand_kit_id: str | None = Field(default=None, max_length=40, description="null removes it.")


class SourceAdd(BaseModel):
    """The JSON body of `POST /v1/projects/{id}/sources`."""

    model_config = ConfigDict(extra="forbid")

    media_id: str = Field(max_length=40)


class TranscribeRequest(BaseModel):
    """The JSON body of `POST /v1/projects/{id}/sources/{media_id}/transcribe` (optional)."""

    model_config = ConfigDict(extra="forbid")

    language: str | None = Field(
        default=None,
        pattern=r"^[A-Za-z]{2,3}(-[A-Za-z0-9]{2,8})*$",
        description="The spoken language as a BCP 47 tag (default: detected).",
        examples=["en"],
    )


class SourcePublic(BaseModel):
    """A project's source video and what is known of its speech."""

    media_id: str
    filename: str | None
    kind: str | None
    duration_seconds: float | None
    transcript: str | None = Field(
        description="`attached` (a WebVTT/SRT file given), `transcribed` (by the "
        "transcription API), or null when it has none."
    )
    transcript_segments: int
    added_at: datetime


class ProjectPublic(BaseModel):
    """A project with its sources and how many clips it holds."""

    id: str
    name: str
    brand_kit_id: str | None
    sources: list[SourcePublic]
    clips: int
    created_at: datetime
    updated_at: datetime


class HighlightsRequest(BaseModel):
    """The JSON body of `POST /v1/projects/{id}/highlights`."""

    model_config = ConfigDict(extra="forbid")

    media_id: str | None = Field(
        default=None, max_length=40, description="One source to scan (default: every source)."
    )
    min_seconds: float = Field(default=15.0, ge=1.0, le=MAX_CLIP_SECONDS)
    max_seconds: float = Field(default=60.0, ge=1.0, le=MAX_CLIP_SECONDS)
    count: int = Field(default=5, ge=1, le=50, description="Clips to find per source, at most.")
    keywords: list[str] = Field(
        default_factory=list,
        max_length=50,
        description="Words or phrases that make a moment worth a clip (needs a transcript).",
    )

    @model_validator(mode="after")
    def _bounds(self) -> HighlightsRequest:
        if self.min_seconds > self.max_seconds:
            raise ValueError("min_seconds must not exceed max_seconds")
        if any(not word.strip() or len(word) > 100 for word in self.keywords):
            raise ValueError("each keyword has 1 to 100 characters")
        return self


class ClipCreate(BaseModel):
    """The JSON body of `POST /v1/projects/{id}/clips`: a clip made by hand."""

    model_config = ConfigDict(extra="forbid")

    media_id: str = Field(max_length=40, description="One of the project's sources.")
    start_seconds: float = Field(ge=0, le=MAX_SOURCE_SECONDS)
    end_seconds: float = Field(gt=0, le=MAX_SOURCE_SECONDS)
    title: str | None = Field(default=None, max_length=200)


class ClipPatch(BaseModel):
    """The JSON body of `PATCH /v1/clips/{id}`: adjust the bounds or the title."""

    model_config = ConfigDict(extra="forbid")

    start_seconds: float | None = Field(default=None, ge=0, le=MAX_SOURCE_SECONDS)
    end_seconds: float | None = Field(default=None, gt=0, le=MAX_SOURCE_SECONDS)
    title: str | None = Field(default=None, max_length=200)


class ClipPublic(BaseModel):
    """A stretch of one source: found by highlight detection, or made by hand."""

    id: str
    project_id: str
    media_id: str
    start_seconds: float
    end_seconds: float
    duration_seconds: float
    origin: str = Field(description="`detected` or `manual`.")
    score: float | None = Field(description="0 to 1, for detected clips.")
    reasons: list[str] = Field(description='Why it was picked: "loudness peak +9 LU at 12:41".')
    title: str | None
    created_at: datetime
    updated_at: datetime


class JobProgress(BaseModel):
    """How far a job got, in its unit."""

    done: float
    total: float | None
    unit: str = Field(description="`seconds` (of source scanned) or `frames` (rendered).")


class JobStats(BaseModel):
    """The tenant's jobs counted (`GET /v1/jobs/stats`)."""

    by_status: dict[str, int] = Field(description="queued, running, succeeded, failed.")
    by_kind: dict[str, dict[str, int]] = Field(description="Each kind's counts by status.")
    active_by_age: dict[str, int] = Field(
        description="Queued or running jobs by how long ago they were made: `under_1m`, "
        "`1m_to_1h`, `over_1h`."
    )
    oldest_active_seconds: float | None


class JobsCleaned(BaseModel):
    """What `POST /v1/jobs/cleanup` removed."""

    removed: int
    finished_before: datetime


class JobError(BaseModel):
    """Why a job failed."""

    code: str
    message: str


class JobPublic(BaseModel):
    """One long-running request (highlight detection, a render) and what came of it."""

    id: str
    kind: str = Field(
        description="`highlights`, `render`, `transcription`, `pipeline_run` or "
        "`content_generation`."
    )
    mode: Literal["test", "live"] = Field(
        default="live", description="The mode of the key that asked for it."
    )
    subject_id: str = Field(description="The project, render or pipeline it works on.")
    status: str = Field(description="queued, running, succeeded or failed.")
    params: dict[str, Any]
    progress: JobProgress
    result: dict[str, Any] | None
    error: JobError | None
    created_at: datetime
    updated_at: datetime
    finished_at: datetime | None
    expires_at: datetime | None = Field(
        default=None, description="When a finished job is deleted (null while it runs)."
    )
    status_url: str | None = Field(default=None, description="Where to follow it.")
