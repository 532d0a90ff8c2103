"""The shared hierarchy every platform maps its errors onto."""

from __future__ import annotations

from typing import Any

from crosspost.domain.enums import ErrorKind


class PlatformError(Exception):
    """A classified platform failure: kind decides the retry policy, the rest explains it."""

    def __init__(
        self,
        kind: ErrorKind,
        code: str,
        message: str,
        *,
        retry_after: float | None = None,
        raw: Any = None,
        http_status: int | None = None,
    ) -> None:
        super().__init__(f"{kind.value}/{code}: {message}")
        self.kind = kind
        self.code = code
        self.message = message
        self.retry_after = retry_after
        self.raw = raw
        self.http_status = http_status

    @property
    def definite_refusal(self) -> bool:
        """True when the platform clearly answered "no", so nothing was created."""
        return self.kind in {
            ErrorKind.PERMANENT,
            ErrorKind.AUTH,
            ErrorKind.QUOTA,
            ErrorKind.RATE_LIMITED,
        }


class OutcomeUnknown(PlatformError):
    """An irreversible call was sent but its answer was lost; reconcile before anything else."""

    def __init__(self, message: str, *, raw: Any = None) -> None:
        super().__init__(ErrorKind.UNCONFIRMED, "outcome_unknown", message, raw=raw)


class AlreadyExists(PlatformError):
    """The platform refused a post because the same content is already there (X's duplicate
    content, LinkedIn's DUPLICATE_POST, an already-published Instagram container).

    A refusal like this of a commit retried after an unknown outcome is evidence that the
    earlier attempt created the post: the engine adopts that post instead of failing.
    `existing_id` is the existing post's id when the refusal names it.
    """

    def __init__(
        self,
        code: str,
        message: str,
        *,
        existing_id: str | None = None,
        raw: Any = None,
        http_status: int | None = None,
    ) -> None:
        super().__init__(ErrorKind.PERMANENT, code, message, raw=raw, http_status=http_status)
        self.existing_id = existing_id


class UnsupportedPostType(PlatformError):
    """The platform's API cannot publish this kind of post at all."""

    def __init__(self, message: str) -> None:
        super().__init__(ErrorKind.PERMANENT, "unsupported_post_type", message)


class PostGone(PlatformError):
    """The platform no longer has the post (deleted there, or never visible to this token)."""

    def __init__(self, message: str, *, raw: Any = None, http_status: int | None = None) -> None:
        super().__init__(
            ErrorKind.PERMANENT, "post_not_found", message, raw=raw, http_status=http_status
        )
