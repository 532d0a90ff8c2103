"""Music releases as the API takes and shows them (seed 003): a single, EP or album of
ordered tracks, with the metadata distributors require of both.

Formats the models cannot check alone (ISRC, UPC/EAN check digits, ISO territories and
languages) and the masters' and artwork's own rules are checked when a release is stored
(`distribution.releases`), each refusal naming its field.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

ReleaseType = Literal["single", "ep", "album"]
ArtistRole = Literal["main", "featured", "remixer"]
ContributorRole = Literal[
    "composer",
    "lyricist",
    "producer",
    "arranger",
    "mixing_engineer",
    "mastering_engineer",
    "performer",
]

MAX_NAME = 200
MAX_TRACKS = 100
MAX_LYRICS = 20_000
MAX_MEDIA_ID = 40


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)


class ArtistCredit(_Strict):
    """An artist shown with a release or track."""

    name: str = Field(min_length=1, max_length=MAX_NAME)
    role: ArtistRole = "main"


class Contributor(_Strict):
    """Someone who made a track without being shown as its artist."""

    name: str = Field(min_length=1, max_length=MAX_NAME)
    role: ContributorRole


class RightsLine(_Strict):
    """A P-line (the sound recording's owner) or C-line (the artwork's and text's)."""

    year: int = Field(ge=1900, le=2100)
    owner: str = Field(min_length=1, max_length=MAX_NAME)


class TrackIn(_Strict):
    """A track of a release: an audio master (a WAV or FLAC media item) and its metadata."""

    media_id: str = Field(min_length=1, max_length=MAX_MEDIA_ID)
    title: str = Field(min_length=1, max_length=MAX_NAME)
    version_title: str | None = Field(
        default=None, max_length=MAX_NAME, description='e.g. "Radio Edit", "Live".'
    )
    isrc: str = Field(
        min_length=12,
        max_length=20,
        description="ISO 3901: country, registrant, year, designation, e.g. USRC17607839 "
        "(hyphens and spaces are dropped). Unique among the tenant's releases.",
    )
    artists: list[ArtistCredit] | None = Field(
        default=None, max_length=20, description="Defaults to the release's artists."
    )
    contributors: list[Contributor] = Field(default_factory=list, max_length=50)
    explicit: bool = False
    language: str | None = Field(
        default=None,
        max_length=12,
        description="The language sung (ISO 639-1, e.g. en or pt-BR); the release's when "
        "absent. `zxx` for an instrumental.",
    )
    preview_start_seconds: float = Field(default=0.0, ge=0, le=3600, allow_inf_nan=False)
    lyrics: str | None = Field(default=None, max_length=MAX_LYRICS)


class ReleaseFields(_Strict):
    """What a release is made of: shared by creation and by its full replacement."""

    type: ReleaseType
    title: str = Field(min_length=1, max_length=MAX_NAME)
    version_title: str | None = Field(default=None, max_length=MAX_NAME)
    artists: list[ArtistCredit] = Field(
        min_length=1, max_length=20, description="At least one `main` artist."
    )
    label: str = Field(min_length=1, max_length=MAX_NAME)
    upc: str = Field(
        min_length=12,
        max_length=20,
        description="The release's UPC (12 digits) or EAN (13), its check digit verified.",
    )
    genre: str = Field(min_length=1, max_length=100)
    sub_genre: str | None = Field(default=None, max_length=100)
    language: str = Field(
        min_length=2, max_length=12, description="The metadata's language (ISO 639-1)."
    )
    p_line: RightsLine
    c_line: RightsLine
    original_release_date: date | None = Field(
        default=None, description="When the music first came out anywhere (a re-release)."
    )
    digital_release_date: date | None = Field(
        default=None, description="The date it goes live on stores; set per distribution too."
    )
    territories: list[str] = Field(
        default_factory=lambda: ["Worldwide"],
        min_length=1,
        max_length=250,
        description='["Worldwide"], or ISO 3166-1 alpha-2 codes.',
    )
    artwork_media_id: str | None = Field(
        default=None,
        max_length=MAX_MEDIA_ID,
        description="A square RGB JPEG or PNG image, 3000 by 3000 pixels or more, opaque.",
    )
    tracks: list[TrackIn] = Field(min_length=1, max_length=MAX_TRACKS)

    @field_validator("artists")
    @classmethod
    def _a_main_artist(cls, value: list[ArtistCredit]) -> list[ArtistCredit]:
        if not any(a.role == "main" for a in value):
            raise ValueError("name at least one artist with role main")
        return value


class ReleaseCreate(ReleaseFields):
    """Create a release (a draft until it is distributed)."""


class MasterPublic(BaseModel):
    """What crosspost read off a track's audio master."""

    codec: str
    container: str
    sample_rate: int
    bit_depth: int | None
    channels: int
    duration_seconds: float
    peak_dbfs: float | None = Field(description="The loudest sample; null for silence.")
    size_bytes: int


class TrackPublic(BaseModel):
    """A track as the API shows it."""

    position: int = Field(description="1-based, in release order.")
    media_id: str
    title: str
    version_title: str | None
    isrc: str
    artists: list[ArtistCredit]
    contributors: list[Contributor]
    explicit: bool
    language: str
    preview_start_seconds: float
    lyrics: str | None
    master: MasterPublic


class ReleasePublic(BaseModel):
    """A release as the API shows it."""

    id: str
    mode: Literal["test", "live"]
    type: ReleaseType
    title: str
    version_title: str | None
    artists: list[ArtistCredit]
    label: str
    upc: str
    genre: str
    sub_genre: str | None
    language: str
    parental_warning: Literal["explicit", "not_explicit"] = Field(
        description="explicit when any track is."
    )
    p_line: str = Field(description='e.g. "℗ 2026 Label".')
    c_line: str = Field(description='e.g. "© 2026 Label".')
    original_release_date: date | None
    digital_release_date: date | None
    territories: list[str]
    artwork_media_id: str | None
    duration_seconds: float
    tracks: list[TrackPublic]
    created_at: datetime
    updated_at: datetime


Channel = Literal["ddex", "soundcloud"]
DistributionStatus = Literal[
    "pending", "uploading", "processing", "scheduled", "live", "failed", "taken_down"
]
StoreStatus = Literal["processing", "scheduled", "live", "failed", "taken_down"]


class DistributionRequest(_Strict):
    """Send a release out on channels."""

    channels: list[Channel] = Field(
        min_length=1,
        max_length=4,
        description="ddex: the stores (Spotify, Apple Music, YouTube Music, Amazon, Deezer …) "
        "through the configured distributor; soundcloud: the tracks uploaded to the tenant's "
        "SoundCloud account and gathered in a set, in order.",
    )
    soundcloud_account_id: str | None = Field(
        default=None,
        max_length=40,
        description="The SoundCloud account for the soundcloud channel; the tenant's one "
        "SoundCloud account of the key's mode when absent.",
    )
    release_date: date | None = Field(
        default=None,
        description="When the release goes live in stores (today or later); the release's "
        "digital_release_date, else today, when absent.",
    )


class DistributionError(BaseModel):
    """Why a distribution failed."""

    code: str
    message: str


class StorePublic(BaseModel):
    """Where a distribution stands in one store, as the distributor reports it."""

    store: str
    status: StoreStatus
    url: str | None = Field(description="The release's page in the store, once live.")
    reason: str | None = Field(description="Why the store refused it, when it did.")
    updated_at: datetime


class DistributionPublic(BaseModel):
    """A release sent out on one channel."""

    id: str
    release_id: str
    channel: Channel
    status: DistributionStatus
    action: Literal["deliver", "update", "takedown"] = Field(
        description="What the latest attempt sends: the release, a change to it, or its takedown."
    )
    release_date: date
    attempt: int = Field(description="1 for the first delivery; a retry or takedown adds one.")
    batch_id: str | None = Field(description="The delivery's batch at the distributor.")
    job_id: str | None = Field(description="The /v1/jobs job carrying the attempt out.")
    external_ids: dict[str, Any] = Field(
        default_factory=dict,
        description="What the channel made: for soundcloud `set_id` and `set_url` once the "
        "set exists, and `post_ids`, the tracks' posts (GET /v1/posts/{id}) in release order.",
    )
    error: DistributionError | None
    stores: list[StorePublic]
    created_at: datetime
    updated_at: datetime
    delivered_at: datetime | None
    completed_at: datetime | None


class DistributionList(BaseModel):
    """A release's distributions."""

    data: list[DistributionPublic]


class ArtworkGenerateRequest(_Strict):
    """Generate cover art for a release (a job; the result is a media item to accept)."""

    generator: Literal["procedural", "stability", "replicate"] = Field(
        default="procedural",
        description="procedural: drawn here, no network, title and artist set on it; "
        "stability or replicate: a hosted image model (the server's key), the picture only.",
    )
    prompt: str | None = Field(
        default=None,
        max_length=500,
        description="Words for the picture; colour words (blue, sunset, neon …) tint it.",
    )
    style: Literal["gradient", "geometric", "waves", "grain"] | None = Field(
        default=None, description="Picked from the seed when absent."
    )
    seed: int | None = Field(
        default=None,
        ge=0,
        le=2**32 - 1,
        description="The same seed gives the same picture; from the title and artist when absent.",
    )


class ArtworkAccept(_Strict):
    """Make an image the release's cover (a generated one, or any upload that qualifies)."""

    media_id: str = Field(min_length=1, max_length=MAX_MEDIA_ID)


class ChannelCost(BaseModel):
    """What one channel charges for a release."""

    channel: Channel
    per_release: float
    per_track: float
    tracks: int
    amount: float
    currency: str


class CostEstimate(BaseModel):
    """What sending a release out would cost, channel by channel, before it is sent."""

    release_id: str
    channels: list[ChannelCost]
    totals: dict[str, float] = Field(description="The sum per currency.")
