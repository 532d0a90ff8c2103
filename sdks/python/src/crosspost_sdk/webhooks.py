"""Verifying crosspost's webhooks (Standard Webhooks v1, HMAC-SHA256); standard library only.

The signed content is ``{webhook-id}.{webhook-timestamp}.{body}`` over the exact body bytes;
the key is the base64 part of the endpoint's ``whsec_…`` secret, decoded::

    event = Webhook(secret).verify(request_body, request_headers)
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import re
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from typing import Any

__all__ = [
    "DEFAULT_TOLERANCE",
    "InvalidSecret",
    "Webhook",
    "WebhookVerificationError",
    "sign",
    "verify",
]

SECRET_PREFIX = "whsec_"  # noqa: S105 - the prefix of every secret, not a secret
DEFAULT_TOLERANCE = timedelta(minutes=5)
_TIMESTAMP_RE = re.compile(r"[0-9]{1,12}")


class WebhookVerificationError(ValueError):
    """A delivery failed verification; the message says which check failed."""


class InvalidSecret(ValueError):
    """A webhook secret is not ``whsec_`` + base64."""


def secret_key(secret: str) -> bytes:
    """The HMAC key inside a ``whsec_…`` secret (the prefix is optional, padding too).

    Its length is not checked, as in the reference libraries: the spec's own test vector
    holds 21 bytes.
    """
    encoded = secret.strip().removeprefix(SECRET_PREFIX)
    if not encoded:
        raise InvalidSecret("the webhook secret is empty; copy the whole whsec_… value")
    try:
        key = base64.b64decode(encoded + "=" * (-len(encoded) % 4), validate=True)
    except (binascii.Error, ValueError):
        raise InvalidSecret(
            "the webhook secret is not base64 after its whsec_ prefix; copy the whole value "
            "shown when the endpoint was created or its secret rotated"
        ) from None
    if not key:
        raise InvalidSecret("the webhook secret is empty; copy the whole whsec_… value")
    return key


def signature(key: bytes, msg_id: str, timestamp: int, body: bytes) -> bytes:
    """The raw HMAC-SHA256 of ``{msg_id}.{timestamp}.{body}``."""
    content = b"%s.%d.%s" % (msg_id.encode(), timestamp, body)
    return hmac.new(key, content, hashlib.sha256).digest()


def sign(secret: str, msg_id: str, timestamp: int, body: str | bytes) -> str:
    """One ``v1,<base64>`` signature entry for ``body`` under ``secret``."""
    if "." in msg_id:
        raise ValueError(f"a webhook id may not contain '.': {msg_id!r}")
    raw = body.encode() if isinstance(body, str) else body
    digest = signature(secret_key(secret), msg_id, timestamp, raw)
    return "v1," + base64.b64encode(digest).decode()


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


class Webhook:
    """One endpoint's secret, checking its deliveries: ``Webhook(secret).verify(body, headers)``."""

    def __init__(self, secret: str, *, tolerance: timedelta = DEFAULT_TOLERANCE) -> None:
        secret_key(secret)  # refuse a malformed secret now rather than at the first delivery
        self._secret = secret
        self.tolerance = tolerance

    def __repr__(self) -> str:
        return "Webhook(secret=<hidden>)"

    def verify(
        self, payload: bytes | str, headers: Mapping[str, str], *, now: datetime | None = None
    ) -> dict[str, Any]:
        """The delivery's event (its JSON body) once its signature and timestamp check out."""
        return verify(payload, headers, self._secret, tolerance=self.tolerance, now=now)


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
