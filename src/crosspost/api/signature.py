"""Verifying HMAC-signed requests (X-Signature, X-Timestamp, X-Nonce, optional X-Key-Id).

Checked in this order, cheapest first: headers present and well formed (400), timestamp
within the allowed skew (401 ``clock_skew``), the key has a signing secret (401), the
signature over the raw path, canonical query and body hash (401 ``invalid_signature``), and
only then the nonce is recorded (401 ``nonce_reused``), so a forged request cannot burn a
legitimate client's nonce.
"""

from __future__ import annotations

import hashlib
import hmac
import tempfile
from dataclasses import dataclass, field
from datetime import datetime
from typing import IO, Any
from urllib.parse import quote

from fastapi import FastAPI, Request
from fastapi.concurrency import run_in_threadpool
from starlette.types import Message

from crosspost.api.auth import Principal
from crosspost.api.wellformed import content_length
from crosspost.engine.services import Services
from crosspost.errors import BadRequest, Unauthorized
from crosspost.usage.admission import Nonce
from crosspost.usage.nonces import create_nonce_store
from crosspost.vault.signing_secrets import SecretCache, SigningSecret, live_secrets
from crosspost_sdk.signing import (
    KEY_ID_HEADER,
    NONCE_HEADER,
    NONCE_RE,
    PATH_SAFE,
    SIGNATURE_HEADER,
    SIGNATURE_RE,
    TIMESTAMP_HEADER,
    compute_signature,
    format_timestamp,
    parse_timestamp,
    string_to_sign_for_hash,
)

# Bodies up to this size are hashed in memory; larger ones (media uploads) are spooled to a
# temporary file while hashed, then handed to the route from there.
_IN_MEMORY = 1024 * 1024
_MAX_KEY_ID = 64


def install_signing(app: FastAPI, svc: Services) -> None:
    """Give an app its nonce store (Redis or database) and its cache of opened secrets."""
    app.state.nonces = create_nonce_store(svc.settings, svc.db, svc.clock)
    app.state.signing_cache = SecretCache(svc.settings.auth_cache_seconds)


def secret_cache(request: Request) -> SecretCache:
    """The app's cache of opened signing secrets (see `install_signing`)."""
    cache: SecretCache = request.app.state.signing_cache
    return cache


async def verify_request(request: Request, svc: Services, principal: Principal) -> Nonce | None:
    """`verify_signature` for an authenticated principal, with the app's cache."""
    return await verify_signature(
        svc,
        request,
        principal.key_id,
        principal.tenant_id,
        required=principal.require_signing,
        cache=secret_cache(request),
    )


@dataclass(frozen=True)
class _Claim:
    """What a signed request claims: its signing headers, read and checked for form."""

    signature: str = field(repr=False)
    timestamp: str
    signed_at: datetime
    nonce: str
    key_id: str | None
    now: datetime


async def verify_signature(
    svc: Services,
    request: Request,
    principal_key_id: str,
    tenant_id: str,
    *,
    required: bool,
    cache: SecretCache | None = None,
) -> Nonce | None:
    """Check the request's signature for the authenticated API key, or raise 400/401; the
    nonce of a verified signature, which the caller must record (`usage.admission`) before
    acting on the request: a nonce is recorded only once its signature is known good, so a
    forged request cannot burn it.

    Without ``X-Signature`` the request passes unless `required` (the tenant requires
    signing). With it, the signature must verify whatever the policy.
    """
    claim = _claim(request, svc.clock.now(), required=required)
    if claim is None:
        return None
    _check_skew(claim, svc.settings.signature_skew_seconds)

    def load(fresh: bool) -> list[SigningSecret]:
        return live_secrets(
            svc.db,
            svc.keyring,
            tenant_id=tenant_id,
            key_id=principal_key_id,
            now=claim.now,
            cache=cache,
            fresh=fresh,
        )

    candidates = await svc.db.run(load, False)
    if not candidates and cache is not None:
        candidates = await svc.db.run(load, True)
    if not candidates:
        # Refused before the body is read: this key cannot sign at all.
        raise _refusal(candidates, claim, principal_key_id, "")
    body_hash, spool = await _read_body(request)
    try:
        string = string_to_sign_for_hash(
            request.method,
            _raw_path(request.scope),
            request.scope.get("query_string", b"").decode("latin-1"),
            body_hash,
            claim.timestamp,
            claim.nonce,
        )
        if _match(candidates, claim, string) is None:
            if cache is not None:
                # A secret created or rotated in another process may not be cached here yet.
                candidates = await svc.db.run(load, True)
            if _match(candidates, claim, string) is None:
                raise _refusal(candidates, claim, principal_key_id, string)
    except BaseException:
        if spool is not None:
            spool.close()
        raise
    if spool is not None:
        _replay(request, spool)
    # Kept twice the allowed skew: past that, the timestamp alone refuses a replay.
    return Nonce(claim.nonce, 2 * svc.settings.signature_skew_seconds)


def nonce_reused(nonce: Nonce, now: datetime) -> Unauthorized:
    """The 401 for a signed request whose nonce this key already used."""
    return Unauthorized(
        f"Nonce already used: X-Nonce {nonce.value!r} was already sent with this API key in "
        f"the last {nonce.ttl_seconds} s. Send a new random nonce with every request, retries "
        "included.",
        code="nonce_reused",
        server_time=format_timestamp(now),
    )


def _claim(request: Request, now: datetime, *, required: bool) -> _Claim | None:
    headers = request.headers
    signature = headers.get(SIGNATURE_HEADER)
    if signature is None:
        if required:
            raise _missing(SIGNATURE_HEADER, now, why="this tenant requires signed requests")
        return None
    timestamp = headers.get(TIMESTAMP_HEADER)
    if timestamp is None:
        raise _missing(TIMESTAMP_HEADER, now, why="a signed request carries its signing time")
    nonce = headers.get(NONCE_HEADER)
    if nonce is None:
        raise _missing(NONCE_HEADER, now, why="a signed request carries a unique nonce")
    signed_at = _check_formats(signature, timestamp, nonce, now)
    key_id = headers.get(KEY_ID_HEADER)
    return _Claim(signature.lower(), timestamp, signed_at, nonce, key_id, now)


def _check_skew(claim: _Claim, skew: int) -> None:
    drift = (claim.signed_at - claim.now).total_seconds()
    if abs(drift) > skew:
        side = "ahead of" if drift > 0 else "behind"
        raise Unauthorized(
            f"Clock skew too large: X-Timestamp {claim.timestamp} is {abs(drift):.0f} s {side} "
            f"the server's time {format_timestamp(claim.now)}; at most {skew} s is allowed. "
            "Sync your clock (NTP) and sign with the current UTC time.",
            code="clock_skew",
            server_time=format_timestamp(claim.now),
        )


def _missing(header: str, now: datetime, *, why: str) -> BadRequest:
    return BadRequest(
        f"missing {header} header: {why}. Send X-Signature, X-Timestamp and X-Nonce "
        "(see the request-signing section of the README).",
        code="missing_signature_header",
        header=header,
        server_time=format_timestamp(now),
    )


def _check_formats(signature: str, timestamp: str, nonce: str, now: datetime) -> datetime:
    """The signing time, once every header has the right form (else 400 naming it)."""

    def bad(header: str, expected: str) -> BadRequest:
        return BadRequest(
            f"malformed {header} header: {expected}",
            code="invalid_signature_header",
            header=header,
            server_time=format_timestamp(now),
        )

    if not SIGNATURE_RE.fullmatch(signature):
        raise bad(SIGNATURE_HEADER, "send the HMAC-SHA256 as 64 lowercase hex characters")
    signed_at = parse_timestamp(timestamp)
    if signed_at is None:
        raise bad(
            TIMESTAMP_HEADER,
            f"send UTC time as YYYY-MM-DDTHH:MM:SSZ, e.g. {format_timestamp(now)} "
            "(no fractions, no offsets)",
        )
    if not NONCE_RE.fullmatch(nonce):
        raise bad(NONCE_HEADER, "send 16 to 128 characters of A-Z a-z 0-9 _ - (random, unique)")
    return signed_at


def _match(candidates: list[SigningSecret], claim: _Claim, string: str) -> SigningSecret | None:
    for secret in candidates:
        if claim.key_id is not None and secret.id != claim.key_id:
            continue
        if hmac.compare_digest(compute_signature(secret.secret, string), claim.signature):
            return secret
    return None


def _refusal(
    candidates: list[SigningSecret], claim: _Claim, principal_key_id: str, string: str
) -> Unauthorized:
    server_time = format_timestamp(claim.now)
    if not candidates:
        return Unauthorized(
            "Invalid API key: this API key has no active signing secret, so it cannot sign "
            f"requests. Create one with POST /v1/keys/{principal_key_id}/signing-secrets.",
            code="no_signing_secret",
            server_time=server_time,
        )
    if claim.key_id is not None and all(s.id != claim.key_id for s in candidates):
        shown = claim.key_id[:_MAX_KEY_ID]
        return Unauthorized(
            f"Invalid API key: X-Key-Id {shown!r} is not an active signing secret of this API "
            "key (expired after a rotation, revoked, or mistyped). Name a current secret's id, "
            "or leave X-Key-Id out to try them all.",
            code="invalid_signing_key",
            server_time=server_time,
        )
    method, path, query, body_hash = string.split("\n")[:4]
    return Unauthorized(
        "Invalid signature: X-Signature is not the HMAC-SHA256 (lowercase hex) of the string "
        f"the server built, whose first line is {method!r}. Sign exactly: the method, the raw "
        f"path as sent ({path!r}), the canonical query ({query!r}), the SHA-256 of the exact "
        f"body bytes ({body_hash}), X-Timestamp and X-Nonce, joined by \\n with no trailing "
        "newline, keyed with a current signing secret. `string_to_sign` shows what was signed.",
        code="invalid_signature",
        string_to_sign=string,
        server_time=server_time,
    )


def _raw_path(scope: Any) -> str:
    raw = scope.get("raw_path")
    if raw:
        # Latin-1 maps bytes to characters one to one, so no two raw paths sign alike.
        return bytes(raw).split(b"?", 1)[0].decode("latin-1")
    # A server that gives no raw path: re-encode the decoded one as a client would send it.
    return quote(str(scope["path"]), safe=PATH_SAFE)


async def _read_body(request: Request) -> tuple[str, IO[bytes] | None]:
    """The body's SHA-256, and the spool holding it when it was too large for memory."""
    length = request.headers.get("content-length")
    size = content_length(length) if length is not None else None
    small = size is not None and size <= _IN_MEMORY
    if small or (length is None and "transfer-encoding" not in request.headers):
        return hashlib.sha256(await request.body()).hexdigest(), None
    return await _spool(request)


async def _spool(request: Request) -> tuple[str, IO[bytes]]:
    digest = hashlib.sha256()
    spool: IO[bytes] = tempfile.SpooledTemporaryFile(max_size=_IN_MEMORY)  # noqa: SIM115
    pending = bytearray()
    try:
        async for chunk in request.stream():
            digest.update(chunk)
            pending += chunk
            if len(pending) >= _IN_MEMORY:
                await run_in_threadpool(spool.write, bytes(pending))
                pending.clear()
        await run_in_threadpool(spool.write, bytes(pending))
        spool.seek(0)
    except BaseException:
        spool.close()
        raise
    return digest.hexdigest(), spool


def _replay(request: Request, spool: IO[bytes]) -> None:
    """Let the route read the body we consumed, from the spool, as if from the socket."""
    upstream = request.receive
    done = False

    async def receive() -> Message:
        nonlocal done
        if done:
            return await upstream()
        chunk = await run_in_threadpool(spool.read, _IN_MEMORY)
        if chunk:
            return {"type": "http.request", "body": chunk, "more_body": True}
        done = True
        spool.close()
        return {"type": "http.request", "body": b"", "more_body": False}

    # Starlette's Request reads its body through these two attributes; the route gets the
    # same Request object as this dependency, so its stream() now reads the spool.
    request._receive = receive
    request._stream_consumed = False
