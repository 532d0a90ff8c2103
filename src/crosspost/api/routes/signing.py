"""/v1/keys/{key_id}/signing-secrets and /v1/signing-policy: HMAC request signing (admin)."""

from __future__ import annotations

from datetime import datetime, timedelta

from fastapi import APIRouter, Request, Response
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy.engine import Connection

from crosspost.api.auth import KeyCache
from crosspost.api.deps import AdminDep, ServicesDep, client_ip
from crosspost.api.errors import problem_responses
from crosspost.api.idempotency import IdempotencyKey, create_idempotently
from crosspost.api.signature import secret_cache
from crosspost.domain.models import Page
from crosspost.errors import Conflict, NotFound
from crosspost.identity.audit import record
from crosspost.store import signing as store
from crosspost.store import tenants
from crosspost.store.rows import Row
from crosspost.vault import signing_secrets as vault

router = APIRouter(tags=["signing"])
_ERRORS = problem_responses(400, 401, 403, 404, 409, 422)


class SigningSecretPublic(BaseModel):
    """A signing secret of an API key, without its value."""

    id: str = Field(description="Send it as X-Key-Id to name the secret a request is signed with.")
    key_id: str
    created_at: datetime
    expires_at: datetime | None = Field(
        description="When it stops verifying: set by a rotation (grace period) or a revocation."
    )
    active: bool


class SigningSecretCreated(BaseModel):
    """A new signing secret; its value is in this answer only (a replay answers null)."""

    id: str
    key_id: str
    secret: str | None = Field(description="`cpsig_…`: the HMAC key. Store it now.", repr=False)
    created_at: datetime
    previous_expires_at: datetime | None = Field(
        description="When the key's previous secrets stop verifying (null: there were none)."
    )


class SigningPolicyUpdate(BaseModel):
    """Require (or stop requiring) every API-key request of the tenant to be signed."""

    model_config = ConfigDict(extra="forbid")

    required: bool


class SigningPolicy(BaseModel):
    """The tenant's signing policy."""

    required: bool
    keys_without_signing_secret: list[str] = Field(
        description="Usable keys with no active signing secret: with signing required, their "
        "requests are refused until they get one."
    )


def _public(row: Row, now: datetime) -> SigningSecretPublic:
    active = row["expires_at"] is None or row["expires_at"] > now
    return SigningSecretPublic.model_validate({**row, "active": active})


@router.post(
    "/v1/keys/{key_id}/signing-secrets",
    status_code=201,
    response_model=SigningSecretCreated,
    responses=_ERRORS,
)
async def create_signing_secret(
    key_id: str,
    request: Request,
    svc: ServicesDep,
    principal: AdminDep,
    idempotency_key: IdempotencyKey = None,
) -> Response:
    """Create the key's signing secret. If it already has one, this is a rotation: the old
    secret keeps verifying for the grace period (default 24 h), then stops."""
    grace = timedelta(seconds=svc.settings.signing_grace_seconds)

    def create(conn: Connection) -> tuple[bytes, bytes]:
        made = vault.create_secret(
            conn,
            svc.keyring,
            tenant_id=principal.tenant_id,
            key_id=key_id,
            now=svc.clock.now(),
            grace=grace,
        )
        record(conn, principal.actor(client_ip(request)), "signing_secret.created",
               tenant_id=principal.tenant_id, now=svc.clock.now(),
               target=("signing_secret", made.id), data={"key_id": key_id})  # fmt: skip
        shown = SigningSecretCreated(
            id=made.id,
            key_id=made.key_id,
            secret=made.secret,
            created_at=made.created_at,
            previous_expires_at=made.previous_expires_at,
        )
        # A replay answers the same secret id without its value: none rests in plain text.
        kept = shown.model_copy(update={"secret": None})
        return shown.model_dump_json().encode(), kept.model_dump_json().encode()

    response = await create_idempotently(svc, principal, request, idempotency_key, create)
    secret_cache(request).forget(key_id)
    return response


@router.get(
    "/v1/keys/{key_id}/signing-secrets",
    response_model=Page[SigningSecretPublic],
    responses=_ERRORS,
)
async def list_signing_secrets(
    key_id: str, svc: ServicesDep, principal: AdminDep
) -> Page[SigningSecretPublic]:
    """The key's signing secrets, newest first (never their values)."""

    def read() -> list[Row]:
        with svc.db.read() as conn:
            return vault.list_secrets(conn, principal.tenant_id, key_id)

    rows = await svc.db.run(read)
    now = svc.clock.now()
    return Page[SigningSecretPublic](
        data=[_public(r, now) for r in rows], has_more=False, next_cursor=None
    )


@router.delete("/v1/keys/{key_id}/signing-secrets/{secret_id}", status_code=204, responses=_ERRORS)
async def revoke_signing_secret(
    key_id: str, secret_id: str, request: Request, svc: ServicesDep, principal: AdminDep
) -> Response:
    """Stop a signing secret at once (no grace period); other API processes stop accepting
    it within seconds."""

    def revoke() -> None:
        with svc.db.write() as conn:
            vault.revoke_secret(
                conn,
                tenant_id=principal.tenant_id,
                key_id=key_id,
                secret_id=secret_id,
                now=svc.clock.now(),
            )
            record(conn, principal.actor(client_ip(request)), "signing_secret.revoked",
                   tenant_id=principal.tenant_id, now=svc.clock.now(),
                   target=("signing_secret", secret_id), data={"key_id": key_id})  # fmt: skip

    await svc.db.run(revoke)
    secret_cache(request).forget(key_id)
    return Response(status_code=204)


@router.get("/v1/signing-policy", response_model=SigningPolicy, responses=_ERRORS)
async def get_signing_policy(svc: ServicesDep, principal: AdminDep) -> SigningPolicy:
    """Whether every API-key request of this tenant must be signed."""

    def read() -> SigningPolicy:
        with svc.db.read() as conn:
            return SigningPolicy(
                required=store.require_signing(conn, principal.tenant_id),
                keys_without_signing_secret=store.keys_without_secret(
                    conn, principal.tenant_id, svc.clock.now()
                ),
            )

    return await svc.db.run(read)


@router.put("/v1/signing-policy", response_model=SigningPolicy, responses=_ERRORS)
async def put_signing_policy(
    body: SigningPolicyUpdate, request: Request, svc: ServicesDep, principal: AdminDep
) -> SigningPolicy:
    """Require signed requests for every API key of the tenant (or stop requiring them).
    Keys without a signing secret are then refused; the answer lists them. API processes
    apply the change within the auth cache time (seconds)."""

    def write() -> tuple[SigningPolicy, list[str]]:
        now = svc.clock.now()
        with svc.db.write() as conn:
            unsigned = store.keys_without_secret(conn, principal.tenant_id, now)
            if body.required and principal.key_id in unsigned:
                raise Conflict(
                    "this API key has no signing secret, so requiring signatures would lock it "
                    f"out: create one first (POST /v1/keys/{principal.key_id}/signing-secrets)",
                    code="signing_secret_required",
                )
            if not store.set_require_signing(conn, principal.tenant_id, body.required):
                raise NotFound("no such tenant")
            key_ids = [row["id"] for row in tenants.list_api_keys(conn, principal.tenant_id)]
            record(conn, principal.actor(client_ip(request)), "signing_policy.changed",
                   tenant_id=principal.tenant_id, now=now,
                   data={"required": body.required})  # fmt: skip
        policy = SigningPolicy(required=body.required, keys_without_signing_secret=unsigned)
        return policy, key_ids

    policy, key_ids = await svc.db.run(write)
    # Cached principals carry the old policy: this process applies the new one at once.
    key_cache: KeyCache = request.app.state.key_cache
    for key_id in key_ids:
        key_cache.forget(key_id)
    return policy
