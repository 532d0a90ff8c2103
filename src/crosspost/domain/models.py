"""The public shapes of the API (requests and responses), shared with the CLI and SDK."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Generic, Literal, TypeVar

from pydantic import BaseModel, ConfigDict, Field, field_validator

from crosspost.domain.bounds import Count64, Instant, Range
from crosspost.domain.enums import (
    AccountRole,
    AccountStatus,
    ErrorKind,
    KeyRole,
    MediaKind,
    Mode,
    Platform,
    PostStatus,
    TargetStatus,
)

T = TypeVar("T")


# No platform issues tokens for longer than a few months; ten years bounds the arithmetic.
TOKEN_LIFETIME_CAP = 10 * 365 * 86400
# `expires_in` of a token: seconds it has left.
TokenLifetime = Annotated[int, Range(0, TOKEN_LIFETIME_CAP)]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class PostCreate(_Strict):
    """Create a post: media + text + targets, now or at `publish_at`."""

    media_id: str | None = Field(default=None, description="Media to publish; omit for text posts.")
    media_ids: list[str] | None = Field(
        default=None,
        min_length=2,
        max_length=35,
        description="Several media in one post (a carousel), in order, instead of `media_id`: "
        "Instagram takes up to 10 images and videos, X up to 4 images, LinkedIn up to 20 "
        "images, TikTok up to 35 photos.",
    )
    render_id: str | None = Field(
        default=None,
        max_length=40,
        description="A ready render of the clip studio to publish, instead of `media_id` "
        "(the post's `media_id` is then the render's video).",
    )
    content_item_id: str | None = Field(
        default=None,
        max_length=40,
        description="A content item of the content pipeline to publish: its clip's video, "
        "captioned with the clip's title unless `text` is given (instead of `media_id`).",
    )
    recap_job_id: str | None = Field(
        default=None,
        max_length=40,
        description="A generated recap (the `job_id` of POST /v1/content/generate) to publish "
        "as a text post: its title, what it covers and its pull request, unless `text` is "
        "given.",
    )
    auto_fit: bool = Field(
        default=False,
        description="Where the video breaks a platform's limits in a way a render repairs "
        "(too long, wrong aspect or size, a refused codec or container), render a variant "
        "that fits and publish that instead of failing the target (see the target's `fit`).",
    )
    text: str = Field(
        default="", max_length=10_000, description="Caption, title source and description."
    )
    targets: list[str] = Field(
        min_length=1,
        max_length=50,
        description="Platform names (the tenant's account there) or social account ids.",
        examples=[["youtube", "tiktok"]],
    )
    overrides: dict[str, dict[str, Any]] = Field(
        default_factory=dict,
        description="Per-platform options, e.g. {'youtube': {'title': '…', 'privacy_status': "
        "'unlisted'}, 'tiktok': {'privacy_level': 'SELF_ONLY', 'text': '…'}}. An option the "
        "platform does not take, or a value of the wrong type, is refused (422).",
    )
    publish_at: Instant | None = Field(
        default=None,
        description="When to publish (ISO 8601). A time without offset is read in `timezone`; "
        "one that does not exist there (skipped by a daylight-saving change) is refused, and "
        "one that happens twice needs `fold` or an offset.",
    )
    timezone: str | None = Field(
        default=None,
        max_length=64,
        description="IANA time zone, e.g. Europe/Paris.",
        examples=["Europe/Paris"],
    )
    fold: Literal[0, 1] | None = Field(
        default=None,
        description="For a local `publish_at` that happens twice (clocks going back): 0 for "
        "the first time, 1 for the second.",
    )

    @field_validator("targets")
    @classmethod
    def _no_blank_targets(cls, value: list[str]) -> list[str]:
        cleaned = [t.strip() for t in value]
        if any(not t for t in cleaned):
            raise ValueError("targets must not contain blank entries")
        return cleaned

    @field_validator("media_ids")
    @classmethod
    def _distinct_media(cls, value: list[str] | None) -> list[str] | None:
        if value is not None and len(set(value)) != len(value):
            raise ValueError("media_ids names the same media twice; name each item once")
        return value


class PostEdit(_Strict):
    """Change a post that has not published everywhere yet: only the fields given change."""

    text: str | None = Field(default=None, max_length=10_000, description="The new caption.")
    overrides: dict[str, dict[str, Any] | None] | None = Field(
        default=None,
        description="Merged into the post's overrides as a JSON Merge Patch (RFC 7396): "
        "{'youtube': {'title': 'New'}} changes one option, {'youtube': {'title': null}} drops "
        "it, {'youtube': null} drops every YouTube option.",
    )
    publish_at: Instant | None = Field(
        default=None,
        description="The new publish time, read like a new post's; `null` publishes now.",
    )
    timezone: str | None = Field(
        default=None,
        max_length=64,
        description="IANA time zone of a local `publish_at` (given with it).",
        examples=["Europe/Paris"],
    )
    fold: Literal[0, 1] | None = Field(
        default=None, description="For a local `publish_at` that happens twice, as on create."
    )
    add_targets: list[str] = Field(
        default_factory=list,
        max_length=50,
        description="Destinations to add: platform names or social account ids.",
    )
    remove_targets: list[str] = Field(
        default_factory=list,
        max_length=50,
        description="Target ids (tgt_…) to remove; one already publishing or finished stays.",
    )

    @field_validator("add_targets", "remove_targets")
    @classmethod
    def _no_blank_targets(cls, value: list[str]) -> list[str]:
        cleaned = [t.strip() for t in value]
        if any(not t for t in cleaned):
            raise ValueError("target lists must not contain blank entries")
        return cleaned


class LeftAlone(BaseModel):
    """A target an edit did not change, and why."""

    target_id: str
    platform: str
    status: TargetStatus
    reason: str


class PostEdited(BaseModel):
    """A post after an edit, and what the edit reached."""

    post: PostPublic
    changed: list[str] = Field(description="The fields of the post that changed.")
    edited: list[str] = Field(description="Targets that will publish the edited post.")
    added: list[str] = Field(description="Targets the edit added.")
    removed: list[str] = Field(description="Targets the edit removed (cancelled).")
    left_alone: list[LeftAlone] = Field(
        description="Targets already publishing or finished: they keep what they started with."
    )


# Bounds of a described (not yet uploaded) file: far past any platform's limits, so every
# real file fits and the checks, not the schema, say what is wrong with it.
_MAX_DESCRIBED_SECONDS = 10 * 24 * 3600
_MAX_DESCRIBED_PIXELS = 1_000_000


class MediaDescription(_Strict):
    """A local file not uploaded yet, as `crosspost.media.describe` probes it: the probe's
    result plus the file's size and type (`POST /v1/posts/validate` only)."""

    kind: MediaKind
    size_bytes: Count64 = Field(description="The file's size in bytes.")
    content_type: str | None = Field(default=None, max_length=255, examples=["video/mp4"])
    container: str | None = Field(
        default=None, max_length=32, description="mp4, mov, webm, mp3, m4a, png, jpeg, …"
    )
    format_name: str | None = Field(default=None, max_length=64)
    duration_seconds: float | None = Field(
        default=None, ge=0, le=_MAX_DESCRIBED_SECONDS, allow_inf_nan=False
    )
    width: Annotated[int, Range(1, _MAX_DESCRIBED_PIXELS)] | None = Field(
        default=None, description="As displayed (rotation applied)."
    )
    height: Annotated[int, Range(1, _MAX_DESCRIBED_PIXELS)] | None = None
    rotation: Annotated[int, Range(0, 359)] = 0
    video_codec: str | None = Field(default=None, max_length=32, examples=["h264"])
    audio_codec: str | None = Field(default=None, max_length=32, examples=["aac"])
    frame_rate: float | None = Field(default=None, gt=0, le=10_000, allow_inf_nan=False)
    audio_sample_rate: Annotated[int, Range(1, 10_000_000)] | None = None
    audio_channels: Annotated[int, Range(1, 1024)] | None = None
    bit_rate: Count64 | None = None
    faststart: bool | None = None


class PostValidate(PostCreate):
    """The body of `POST /v1/posts`, checked without creating anything; `media` may stand
    for a file not uploaded yet."""

    media: MediaDescription | None = Field(
        default=None,
        description="A local file described instead of an uploaded `media_id` (probe it with "
        "`crosspost.media.describe`), so its limits are checked before the upload.",
    )


class ProblemItem(BaseModel):
    """One problem of a request that has several."""

    field: str = Field(description="Where it is, e.g. `targets[1]` or `publish_at`.")
    message: str
    type: str = Field(description="Its stable code, as a lone problem's `code` would be.")


class FitPlanned(BaseModel):
    """The variant `auto_fit` would render for a destination the video does not fit."""

    aspect: str
    max_duration: float | None = Field(description="Seconds it would be cut to (null: all).")
    because: list[ProblemItem] = Field(description="The rules the original breaks there.")


class ValidatedTarget(BaseModel):
    """What `POST /v1/posts` would do for one destination."""

    platform: str
    account_id: str
    account_status: AccountStatus
    status: TargetStatus = Field(
        description="The status create would give it: queued, scheduled, or failed when "
        "this destination refuses the post (see `problems`)."
    )
    problems: list[ProblemItem] = Field(
        default_factory=list, description="Why this destination would refuse the post."
    )
    warnings: list[ProblemItem] = Field(
        default_factory=list,
        description="What would hold it up without refusing it (an account that needs "
        "reconnecting), each saying what to do.",
    )
    fit: FitPlanned | None = Field(
        default=None,
        description="With `auto_fit`: the variant rendered for it instead of refusing it.",
    )


class PostValidation(BaseModel):
    """The verdict of `POST /v1/posts/validate` on a body create would accept."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "valid": True,
                    "publish_at": None,
                    "targets": [
                        {
                            "platform": "youtube",
                            "account_id": "acc_01JQ3Y0A1B2C3D4E5F6G7H8J9K",
                            "account_status": "needs_reauth",
                            "status": "queued",
                            "problems": [],
                            "warnings": [
                                {
                                    "field": "account",
                                    "message": "youtube account acc_01JQ3Y0A1B2C3D4E5F6G7H8J9K "
                                    "is needs_reauth and will not publish until it is "
                                    "reconnected (needs reconnecting): run `crosspost accounts "
                                    "connect youtube` (POST /v1/accounts/connect)",
                                    "type": "account_needs_reauth",
                                }
                            ],
                        }
                    ],
                }
            ]
        }
    )

    valid: bool = Field(
        description="True when every target would go ahead. False when some would fail at "
        "once (see their `problems`): create would still accept the post, with those "
        "targets failed."
    )
    publish_at: datetime | None = Field(description="When it would publish (UTC); null: now.")
    targets: list[ValidatedTarget]


class TargetError(BaseModel):
    """Why a target failed or waits: our classification plus the platform's own words."""

    kind: ErrorKind
    code: str | None
    message: str | None
    raw: Any = None


class FirstCommentPublic(BaseModel):
    """Where a target's first comment stands; its failure never fails the target."""

    status: Literal["pending", "posted", "failed"]
    id: str | None = Field(default=None, description="The comment's id on the platform.")
    attempts: int
    error: dict[str, str] | None = Field(
        default=None, description="`code` and `message` of the last failure."
    )


class FitPublic(BaseModel):
    """The variant `auto_fit` renders for a target whose platform the video does not fit."""

    status: Literal["pending", "ready", "failed"] = Field(
        description="pending: being rendered (the target publishes once it is ready)."
    )
    aspect: str = Field(description="The variant's shape, one the platform takes.")
    max_duration: float | None = Field(
        description="Seconds the variant is cut to (null: the whole video)."
    )
    because: list[dict[str, str]] = Field(
        description="The platform's rules the original breaks, each with `code` and `message`."
    )
    source_media_id: str
    media_id: str = Field(description="The variant's media item, once ready.")
    error: dict[str, str] | None = Field(
        default=None, description="`code` and `message` when the variant could not be made."
    )


class TargetPublic(BaseModel):
    """One destination of a post."""

    id: str
    post_id: str
    account_id: str
    platform: str
    status: TargetStatus
    attempts: int
    next_attempt_at: datetime | None
    external_id: str | None
    external_url: str | None
    published_at: datetime | None
    progress: dict[str, Any] | None = None
    last_error: TargetError | None
    first_comment: FirstCommentPublic | None = Field(
        default=None, description="The first comment (`overrides.<platform>.first_comment`)."
    )
    fit: FitPublic | None = Field(
        default=None, description="The variant rendered for this platform (`auto_fit`)."
    )
    created_at: datetime
    updated_at: datetime


class PostPublic(BaseModel):
    """A post and its targets."""

    id: str
    status: PostStatus
    mode: Mode
    media_id: str | None
    media_ids: list[str] | None = Field(
        default=None, description="Every media item of a post of several media, in order."
    )
    text: str
    overrides: dict[str, dict[str, Any]]
    publish_at: datetime | None
    timezone: str | None
    auto_fit: bool = False
    targets: list[TargetPublic]
    created_at: datetime
    updated_at: datetime


class LedgerEventPublic(BaseModel):
    """One entry of a post's publish log."""

    id: str
    event_type: str
    post_id: str | None
    target_id: str | None
    account_id: str | None
    distribution_id: str | None = None
    data: dict[str, Any]
    created_at: datetime


class AccountDisconnected(BaseModel):
    """What disconnecting an account did."""

    account_id: str
    status: AccountStatus
    platform_revocation: Literal["revoked", "unsupported", "failed"] = Field(
        description="revoked: the platform confirmed our access is gone; unsupported: it "
        "offers no way (remove the app in the platform's settings); failed: it refused or "
        "did not answer (our copy of the credentials is erased anyway)."
    )
    revocation_detail: str | None = Field(description="The platform's answer, when not revoked.")
    failed_targets: list[str] = Field(
        description="Targets still to publish on the account, now failed with "
        "`account_disconnected`."
    )


class BudgetPublic(BaseModel):
    """One of the platform's documented call budgets, as crosspost spends it."""

    name: str = Field(description="The platform's name of the limit, e.g. tweets, units.")
    scope: Literal["account", "app"] = Field(
        description="account: this account's own; app: shared by every account of the platform."
    )
    limit: int
    window_seconds: float
    used: int
    remaining: int
    resets_at: datetime | None = Field(description="When the oldest spending leaves the window.")


class AccountPublic(BaseModel):
    """A connected social account (never its tokens)."""

    id: str
    platform: str
    mode: Mode
    handle: str
    external_id: str
    role: AccountRole
    parent_id: str | None
    status: AccountStatus
    token_expires_at: datetime | None
    scopes: list[str]
    scopes_missing: list[str] | None = Field(
        default=None,
        description="Scopes crosspost asks for that the token was not granted (reconnect to "
        "grant them); null when the granted scopes are unknown.",
    )
    last_published_at: datetime | None
    last_error: str | None
    created_at: datetime
    budgets: list[BudgetPublic] | None = Field(
        default=None,
        description="On GET /v1/accounts/{id}: the platform's call budgets this account spends "
        "from, how much is used and when room comes back (null in lists).",
    )


ReturnTo = Annotated[
    str | None,
    Field(
        max_length=2000,
        pattern=r"^https?://",
        description="Where to send the user after consent (what was connected is added to "
        "its query); without it the callback answers JSON.",
    ),
]


class ConnectRequest(_Strict):
    """Start connecting an account by OAuth."""

    platform: Platform
    return_to: ReturnTo = None


class ConnectLink(BaseModel):
    """The platform's consent page for this connection."""

    authorize_url: str
    expires_at: datetime


class AccountImport(_Strict):
    """Connect an account from tokens the customer already holds (instead of OAuth)."""

    platform: Platform
    external_id: str = Field(
        min_length=1, max_length=200, description="The platform's id of the user or channel."
    )
    handle: str = Field(min_length=1, max_length=200)
    access_token: str = Field(min_length=1, max_length=8192, repr=False)
    refresh_token: str | None = Field(default=None, max_length=8192, repr=False)
    expires_in: TokenLifetime | None = Field(
        default=None,
        description="Seconds the access token has left, as the token "
        "endpoint said; omit when unknown (it is then refreshed on the first 401).",
    )
    scopes: list[str] = Field(default_factory=list, max_length=50)
    role: AccountRole = AccountRole.MAIN
    parent_id: str | None = Field(
        default=None, description="For a satellite: the main account whose app it posts through."
    )


class RateLimitOverride(_Strict):
    """A key's own rate limits, in place of its tier's."""

    requests_per_hour: Annotated[int, Range(1, 10_000_000)]
    requests_per_day: Annotated[int, Range(1, 100_000_000)]
    burst: Annotated[int, Range(1, 10_000_000)]


class KeyCreate(_Strict):
    """Create an API key: a role, or explicit scopes (never more than the creating key's)."""

    name: str = Field(min_length=1, max_length=200)
    mode: Mode | None = Field(default=None, description="Default: the creating key's mode.")
    role: KeyRole | None = Field(
        default=None, description="owner, admin, developer or viewer (default developer)."
    )
    scopes: list[str] | None = Field(
        default=None, max_length=20, description="Explicit scopes instead of a role."
    )
    tier: str | None = Field(
        default=None, max_length=16, description="Rate-limit tier: free, pro or enterprise."
    )
    rate_limits: RateLimitOverride | None = None
    expires_at: Instant | None = Field(default=None, description="When the key stops working.")


class KeyUpdate(_Strict):
    """Change a key's name or rate limits (`null` clears tier or override)."""

    name: str | None = Field(default=None, min_length=1, max_length=200)
    tier: str | None = Field(default=None, max_length=16)
    rate_limits: RateLimitOverride | None = None


class KeyRoll(_Strict):
    """Replace a key; the old one keeps working for the overlap."""

    overlap_seconds: Annotated[int, Range(0, 30 * 86400)] | None = Field(
        default=None, description="Default 24 h; 0 ends the old key now."
    )


class KeyPublic(BaseModel):
    """An API key as listed (the secret is shown only once, at creation)."""

    id: str
    name: str
    mode: Mode
    display_prefix: str
    role: KeyRole | None
    scopes: list[str]
    tier: str | None
    rate_limits: RateLimitOverride | None
    created_at: datetime
    last_used_at: datetime | None
    expires_at: datetime | None
    revoked_at: datetime | None
    rolled_to: str | None


class KeyCreated(KeyPublic):
    """A new key, with its secret (shown once: a replay of the request answers null)."""

    key: str | None = Field(repr=False)


class TenantPublic(BaseModel):
    """A tenant as its own keys see it."""

    id: str
    name: str


class Caller(BaseModel):
    """Who a request's credentials are: the tenant, the mode and powers, and the API key
    (none for an OAuth client's access token). Never a secret."""

    tenant: TenantPublic
    mode: Mode
    role: KeyRole | None
    scopes: list[str]
    tier: str | None
    require_signing: bool = Field(description="Whether every request must be HMAC-signed.")
    key: KeyPublic | None = Field(description="The API key sent; null for an OAuth token.")
    oauth_client_id: str | None = Field(description="The OAuth client whose token was sent.")


class Page(BaseModel, Generic[T]):
    """A page of a cursor-paginated list."""

    data: list[T]
    has_more: bool
    next_cursor: str | None


class TwoWayPage(Page[T], Generic[T]):
    """A page of a list that can also go back (posts, targets, media)."""

    prev_cursor: str | None = Field(description="The page before this one; null on a first page.")


class Problem(BaseModel):
    """An RFC 9457 problem: every error the API returns has this shape."""

    model_config = ConfigDict(extra="allow")

    type: str = Field(
        examples=["/docs/errors#invalid_input"],
        description="Where the code is explained: /docs/errors on the server that answered.",
    )
    title: str
    status: int
    detail: str
    code: str = Field(description="Stable, machine-readable error code.")
    instance: str | None = None
