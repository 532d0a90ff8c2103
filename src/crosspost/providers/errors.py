"""The one error every provider client raises, classified for the retry policy."""

from __future__ import annotations

import math
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import Any

from crosspost.domain.enums import ErrorKind


class ProviderError(Exception):
    """A classified failure of an outside service.

    `kind` decides what the caller does: ``transient`` (429, 5xx, timeouts, lost connections:
    retry, after `retry_after` seconds when given), ``auth`` (401/403: fix the key or its
    access), ``quota`` (the account's credit is spent), ``permanent`` (this request will never
    succeed as sent; `message` says what to change). `raw` is the service's error body with
    secrets removed; nothing here ever holds an API key.
    """

    def __init__(
        self,
        kind: ErrorKind,
        code: str,
        message: str,
        *,
        retry_after: float | None = None,
        http_status: int | None = None,
        raw: Any = None,
    ) -> None:
        super().__init__(f"{kind.value}/{code}: {message}")
        self.kind = kind
        self.code = code
        self.message = message
        self.retry_after = retry_after
        self.http_status = http_status
        self.raw = raw

    @property
    def retryable(self) -> bool:
        """True when the same request may succeed later."""
        return self.kind in {ErrorKind.TRANSIENT, ErrorKind.RATE_LIMITED}


def retry_after_seconds(headers: Any, *, now: datetime | None = None) -> float | None:
    """Seconds to wait from `retry-after-ms` (OpenAI's) or `Retry-After` (seconds, possibly
    fractional, or an HTTP date); None when neither is usable."""
    millis = headers.get("retry-after-ms")
    if millis:
        try:
            waited = float(millis) / 1000
        except ValueError:
            waited = math.nan
        if math.isfinite(waited):
            return max(0.0, waited)
    value = (headers.get("retry-after") or "").strip()
    if not value:
        return None
    try:
        seconds = float(value)
    except ValueError:
        seconds = math.nan
    if math.isfinite(seconds):
        return max(0.0, seconds)
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - (now or datetime.now(UTC))).total_seconds())


__all__ = ["ProviderError", "retry_after_seconds"]
