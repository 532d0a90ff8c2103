"""Outgoing webhooks, and `verify` for the receivers of them.

Importing this package is cheap (standard library only), so a receiver can use
``from crosspost.webhooks import verify`` without pulling in the server's dependencies.
"""

from __future__ import annotations

import base64
import binascii
import hmac
import json
import re
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from typing import Any

from crosspost.webhooks.signing import InvalidSecret, secret_key, signature

__all__ = ["DEFAULT_TOLERANCE", "WebhookVerificationError", "verify"]

DEFAULT_TOLERANCE = timedelta(minutes=5)
_TIMESTAMP_RE = re.compile(r"[0-9]{1,12}")


class WebhookVerificationError(ValueError):
    """A delivery failed verification; the message says which check failed."""


def verify(
    payload: bytes | str,
    headers: Mapping[str, str],
    secret: str,
    *,
    tolerance: timedelta = DEFAULT_TOLERANCE,
    now: datetime | None = None,
) -> dict[str, Any]:
    """Check a delivery's Standard Webhooks signature and timestamp; return its JSON body.

    ``payload`` must be the raw body as received. Headers are matched case-insensitively,
    as ``webhook-*`` or ``svix-*``. Raises `WebhookVerificationError` when anything is off.
    """
    try:
        key = secret_key(secret)
    except InvalidSecret as exc:
        raise WebhookVerificationError(str(exc)) from None
    lowered = {name.lower(): value for name, value in headers.items()}
    msg_id = _header(lowered, "id")
    raw_timestamp = _header(lowered, "timestamp")
    signatures = _header(lowered, "signature")

    if not _TIMESTAMP_RE.fullmatch(raw_timestamp.strip()):
        raise WebhookVerificationError(
            f"the webhook-timestamp header must be integer Unix seconds, got {raw_timestamp!r}"
        )
    timestamp = int(raw_timestamp)
    current = datetime.now(UTC) if now is None else now
    if current.tzinfo is None:
        raise TypeError("now must be a timezone-aware datetime")
    skew = timestamp - current.timestamp()
    limit = tolerance.total_seconds()
    if skew < -limit:
        raise WebhookVerificationError(
            f"the message timestamp is too old: {-skew:.0f} s before now, more than the "
            f"{limit:.0f} s tolerance (a replay, or this machine's clock is wrong)"
        )
    if skew > limit:
        raise WebhookVerificationError(
            f"the message timestamp is too new: {skew:.0f} s after now, more than the "
            f"{limit:.0f} s tolerance (check this machine's clock)"
        )

    body = payload.encode() if isinstance(payload, str) else payload
    expected = signature(key, msg_id, timestamp, body)
    checked = 0
    for entry in signatures.split():
        version, comma, encoded = entry.partition(",")
        if version != "v1" or not comma:
            continue  # another scheme (v1a) or a malformed entry: not ours to judge
        checked += 1
        try:
            given = base64.b64decode(encoded, validate=True)
        except (binascii.Error, ValueError):
            continue
        if hmac.compare_digest(expected, given):
            return _parse(body)
    if not checked:
        raise WebhookVerificationError(
            f"the webhook-signature header holds no v1 signature: {signatures[:200]!r}"
        )
    raise WebhookVerificationError(
        f"no matching signature ({checked} v1 signature(s) checked): the body was altered, or "
        "the secret is not this endpoint's (after a rotation, use the new secret)"
    )


def _header(headers: Mapping[str, str], name: str) -> str:
    value = headers.get(f"webhook-{name}") or headers.get(f"svix-{name}")
    if not value:
        raise WebhookVerificationError(f"missing header webhook-{name} (or svix-{name})")
    return value


def _parse(body: bytes) -> dict[str, Any]:
    try:
        data = json.loads(body)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise WebhookVerificationError(f"the signed payload is not valid JSON: {exc}") from None
    if not isinstance(data, dict):
        raise WebhookVerificationError("the signed payload is not a JSON object")
    return data
