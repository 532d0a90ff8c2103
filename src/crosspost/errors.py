"""The one error root. Every error a user can see carries a stable code and an HTTP status.

`crosspost.api.errors` is the only place that turns these into responses.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any


def a_or_an(words: str) -> str:
    """`words` after its indefinite article, as messages need it: "an audio", "a video"."""
    return f"{'an' if words[:1].lower() in 'aeiou' else 'a'} {words}"


class CrosspostError(Exception):
    """Base of every error crosspost raises on purpose."""

    status: int = 400
    code: str = "bad_request"
    title: str = "Bad request"

    def __init__(self, detail: str, *, code: str | None = None, **extra: Any) -> None:
        super().__init__(detail)
        self.detail = detail
        if code is not None:
            self.code = code
        self.extra = extra


class BadRequest(CrosspostError):
    """The request is malformed: a required header or parameter is missing (400)."""


class QuotaExceeded(CrosspostError):
    """A monthly usage quota's hard limit is reached (402); `quota` names it."""

    status = 402
    code = "quota_exceeded"
    title = "Quota exceeded"


class RateLimited(CrosspostError):
    """The key's rate limit is spent (429); sent with Retry-After and RateLimit headers."""

    status = 429
    code = "rate_limited"
    title = "Too many requests"


class InvalidInput(CrosspostError):
    """The request is well formed but says something we cannot do (422)."""

    status = 422
    code = "invalid_input"
    title = "Invalid input"


class NotFound(CrosspostError):
    """No such object for this tenant (404; another tenant's id also answers 404)."""

    status = 404
    code = "not_found"
    title = "Not found"


class Unauthorized(CrosspostError):
    """No usable credentials on the request (401)."""

    status = 401
    code = "unauthorized"
    title = "Unauthorized"


class Forbidden(CrosspostError):
    """Credentials are valid but do not allow this (403)."""

    status = 403
    code = "forbidden"
    title = "Forbidden"


class Conflict(CrosspostError):
    """The request conflicts with the object's current state (409)."""

    status = 409
    code = "conflict"
    title = "Conflict"


class Gone(CrosspostError):
    """The object existed but what was asked of it is gone for good (410)."""

    status = 410
    code = "gone"
    title = "Gone"


class PayloadTooLarge(CrosspostError):
    """The body exceeds a configured size limit (413)."""

    status = 413
    code = "payload_too_large"
    title = "Payload too large"


class UnsupportedMediaType(CrosspostError):
    """The body's content type is not accepted here (415)."""

    status = 415
    code = "unsupported_media_type"
    title = "Unsupported media type"


class MediaRejected(InvalidInput):
    """A media file breaks a platform's limits (duration, size, aspect ratio, codec...)."""

    code = "media_rejected"
    title = "Media rejected"


class Problems:
    """Checks that go on past the first refusal: each 422 is kept with the field it concerns,
    then `raise_found` raises what a lone problem would, every problem listed in `errors`."""

    def __init__(self) -> None:
        self.found: list[tuple[str, InvalidInput]] = []

    @contextmanager
    def at(self, field: str) -> Iterator[None]:
        """Run a check; an InvalidInput it raises is kept instead of stopping the caller."""
        try:
            yield
        except InvalidInput as exc:
            self.found.append((field, exc))

    def __bool__(self) -> bool:
        return bool(self.found)

    def raise_found(self) -> None:
        """Raise the first problem's kind and code, with every problem's detail and items."""
        if not self.found:
            return
        items = [item for field, exc in self.found for item in _items(field, exc)]
        first = self.found[0][1]
        if len(self.found) == 1:
            first.extra["errors"] = items
            raise first
        detail = "; ".join(exc.detail for _, exc in self.found)
        raise type(first)(detail, code=first.code, **{**first.extra, "errors": items})


def _items(field: str, exc: InvalidInput) -> list[dict[str, str]]:
    # An error that already lists its parts (several bad options of one platform) keeps them.
    listed = exc.extra.get("errors")
    if isinstance(listed, list) and listed:
        return listed
    return [{"field": field, "message": exc.detail, "type": exc.code}]
