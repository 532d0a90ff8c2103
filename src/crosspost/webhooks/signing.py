"""Standard Webhooks signing (v1, HMAC-SHA256): the SDK's primitives, and a delivery's headers.

The signed content is ``{webhook-id}.{webhook-timestamp}.{body}`` over the exact body bytes;
the key is the base64 part of the ``whsec_…`` secret, decoded. Receivers can check it with
`crosspost.webhooks.verify` or any Standard Webhooks / Svix library.
"""

from __future__ import annotations

import base64
import secrets as _random
from collections.abc import Sequence

from crosspost import __version__
from crosspost_sdk.webhooks import SECRET_PREFIX, InvalidSecret, secret_key, sign, signature

__all__ = ["InvalidSecret", "new_secret", "secret_key", "sign", "signature", "signature_headers"]

SECRET_BYTES = 32  # the spec asks for 24 to 64
USER_AGENT = f"crosspost/{__version__}"


def new_secret() -> str:
    """A fresh signing secret: ``whsec_`` + base64 of 32 random bytes."""
    return SECRET_PREFIX + base64.b64encode(_random.token_bytes(SECRET_BYTES)).decode()


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
