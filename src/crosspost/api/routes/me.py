"""/v1/me: who the credentials of the request are, so a client can check a key before
using it (what `crosspost login` and `crosspost auth status` ask)."""

from __future__ import annotations

from fastapi import APIRouter

from crosspost.api.deps import PrincipalDep, ServicesDep
from crosspost.api.errors import problem_responses
from crosspost.domain.models import Caller, KeyPublic, TenantPublic
from crosspost.store import tenants
from crosspost.store.rows import Row

router = APIRouter(prefix="/v1/me", tags=["keys"])


@router.get("", response_model=Caller, responses=problem_responses(401, 422))
async def who_am_i(svc: ServicesDep, principal: PrincipalDep) -> Caller:
    """The tenant, mode, role and scopes of the credentials sent, and the API key's public
    view (never its secret); any valid key may ask, whatever its scopes."""

    def read() -> tuple[Row | None, Row | None]:
        with svc.db.read() as conn:
            tenant = tenants.get_tenant(conn, principal.tenant_id)
            return tenant, tenants.get_api_key(conn, principal.tenant_id, principal.key_id)

    tenant, key = await svc.db.run(read)
    # A principal always has its tenant (the key was just found through it).
    assert tenant is not None
    return Caller(
        tenant=TenantPublic(id=tenant["id"], name=tenant["name"]),
        mode=principal.mode,
        role=principal.role,
        scopes=sorted(principal.scopes),
        tier=principal.tier,
        require_signing=principal.require_signing,
        key=KeyPublic.model_validate(key) if key is not None else None,
        # An OAuth access token's principal carries the client's id where a key's would be.
        oauth_client_id=None if key is not None else principal.key_id,
    )
