"""HMAC request signing (scheme v1): the SDK signs with it, the server checks with it.

The string to sign is six lines joined by ``\\n`` with no trailing newline::

    METHOD              upper case, e.g. POST
    PATH                the raw path exactly as sent (``%2F`` and ``//`` kept, no query)
    QUERY               the canonical query (see `canonical_query`), empty when none
    BODY_SHA256         lowercase hex SHA-256 of the raw body bytes (e3b0… when empty)
    TIMESTAMP           the X-Timestamp header as sent: UTC ``YYYY-MM-DDTHH:MM:SSZ``
    NONCE               the X-Nonce header as sent

``X-Signature`` is the lowercase hex HMAC-SHA256 of its UTF-8 bytes, keyed with the UTF-8
bytes of the whole signing secret (``cpsig_…``, prefix included).
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
from collections.abc import AsyncGenerator, Callable, Generator
from datetime import UTC, datetime
from urllib.parse import quote, unquote_to_bytes, urlsplit

import httpx

SIGNATURE_HEADER = "X-Signature"
TIMESTAMP_HEADER = "X-Timestamp"
NONCE_HEADER = "X-Nonce"
KEY_ID_HEADER = "X-Key-Id"

TIMESTAMP_FORMAT = "%Y-%m-%dT%H:%M:%SZ"
EMPTY_BODY_SHA256 = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"

TIMESTAMP_RE = re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z")
NONCE_RE = re.compile(r"[A-Za-z0-9_-]{16,128}")
SIGNATURE_RE = re.compile(r"[0-9a-fA-F]{64}")

# RFC 3986 unreserved characters: everything else in a query name or value is %XX-encoded.
_UNRESERVED = "-_.~"
# Characters a client may send unencoded in a path (RFC 3986 pchar plus "/"); "%" is kept
# so escapes already present are left exactly as they are.
PATH_SAFE = "/%!$&'()*+,;=:@-._~"


def canonical_query(raw_query: str) -> str:
    """The query as signed: pairs percent-decoded (``+`` is a space), re-encoded, sorted.

    Each ``&``-separated pair is split at its first ``=`` (a bare ``name`` is ``name=``),
    decoded to bytes (``+`` means a space, as in HTML forms and in how the server reads
    the query, so a literal plus must be sent as ``%2B``), and re-encoded leaving only
    ``A-Z a-z 0-9 - . _ ~`` unescaped, with uppercase hex. Pairs are sorted by encoded name;
    repeated names keep the order they were sent in (a stable sort), because that order is
    what the server sees. Empty pairs (``a=1&&b=2``) are dropped.
    """
    pairs: list[tuple[str, str]] = []
    for part in raw_query.split("&"):
        if not part:
            continue
        name, _, value = part.partition("=")
        pairs.append((_encode(name), _encode(value)))
    pairs.sort(key=lambda pair: pair[0])
    return "&".join(f"{name}={value}" for name, value in pairs)


def _encode(component: str) -> str:
    return quote(unquote_to_bytes(component.replace("+", " ")), safe=_UNRESERVED)


def body_sha256(body: bytes) -> str:
    """Lowercase hex SHA-256 of a raw body."""
    return hashlib.sha256(body).hexdigest()


def string_to_sign(
    method: str, raw_path: str, raw_query: str, body: bytes, timestamp: str, nonce: str
) -> str:
    """The canonical string for a request whose body is in memory."""
    return string_to_sign_for_hash(method, raw_path, raw_query, body_sha256(body), timestamp, nonce)


def string_to_sign_for_hash(
    method: str, raw_path: str, raw_query: str, body_hash: str, timestamp: str, nonce: str
) -> str:
    """The canonical string when the body's SHA-256 is already known (streamed bodies)."""
    return "\n".join(
        [method.upper(), raw_path, canonical_query(raw_query), body_hash, timestamp, nonce]
    )


def compute_signature(secret: str, string: str) -> str:
    """Lowercase hex HMAC-SHA256 of `string`, keyed with the secret's UTF-8 bytes."""
    return hmac.new(secret.encode(), string.encode(), hashlib.sha256).hexdigest()


def format_timestamp(moment: datetime) -> str:
    """An aware datetime as an X-Timestamp value (UTC, whole seconds, ``Z``)."""
    if moment.tzinfo is None:
        raise ValueError("give an aware datetime (e.g. datetime.now(UTC))")
    return moment.astimezone(UTC).strftime(TIMESTAMP_FORMAT)


def parse_timestamp(value: str) -> datetime | None:
    """An X-Timestamp value as an aware UTC datetime; None unless exactly ``…T…Z``."""
    if not TIMESTAMP_RE.fullmatch(value):
        return None
    try:
        return datetime.strptime(value, TIMESTAMP_FORMAT).replace(tzinfo=UTC)
    except ValueError:
        return None


def new_nonce() -> str:
    """A fresh nonce: 24 URL-safe characters carrying 144 random bits."""
    return secrets.token_urlsafe(18)


def sign_request(
    secret: str,
    method: str,
    url: str,
    body: bytes = b"",
    *,
    key_id: str | None = None,
    now: datetime | None = None,
    nonce: str | None = None,
) -> dict[str, str]:
    """The X-Signature, X-Timestamp, X-Nonce (and X-Key-Id) headers for one request.

    `url` may be absolute or just ``/path?query``; characters a client would percent-encode
    in the path (spaces, non-ASCII) are encoded the same way here. Send the request with
    exactly this path, query and body, and a new nonce each time.
    """
    parts = urlsplit(url)
    path = quote(parts.path or "/", safe=PATH_SAFE)
    timestamp = format_timestamp(now or datetime.now(UTC))
    nonce = nonce or new_nonce()
    signature = compute_signature(
        secret, string_to_sign(method, path, parts.query, body, timestamp, nonce)
    )
    headers = {SIGNATURE_HEADER: signature, TIMESTAMP_HEADER: timestamp, NONCE_HEADER: nonce}
    if key_id is not None:
        headers[KEY_ID_HEADER] = key_id
    return headers


# A request extension carrying the body's SHA-256 when the body is streamed (media
# uploads), so HmacAuth signs without reading a large file into memory.
BODY_SHA256 = "crosspost.body_sha256"


class HmacAuth(httpx.Auth):
    """Signs every request with an API key's signing secret (X-Signature, X-Timestamp,
    X-Nonce and, when given, X-Key-Id) and sends the API key as a Bearer token.

    Use it with any httpx client: ``httpx.Client(auth=HmacAuth(api_key, secret))``. Each
    request, retries included, gets a fresh nonce and timestamp.
    """

    def __init__(
        self,
        api_key: str | None,
        signing_secret: str,
        key_id: str | None = None,
        *,
        clock: Callable[[], datetime] | None = None,
    ) -> None:
        self.api_key = api_key
        self.signing_secret = signing_secret
        self.key_id = key_id
        self.clock = clock or (lambda: datetime.now(UTC))

    def sync_auth_flow(
        self, request: httpx.Request
    ) -> Generator[httpx.Request, httpx.Response, None]:
        """Sign (reading the body first unless its hash was given) and send."""
        if BODY_SHA256 not in request.extensions:
            request.read()
        self.sign(request)
        yield request

    async def async_auth_flow(
        self, request: httpx.Request
    ) -> AsyncGenerator[httpx.Request, httpx.Response]:
        """Sign (reading the body first unless its hash was given) and send."""
        if BODY_SHA256 not in request.extensions:
            await request.aread()
        self.sign(request)
        yield request

    def sign(self, request: httpx.Request) -> None:
        """Set the signing headers for exactly the path, query and body httpx will send."""
        body_hash = (
            request.extensions.get(BODY_SHA256) or hashlib.sha256(request.content).hexdigest()
        )
        path, _, query = request.url.raw_path.decode("ascii").partition("?")
        timestamp = format_timestamp(self.clock())
        nonce = new_nonce()
        string = string_to_sign_for_hash(request.method, path, query, body_hash, timestamp, nonce)
        request.headers[SIGNATURE_HEADER] = compute_signature(self.signing_secret, string)
        request.headers[TIMESTAMP_HEADER] = timestamp
        request.headers[NONCE_HEADER] = nonce
        if self.key_id is not None:
            request.headers[KEY_ID_HEADER] = self.key_id
        if self.api_key is not None:
            request.headers["Authorization"] = f"Bearer {self.api_key}"
