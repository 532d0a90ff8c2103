"""`Idempotency-Key` on creating POSTs: same key + same body → the same response.

The key is recorded as in flight before the work starts, and its response is stored in the
same transaction that creates the object, so a crash can never leave an object without its
key (which would let a retry create it twice).
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from datetime import timedelta
from typing import Annotated

from fastapi import Depends, Header, Request, Response
from sqlalchemy.engine import Connection
from starlette.concurrency import run_in_threadpool

from crosspost.api.auth import Operator, Principal
from crosspost.engine.services import Services
from crosspost.errors import Conflict, CrosspostError, InvalidInput
from crosspost.store import idempotency as records
from crosspost.store.tables import idempotency_keys, max_length

RETENTION = timedelta(hours=24)
_STALE = timedelta(minutes=2)
OPERATOR_NAMESPACE = "(operator)"  # the operator's keys, in place of a tenant id
_MAX_LEN = 255
# The path is kept for reading the table; the fingerprint, which covers all of it, decides.
_PATH_KEPT = max_length(idempotency_keys.c.path)


async def _idempotency_key(
    idempotency_key: Annotated[
        str | None,
        Header(
            alias="Idempotency-Key",
            max_length=300,
            description="Makes a retry safe: the same key and body within 24 h replay the "
            "first answer instead of creating again.",
        ),
    ] = None,
    x_idempotency_key: Annotated[
        str | None,
        Header(
            alias="X-Idempotency-Key",
            max_length=300,
            description="The same, under the name signed-request clients send (seed 002).",
        ),
    ] = None,
) -> str | None:
    return idempotency_key if idempotency_key is not None else x_idempotency_key


# What every creating POST takes: the same key and body within 24 h answer the first
# response again instead of creating a second object.
IdempotencyKey = Annotated[str | None, Depends(_idempotency_key)]


class Idempotency:
    """One request's idempotency bookkeeping."""

    def __init__(
        self,
        svc: Services,
        principal: Principal | Operator,
        *,
        method: str,
        path: str,
        key: str | None,
        body: bytes,
    ) -> None:
        self.svc = svc
        # Operators share one namespace: `/v1/admin` is the server's, not a tenant's.
        self.tenant_id = (
            principal.tenant_id if isinstance(principal, Principal) else OPERATOR_NAMESPACE
        )
        self.method = method
        self.path = path
        self.key = _clean(key)
        self.fingerprint = hashlib.sha256(
            b"\n".join([method.encode(), path.encode(), body])
        ).hexdigest()

    def begin(self) -> Response | None:
        """Claim the key in a transaction of its own, for work that cannot run inside one
        (an upload): a replayed response, or None when the caller should do the work."""
        if self.key is None:
            return None
        with self.svc.db.write() as conn:
            return self.claim(conn)

    def claim(self, conn: Connection) -> Response | None:
        """Claim the key in the caller's write transaction, which then does the work and
        `finish`es: a replayed response, or None when the caller should do the work. An
        error rolls the claim back with the work, so a corrected retry may reuse the key;
        on PostgreSQL a concurrent request with the key waits for this one's commit and
        replays it."""
        if self.key is None:
            return None
        now = self.svc.clock.now()
        key, tenant, fingerprint = self.key, self.tenant_id, self.fingerprint
        if records.try_insert(
            conn,
            tenant_id=tenant,
            key=key,
            method=self.method,
            path=self.path[:_PATH_KEPT],
            fingerprint=fingerprint,
            now=now,
        ):
            return None
        row = records.get(conn, self.tenant_id, self.key)
        assert row is not None
        if row["fingerprint"] != self.fingerprint:
            raise InvalidInput(
                "this Idempotency-Key was used with a different request; use a new key for a "
                "new request",
                code="idempotency_key_reused",
            )
        if row["response_status"] is not None:
            return Response(
                content=row["response_body"],
                status_code=row["response_status"],
                media_type="application/json",
                headers={"Idempotent-Replayed": "true"},
            )
        # In flight under `begin` (an upload), or left by a process that died mid-way.
        if records.takeover_stale(
            conn,
            tenant_id=tenant,
            key=key,
            fingerprint=fingerprint,
            stale_before=now - _STALE,
            now=now,
        ):
            return None
        raise Conflict(
            "a request with this Idempotency-Key is still in progress; retry in a moment",
            code="idempotency_request_in_flight",
            headers={"Retry-After": "1"},
        )

    def finish(self, conn: Connection, status: int, body: bytes) -> None:
        """Store the response inside the transaction that created the object."""
        if self.key is not None:
            records.complete(
                conn,
                tenant_id=self.tenant_id,
                key=self.key,
                status=status,
                body=body,
                now=self.svc.clock.now(),
            )

    def abort(self) -> None:
        """Forget the key after a refused request, so a corrected retry may reuse it."""
        if self.key is not None:
            with self.svc.db.write() as conn:
                records.release(conn, self.tenant_id, self.key)


def _clean(key: str | None) -> str | None:
    if key is None:
        return None
    # The draft standard sends a Structured Field string ("…"); Stripe-style clients do not.
    key = key.strip()
    if len(key) >= 2 and key[0] == key[-1] == '"':
        key = key[1:-1]
    if not key or len(key) > _MAX_LEN or not key.isprintable():
        raise InvalidInput(
            f"Idempotency-Key must be 1 to {_MAX_LEN} printable characters (a UUID is ideal)",
            code="invalid_idempotency_key",
        )
    return key


async def create_idempotently(
    svc: Services,
    principal: Principal | Operator,
    request: Request,
    key: str | None,
    create: Callable[[Connection], tuple[bytes, bytes]],
    *,
    status: int = 201,
) -> Response:
    """Run `create` in one transaction under the request's `Idempotency-Key`.

    `create` returns (the body to answer, the body to keep for replays). They differ only
    when the answer shows a secret once: a replay then answers the object without it, since
    no secret may rest in the database in plain text.
    """
    raw = await request.body()
    idem = Idempotency(
        svc, principal, method=request.method, path=request.url.path, key=key, body=raw
    )

    def work() -> Response:
        with svc.db.write() as conn:
            replay = idem.claim(conn)
            if replay is not None:
                return replay
            answer, kept = create(conn)
            idem.finish(conn, status, kept)
        return Response(answer, status_code=status, media_type="application/json")

    return await svc.db.run(work)


async def run_idempotently(
    svc: Services,
    principal: Principal,
    request: Request,
    key: str | None,
    work: Callable[[Idempotency], Response],
) -> Response:
    """Run `work` off the event loop under the request's `Idempotency-Key`, for work that
    cannot happen in one transaction (it calls a platform, or reads whole files first):
    the key is claimed in a transaction of its own, `work` records its answer with
    `idem.finish`, and a refusal releases the key so a corrected retry may reuse it."""
    idem = Idempotency(
        svc, principal, method=request.method, path=request.url.path, key=key,
        body=await request.body(),
    )  # fmt: skip

    def guarded() -> Response:
        replay = idem.begin()
        if replay is not None:
            return replay
        try:
            return work(idem)
        except CrosspostError:
            idem.abort()
            raise

    # Off the event loop (SQLite) and the database's threads (PostgreSQL).
    return await run_in_threadpool(guarded)


async def accept_idempotently(
    svc: Services,
    principal: Principal,
    request: Request,
    key: str | None,
    create: Callable[[Connection], tuple[bytes, bytes]],
) -> Response:
    """`create_idempotently` for work the workers take over: answer 202, then wake them."""
    response = await create_idempotently(svc, principal, request, key, create, status=202)
    request.app.state.wake_workers()
    return response
