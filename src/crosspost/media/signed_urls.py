"""Signed, expiring URLs for media that a platform fetches itself (Instagram's `video_url`
and `image_url`, TikTok's `PULL_FROM_URL`): anyone holding the URL may read that one file
until it expires, and nothing else."""

from __future__ import annotations

import hashlib
import hmac
from urllib.parse import urlencode

_LABEL = b"crosspost media url v1"


def _signature(key: bytes, media_id: str, expires: int) -> str:
    message = b"\n".join([_LABEL, media_id.encode(), str(expires).encode()])
    return hmac.new(key, message, hashlib.sha256).hexdigest()


def content_path(media_id: str) -> str:
    """Where the API serves a media object's bytes."""
    return f"/v1/media/{media_id}/content"


def sign(base_url: str, media_id: str, key: bytes, expires: int) -> str:
    """The URL of a media object's bytes, valid until `expires` (Unix seconds)."""
    query = urlencode({"expires": expires, "signature": _signature(key, media_id, expires)})
    return f"{base_url.rstrip('/')}{content_path(media_id)}?{query}"


def verify(key: bytes, media_id: str, expires: int, signature: str) -> bool:
    """True when `signature` was made by `sign` for this media and expiry (constant time)."""
    # Bytes, not str: compare_digest refuses non-ASCII text, and the query is anyone's input.
    return hmac.compare_digest(_signature(key, media_id, expires).encode(), signature.encode())
