"""`/v1/clips/{id}`: one clip of a project, adjusted or deleted."""

from __future__ import annotations

from fastapi import APIRouter, Response

from crosspost.api.deps import MediaWriteDep, PrincipalDep, ServicesDep
from crosspost.api.errors import problem_responses
from crosspost.domain.studio import ClipPatch, ClipPublic
from crosspost.store.rows import Row
from crosspost.studio import clips

router = APIRouter(prefix="/v1/clips", tags=["studio"])
_ERRORS = problem_responses(401, 403, 404, 409, 422)


@router.get("/{clip_id}", response_model=ClipPublic, responses=_ERRORS)
async def get_clip(clip_id: str, svc: ServicesDep, principal: PrincipalDep) -> ClipPublic:
    """A clip: its source, bounds, and why it was picked."""

    def read() -> Row:
        with svc.db.read() as conn:
            return clips.get_clip(conn, principal.tenant_id, clip_id)

    return ClipPublic.model_validate(clips.public(await svc.db.run(read)))


@router.patch("/{clip_id}", response_model=ClipPublic, responses=_ERRORS)
async def patch_clip(
    clip_id: str, body: ClipPatch, svc: ServicesDep, principal: MediaWriteDep
) -> ClipPublic:
    """Move a clip's start or end (within its source, 1 s to 10 min) or retitle it."""

    def write() -> Row:
        with svc.db.write() as conn:
            return clips.patch_clip(conn, principal.tenant_id, clip_id, body, svc.clock.now())

    return ClipPublic.model_validate(clips.public(await svc.db.run(write)))


@router.delete("/{clip_id}", status_code=204, responses=_ERRORS)
async def delete_clip(clip_id: str, svc: ServicesDep, principal: MediaWriteDep) -> Response:
    """Delete a clip (409 once it has renders)."""

    def write() -> None:
        with svc.db.write() as conn:
            clips.delete_clip(conn, principal.tenant_id, clip_id)

    await svc.db.run(write)
    return Response(status_code=204)
