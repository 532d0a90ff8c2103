"""Enumerations of the publishing domain."""

from __future__ import annotations

from enum import StrEnum


class Platform(StrEnum):
    """A destination crosspost can publish to."""

    YOUTUBE = "youtube"
    TIKTOK = "tiktok"
    INSTAGRAM = "instagram"
    X = "x"
    LINKEDIN = "linkedin"
    SOUNDCLOUD = "soundcloud"


class Mode(StrEnum):
    """Test mode reaches only the fakes; live mode only the real platforms."""

    TEST = "test"
    LIVE = "live"


class TargetStatus(StrEnum):
    """Where one (post, account) pair stands in the state machine (ARCHITECTURE §3)."""

    SCHEDULED = "scheduled"
    QUEUED = "queued"
    UPLOADING = "uploading"
    PROCESSING = "processing"
    PUBLISHING = "publishing"
    PUBLISHED = "published"
    FAILED = "failed"
    UNCONFIRMED = "unconfirmed"
    RECONCILING = "reconciling"
    WAITING = "waiting"
    NEEDS_REAUTH = "needs_reauth"
    CANCELLED = "cancelled"
    # Was published, then taken down on the platform (DELETE …/remote).
    DELETED = "deleted"

    @property
    def terminal(self) -> bool:
        """True once nothing more will happen to the target."""
        return self in _TERMINAL_TARGET

    @property
    def cancellable(self) -> bool:
        """True while cancelling cannot race an irreversible platform call."""
        return self in _CANCELLABLE_TARGET


_TERMINAL_TARGET = frozenset(
    {TargetStatus.PUBLISHED, TargetStatus.FAILED, TargetStatus.CANCELLED, TargetStatus.DELETED}
)
_CANCELLABLE_TARGET = frozenset(
    {
        TargetStatus.SCHEDULED,
        TargetStatus.QUEUED,
        TargetStatus.UPLOADING,
        TargetStatus.PROCESSING,
        TargetStatus.WAITING,
        TargetStatus.NEEDS_REAUTH,
    }
)


class PostStatus(StrEnum):
    """The rollup of a post's targets."""

    SCHEDULED = "scheduled"
    PUBLISHING = "publishing"
    PUBLISHED = "published"
    PARTIALLY_PUBLISHED = "partially_published"
    FAILED = "failed"
    CANCELLED = "cancelled"
    # Every target that was published has been taken down again, and none is left up.
    DELETED = "deleted"


class ErrorKind(StrEnum):
    """How a failure is classified; each kind has its own retry policy."""

    AUTH = "auth"
    RATE_LIMITED = "rate_limited"
    QUOTA = "quota"
    TRANSIENT = "transient"
    PERMANENT = "permanent"
    UNCONFIRMED = "unconfirmed"


class MediaKind(StrEnum):
    """What a media object holds."""

    VIDEO = "video"
    AUDIO = "audio"
    IMAGE = "image"


class AccountStatus(StrEnum):
    """Health of a connected social account."""

    ACTIVE = "active"
    NEEDS_REAUTH = "needs_reauth"
    DISABLED = "disabled"


class AccountRole(StrEnum):
    """A main account owns app credentials; a satellite posts through its main's app."""

    MAIN = "main"
    SATELLITE = "satellite"


class KeyRole(StrEnum):
    """What a key may do, as a named set of scopes."""

    OWNER = "owner"
    ADMIN = "admin"
    DEVELOPER = "developer"
    VIEWER = "viewer"
