"""/v1/releases: music releases (single, EP, album) with the metadata distributors need.

Writing needs `posts:write`, reading `posts:read`. Creating or replacing a release reads
every master and the artwork whole, so the checks run off the event loop and outside any
transaction; the write then rechecks only what may have changed meanwhile.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Request, Response
from sqlalchemy.engine import Connection
from starlette.concurrency import run_in_threadpool

from crosspost.api.deps import PostsReadDep, PostsWriteDep, ServicesDep
from crosspost.api.errors import problem_responses
from crosspost.api.idempotency import Idempotency, IdempotencyKey, run_idempotently
from crosspost.api.pagination import decode_cursor, paginate
from crosspost.distribution import artwork_job, distributions, releases
from crosspost.domain.bounds import PageLimit
from crosspost.domain.models import Page
from crosspost.domain.music import (
    ArtworkAccept,
    ArtworkGenerateRequest,
    ReleaseCreate,
    ReleaseFields,
    ReleasePublic,
)
from crosspost.domain.studio import JobPublic
from crosspost.engine import tasks
from crosspost.store import releases as rows
from crosspost.store.rows import Row

router = APIRouter(prefix="/v1/releases", tags=["releases"])
_ERRORS = problem_responses(401, 403, 404, 409, 422)


@router.post("", status_code=201, response_model=ReleasePublic, responses=_ERRORS)
async def create_release(
    request: Request,
    body: ReleaseCreate,
    svc: ServicesDep,
    principal: PostsWriteDep,
    idempotency_key: IdempotencyKey = None,
) -> Response:
    """Create a release from audio masters (WAV or FLAC media items) and their metadata.
    Every rule is checked first: identifiers (ISRC, UPC/EAN check digit), territories and
    languages, each master (lossless, 16/24-bit, 44.1 kHz or more, no clipping, length), the
    artwork (square RGB JPEG/PNG, 3000 px or more, opaque) and the type the stores would
    give it; 422 lists every problem with its field, 409 names the release that already has
    the UPC or an ISRC. Honors `Idempotency-Key` for 24 h."""

    def work(idem: Idempotency) -> Response:
        prepared = releases.prepare(svc, tenant_id=principal.tenant_id, body=body)
        with svc.db.write() as conn:
            row = releases.store(
                svc, conn, tenant_id=principal.tenant_id, mode=principal.mode, prepared=prepared
            )
            answer = _view(conn, row).model_dump_json().encode()
            idem.finish(conn, 201, answer)
        return Response(answer, status_code=201, media_type="application/json")

    return await run_idempotently(svc, principal, request, idempotency_key, work)


@router.get("", response_model=Page[ReleasePublic], responses=_ERRORS)
async def list_releases(
    request: Request,
    response: Response,
    svc: ServicesDep,
    principal: PostsReadDep,
    limit: Annotated[PageLimit, Query()] = 20,
    cursor: str | None = None,
) -> Page[ReleasePublic]:
    """A page of the tenant's releases with their tracks, newest first."""
    before = decode_cursor(cursor) if cursor else None

    def read() -> tuple[list[Row], dict[str, list[Row]]]:
        with svc.db.read() as conn:
            found = rows.list_releases(conn, principal.tenant_id, before_id=before, limit=limit + 1)
            return found, rows.tracks_of(conn, [r["id"] for r in found])

    found, tracks = await svc.db.run(read)
    return paginate(
        found, limit, request, response, lambda row: releases.public(row, tracks[row["id"]])
    )


@router.get("/{release_id}", response_model=ReleasePublic, responses=_ERRORS)
async def get_release(release_id: str, svc: ServicesDep, principal: PostsReadDep) -> ReleasePublic:
    """A release with its tracks and what was read off each master."""

    def read() -> ReleasePublic:
        with svc.db.read() as conn:
            return _view(conn, releases.get(conn, principal.tenant_id, release_id))

    return await svc.db.run(read)


@router.put("/{release_id}", response_model=ReleasePublic, responses=_ERRORS)
async def replace_release(
    release_id: str,
    request: Request,
    body: ReleaseFields,
    svc: ServicesDep,
    principal: PostsWriteDep,
) -> ReleasePublic:
    """Replace a release whole (its tracks in the order given), checked as a new one is.
    Live through DDEX, the stores are sent the change (an update: its metadata alone when
    the masters are the same, else with the files); 409 while a distribution is under way
    or while it is on SoundCloud."""

    def work() -> ReleasePublic:
        with svc.db.read() as conn:
            releases.get(conn, principal.tenant_id, release_id)  # 404 before reading files
        prepared = releases.prepare(svc, tenant_id=principal.tenant_id, body=body)
        with svc.db.write() as conn:
            row = distributions.replace_release(
                svc, conn, tenant_id=principal.tenant_id, mode=principal.mode,
                prepared=prepared, release_id=release_id,
            )  # fmt: skip
            return _view(conn, row)

    answer = await run_in_threadpool(work)
    request.app.state.wake_workers()
    return answer


@router.post(
    "/{release_id}/artwork:generate", status_code=202, response_model=JobPublic, responses=_ERRORS
)
async def generate_artwork(
    release_id: str,
    request: Request,
    body: ArtworkGenerateRequest,
    svc: ServicesDep,
    principal: PostsWriteDep,
) -> JobPublic:
    """Generate cover art (202, a `/v1/jobs` job of kind `artwork_generation`): a 3000 by 3000
    RGB JPEG drawn from the release's title and artists, the prompt's colour words, a style
    and a seed (the same seed, the same picture). The job's `result.media_id` is the image;
    accept it with `PUT /v1/releases/{id}/artwork`."""

    def work() -> JobPublic:
        with svc.db.write() as conn:
            task = artwork_job.start(
                svc, conn, tenant_id=principal.tenant_id, key_id=principal.key_id,
                release_id=release_id, body=body,
            )  # fmt: skip
        return JobPublic.model_validate(tasks.public(svc, task))

    answer = await svc.db.run(work)
    request.app.state.wake_workers()
    return answer


@router.put("/{release_id}/artwork", response_model=ReleasePublic, responses=_ERRORS)
async def accept_artwork(
    release_id: str, body: ArtworkAccept, svc: ServicesDep, principal: PostsWriteDep
) -> ReleasePublic:
    """Make an image the release's cover: a generated one, or any upload that meets the
    stores' rules (square RGB JPEG/PNG, 3000 px or more, opaque; 422 naming the rule)."""

    def work() -> ReleasePublic:
        with svc.db.write() as conn:
            row = artwork_job.accept(
                svc, conn, tenant_id=principal.tenant_id, release_id=release_id,
                media_id=body.media_id,
            )  # fmt: skip
            return _view(conn, row)

    # Reads the image whole: off the event loop (SQLite) and the database's threads.
    return await run_in_threadpool(work)


@router.delete("/{release_id}", status_code=204, responses=_ERRORS)
async def delete_release(release_id: str, svc: ServicesDep, principal: PostsWriteDep) -> Response:
    """Delete a release; its masters and artwork stay in the media library."""

    def work() -> None:
        with svc.db.write() as conn:
            releases.delete(conn, principal.tenant_id, release_id)

    await svc.db.run(work)
    return Response(status_code=204)


def _view(conn: Connection, row: Row) -> ReleasePublic:
    return releases.public(row, rows.tracks_of(conn, [row["id"]])[row["id"]])
