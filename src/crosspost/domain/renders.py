"""Renders as the API shows them (seed 000's "exports"): what a render is asked for, its
progress, and the video file and poster it becomes."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

Aspect = Literal["9:16", "1:1", "16:9", "4:5"]
Reframe = Literal["center", "blur", "fit"]
PlatformPreset = Literal["youtube_shorts", "tiktok", "instagram_reels", "x", "linkedin"]
RenderStatus = Literal["queued", "rendering", "ready", "failed"]
MAX_RENDER_SECONDS = 600.0
# Each aspect's width / height.
ASPECT_RATIOS: dict[str, float] = {"9:16": 9 / 16, "4:5": 4 / 5, "1:1": 1.0, "16:9": 16 / 9}


class RenderCreate(BaseModel):
    """The JSON body of `POST /v1/clips/{id}/renders`; every member is optional."""

    model_config = ConfigDict(extra="forbid")

    aspect: Aspect | None = Field(
        default=None,
        description="The output's shape. Default: the platform preset's, else the brand "
        "kit's `default_aspect`, else 9:16.",
    )
    reframe: Reframe = Field(
        default="center",
        description="`center` crops the middle of the picture to the aspect; `blur` shows the "
        "whole picture over a blurred, zoomed copy of itself; `fit` shows it whole on bars of "
        "the brand's background colour.",
    )
    captions: bool | None = Field(
        default=None,
        description="Burn in captions from the source's transcript (true needs one: 422 "
        "`no_transcript` otherwise). Default: when the source has a transcript.",
    )
    brand_kit_id: str | None = Field(
        default=None,
        max_length=40,
        description="The brand kit (logo, intro, outro, colours, caption style) to apply. "
        "Default: the project's.",
    )
    max_duration: float | None = Field(
        default=None,
        ge=1.0,
        le=MAX_RENDER_SECONDS,
        description="Cap on the whole output in seconds (intro + clip + outro), trimming the "
        "clip's end. Default: the platform preset's limit, else none.",
    )
    platform_preset: PlatformPreset | None = Field(
        default=None,
        description="Shape the render for one platform: its aspect (9:16, or 16:9 for x and "
        "linkedin) and its longest video (youtube_shorts 180 s; the others at most 600 s).",
    )


class RenderSpecShown(BaseModel):
    """What the render was made with, once defaults are filled in."""

    aspect: Aspect
    reframe: Reframe
    captions: bool
    brand_kit_id: str | None
    max_duration: float | None
    platform_preset: PlatformPreset | None


class RenderProgress(BaseModel):
    """How far the render got, in frames of the output."""

    done: float
    total: float | None = Field(description="Frames to render (null until rendering starts).")
    unit: str = Field(description="`frames`.")


class RenderOutput(BaseModel):
    """The video a ready render became: a media item, publishable like any upload."""

    media_id: str
    url: str = Field(description="The media item's API path (`GET` it for its metadata).")
    duration_seconds: float | None
    width: int | None
    height: int | None
    size_bytes: int | None
    sha256: str | None


class RenderFailure(BaseModel):
    """Why a render failed: a stable code and what to change."""

    code: str
    message: str


class RenderPublic(BaseModel):
    """A render of a clip: queued, rendering (with progress), ready (with its video and
    poster) or failed (with why)."""

    id: str
    clip_id: str
    project_id: str
    job_id: str = Field(description="Its long-running job (`GET /v1/jobs/{id}`).")
    status: RenderStatus
    spec: RenderSpecShown
    progress: RenderProgress | None
    output: RenderOutput | None = Field(description="The video, once ready.")
    poster_url: str | None = Field(description="Where to GET the poster JPEG, once ready.")
    error: RenderFailure | None
    created_at: datetime
    updated_at: datetime
    completed_at: datetime | None = Field(description="When it became ready or failed.")
