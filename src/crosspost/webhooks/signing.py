"""Standard Webhooks signing (v1, HMAC-SHA256), standard library only.

The signed content is ``{webhook-id}.{webhook-timestamp}.{body}`` over the exact body bytes;
the key is the base64 part of the ``whsec_…`` secret, decoded. Receivers can check it with
`crosspost.webhooks.verify` or any Standard Webhooks / Svix library.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import secrets as _random
from collections.abc import Sequence

from crosspost import __version__

SECRET_PREFIX = "whsec_"  # noqa: S105 - the prefix of every secret, not a secret
SECRET_BYTES = 32  # the spec asks for 24 to 64
USER_AGENT = f"crosspost/{__version__}"


class InvalidSecret(ValueError):
    """A webhook secret is not ``whsec_`` + base64."""


def new_secret() -> str:
    """A fresh signing secret: ``whsec_`` + base64 of 32 random bytes."""
    return SECRET_PREFIX + base64.b64encode(_random.token_bytes(SECRET_BYTES)).decode()


def secret_key(secret: str) -> bytes:
    """The HMAC key inside a ``whsec_…`` secret (the prefix is optional, padding too).

    Its length is not checked, as in the reference libraries: the spec's own test vector
    holds 21 bytes. `new_secret` is what guarantees our secrets hold 32.
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


def signature_headers(
    event_id: str,
    timestamp: int,
    body: str,
    secrets: Sequence[str],
    *,
    event_type: str,
) -> dict[str, str]:
    """Every header a delivery carries: Standard Webhooks' three and the seed's.

    ``secrets`` is the current secret first, then the previous one during its grace
    period; the signature header holds one ``v1,`` entry per secret, in that order.
    """
    if not secrets:
        raise ValueError("a webhook delivery needs at least one secret to sign with")
    return {
        "webhook-id": event_id,
        "webhook-timestamp": str(timestamp),
        "webhook-signature": " ".join(sign(s, event_id, timestamp, body) for s in secrets),
        "X-Webhook-ID": event_id,
        "X-Event": event_type,
        "User-Agent": USER_AGENT,
        "Content-Type": "application/json",
    }
