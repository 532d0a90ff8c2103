"""/v1/brand-kits: a tenant's brand kits (logo and its placement, colours, caption look,
intro and outro) that clip renders are dressed with.

Changing a kit needs `media:write` (a kit is made of the tenant's media); reading one needs
`posts:read`. A media item a kit uses cannot be deleted until no kit uses it.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Request, Response
from sqlalchemy.engine import Connection

from crosspost.api.deps import MediaWriteDep, PostsReadDep, ServicesDep
from crosspost.api.errors import problem_responses
from crosspost.api.idempotency import IdempotencyKey, create_idempotently
from crosspost.api.pagination import decode_cursor, paginate
from crosspost.domain.bounds import PageLimit
from crosspost.domain.brand_kits import BrandKitCreate, BrandKitPatch, BrandKitPublic
from crosspost.domain.models import Page
from crosspost.engine.services import Services
from crosspost.store import brand_kits as kit_rows
from crosspost.store.rows import Row
from crosspost.studio import brand_kits

router = APIRouter(prefix="/v1/brand-kits", tags=["brand kits"])
_ERRORS = problem_responses(401, 403, 404, 409, 422)


@router.post("", status_code=201, response_model=BrandKitPublic, responses=_ERRORS)
async def create_brand_kit(
    request: Request,
    body: BrandKitCreate,
    svc: ServicesDep,
    principal: MediaWriteDep,
    idempotency_key: IdempotencyKey = None,
) -> Response:
    """Create a brand kit; every setting but `name` has a default. Each media item it names
    must be a ready item of yours of the right kind (422 names each field to fix). Honors
    `Idempotency-Key` for 24 h."""
    now = svc.clock.now()

    def create(conn: Connection) -> tuple[bytes, bytes]:
        row = brand_kits.create_kit(conn, tenant_id=principal.tenant_id, body=body, now=now)
        answer = brand_kits.public(row).model_dump_json().encode()
        return answer, answer

    return await create_idempotently(svc, principal, request, idempotency_key, create)


@router.get("", response_model=Page[BrandKitPublic], responses=_ERRORS)
async def list_brand_kits(
    request: Request,
    response: Response,
    svc: ServicesDep,
    principal: PostsReadDep,
    limit: Annotated[PageLimit, Query()] = 20,
    cursor: str | None = None,
) -> Page[BrandKitPublic]:
    """A page of the tenant's brand kits, newest first."""
    before = decode_cursor(cursor) if cursor else None

    def read() -> list[Row]:
        with svc.db.read() as conn:
            return kit_rows.list_kits(conn, principal.tenant_id, before_id=before, limit=limit + 1)

    return paginate(await svc.db.run(read), limit, request, response, brand_kits.public)


@router.get("/{brand_kit_id}", response_model=BrandKitPublic, responses=_ERRORS)
async def get_brand_kit(
    brand_kit_id: str, svc: ServicesDep, principal: PostsReadDep
) -> BrandKitPublic:
    """A brand kit with every setting."""
    return brand_kits.public(await svc.db.run(_load, svc, principal.tenant_id, brand_kit_id))


@router.patch("/{brand_kit_id}", response_model=BrandKitPublic, responses=_ERRORS)
async def patch_brand_kit(
    brand_kit_id: str, body: BrandKitPatch, svc: ServicesDep, principal: MediaWriteDep
) -> BrandKitPublic:
    """Change a brand kit with a JSON Merge Patch (RFC 7396): only the fields given change,
    `logo`, `colors` and `caption_style` merge key by key, a null removes a media item or
    puts a setting back to its default (`caption_style.highlight_color: null` turns the
    highlight off)."""

    def work() -> Row:
        with svc.db.write() as conn:
            return brand_kits.patch_kit(
                conn,
                tenant_id=principal.tenant_id,
                kit_id=brand_kit_id,
                patch=body,
                now=svc.clock.now(),
            )

    return brand_kits.public(await svc.db.run(work))


@router.delete("/{brand_kit_id}", status_code=204, responses=_ERRORS)
async def delete_brand_kit(
    brand_kit_id: str, svc: ServicesDep, principal: MediaWriteDep
) -> Response:
    """Delete a brand kit (409 `brand_kit_in_use` while a project uses it); its media stay
    in the library."""

    def work() -> None:
        with svc.db.write() as conn:
            brand_kits.delete_kit(conn, tenant_id=principal.tenant_id, kit_id=brand_kit_id)

    await svc.db.run(work)
    return Response(status_code=204)


def _load(svc: Services, tenant_id: str, kit_id: str) -> Row:
    with svc.db.read() as conn:
        return brand_kits.get_kit(conn, tenant_id=tenant_id, kit_id=kit_id)
