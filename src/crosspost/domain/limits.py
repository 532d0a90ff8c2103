"""What a platform accepts, declared as data so the engine can check media before any upload."""

from __future__ import annotations

from dataclasses import dataclass

from crosspost.domain.enums import MediaKind


@dataclass(frozen=True)
class MediaLimits:
    """A platform's documented limits for one kind of post; None means "not limited"."""

    kinds: frozenset[MediaKind]
    text_only: bool = False
    containers: frozenset[str] | None = None
    video_codecs: frozenset[str] | None = None
    audio_codecs: frozenset[str] | None = None
    min_duration_seconds: float | None = None
    max_duration_seconds: float | None = None
    max_bytes: int | None = None
    min_aspect: float | None = None  # width / height
    max_aspect: float | None = None
    min_fps: float | None = None
    max_fps: float | None = None
    min_side: int | None = None
    max_side: int | None = None
    max_width: int | None = None
    caption_max_chars: int | None = None
    caption_max_bytes: int | None = None
    title_max_chars: int | None = None
    max_hashtags: int | None = None
    forbidden_chars: str = ""
    # Set when the platform cannot publish this kind of post at all: says why, and what to send.
    refusal: str | None = None

    @classmethod
    def refused(cls, reason: str) -> MediaLimits:
        """The "limits" of a post type the platform does not offer: every such post is refused
        with `reason`."""
        return cls(kinds=frozenset(), refusal=reason)


@dataclass(frozen=True)
class CarouselLimits:
    """What a platform takes in one post of several media (`media_ids`): how many items and
    of which kinds (each item also keeps its kind's own limits), or why it takes none."""

    max_items: int = 0
    kinds: frozenset[MediaKind] = frozenset()
    refusal: str | None = None


# Every kind of post a platform may be asked for: text only (None) or one kind of media.
POST_KINDS: tuple[MediaKind | None, ...] = (None, *MediaKind)


@dataclass(frozen=True)
class Rate:
    """A documented limit: at most `limit` units in any `per_seconds` window, counted per
    account (one user token) or per app (every account of the platform together); the next
    call spends `cost` units (1 for plain call counts, more for quota units)."""

    bucket: str
    limit: int
    per_seconds: float
    per_account: bool = True
    cost: int = 1
