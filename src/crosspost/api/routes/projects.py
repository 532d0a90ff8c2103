"""`/v1/projects`: clip studio projects, their sources and transcripts, highlight detection
and the clips of a project (seed 000)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query, Request, Response
from sqlalchemy.engine import Connection

from crosspost.api import subtitles
from crosspost.api.deps import MediaWriteDep, PrincipalDep, ServicesDep
from crosspost.api.errors import problem_responses
from crosspost.api.idempotency import IdempotencyKey, accept_idempotently, create_idempotently
from crosspost.api.pagination import decode_cursor, paginate
from crosspost.domain.bounds import PageLimit
from crosspost.domain.models import Page
from crosspost.domain.studio import (
    ClipCreate,
    ClipPublic,
    HighlightsRequest,
    JobPublic,
    ProjectCreate,
    ProjectPatch,
    ProjectPublic,
    SourceAdd,
    TranscribeRequest,
)
from crosspost.engine import tasks
from crosspost.engine.services import Services
from crosspost.errors import InvalidInput
from crosspost.media.transcripts import to_srt, to_webvtt
from crosspost.store import studio as rows
from crosspost.store.rows import Row
from crosspost.studio import clips, highlights_job, projects, transcribe_job

router = APIRouter(prefix="/v1/projects", tags=["studio"])
_ERRORS = problem_responses(401, 403, 404, 409, 422)


def _public(conn: Connection, row: Row) -> ProjectPublic:
    sources = rows.sources(conn, [row["id"]])
    counts = rows.clip_counts(conn, [row["id"]])
    return ProjectPublic.model_validate(
        {
            **row,
            "clips": counts.get(row["id"], 0),
            "sources": [
                {
                    **s,
                    "transcript": s["transcript_origin"],
                    "transcript_segments": len((s["transcript"] or {}).get("segments", [])),
                }
                for s in sources
            ],
        }
    )


def _read(svc: Services, fn: Any, *args: Any) -> Any:
    with svc.db.read() as conn:
        return fn(conn, *args)


@router.post("", status_code=201, response_model=ProjectPublic, responses=_ERRORS)
async def create_project(
    request: Request,
    body: ProjectCreate,
    svc: ServicesDep,
    principal: MediaWriteDep,
    idempotency_key: IdempotencyKey = None,
) -> Response:
    """Create a project, optionally with its first sources (ready video or audio items)."""

    def create(conn: Connection) -> tuple[bytes, bytes]:
        row = projects.create_project(conn, principal.tenant_id, body, svc.clock.now())
        answer = _public(conn, row).model_dump_json().encode()
        return answer, answer

    return await create_idempotently(svc, principal, request, idempotency_key, create)


@router.get("", response_model=Page[ProjectPublic], responses=_ERRORS)
async def list_projects(
    request: Request,
    response: Response,
    svc: ServicesDep,
    principal: PrincipalDep,
    limit: Annotated[PageLimit, Query()] = 20,
    cursor: str | None = None,
) -> Page[ProjectPublic]:
    """A page of the tenant's projects, newest first."""
    before = decode_cursor(cursor) if cursor else None

    def read() -> Page[ProjectPublic]:
        with svc.db.read() as conn:
            found = rows.list_projects(conn, principal.tenant_id, before_id=before, limit=limit + 1)
            return paginate(found, limit, request, response, lambda r: _public(conn, r))

    return await svc.db.run(read)


@router.get("/{project_id}", response_model=ProjectPublic, responses=_ERRORS)
async def get_project(project_id: str, svc: ServicesDep, principal: PrincipalDep) -> ProjectPublic:
    """A project with its sources and how many clips it holds."""

    def read() -> ProjectPublic:
        with svc.db.read() as conn:
            return _public(conn, projects.get_project(conn, principal.tenant_id, project_id))

    return await svc.db.run(read)


@router.patch("/{project_id}", response_model=ProjectPublic, responses=_ERRORS)
async def patch_project(
    project_id: str, body: ProjectPatch, svc: ServicesDep, principal: MediaWriteDep
) -> ProjectPublic:
    """Rename a project or change its brand kit (`null` removes it)."""

    def write() -> ProjectPublic:
        with svc.db.write() as conn:
            row = projects.patch_project(
                conn, principal.tenant_id, project_id, body, svc.clock.now()
            )
            return _public(conn, row)

    return await svc.db.run(write)


@router.delete("/{project_id}", status_code=204, responses=_ERRORS)
async def delete_project(project_id: str, svc: ServicesDep, principal: MediaWriteDep) -> Response:
    """Delete a project and its clips (409 while it has renders); its media stay."""

    def write() -> None:
        with svc.db.write() as conn:
            projects.delete_project(conn, principal.tenant_id, project_id)

    await svc.db.run(write)
    return Response(status_code=204)


@router.post(
    "/{project_id}/sources", status_code=201, response_model=ProjectPublic, responses=_ERRORS
)
async def add_source(
    project_id: str, body: SourceAdd, svc: ServicesDep, principal: MediaWriteDep
) -> ProjectPublic:
    """Add a ready video or audio item as a source (at most 20 per project)."""

    def write() -> ProjectPublic:
        with svc.db.write() as conn:
            now = svc.clock.now()
            row = projects.get_project(conn, principal.tenant_id, project_id, lock=True)
            projects.add_source(conn, row, body.media_id, now)
            rows.update_project(conn, project_id, {"updated_at": now})
            return _public(conn, {**row, "updated_at": now})

    return await svc.db.run(write)


@router.delete("/{project_id}/sources/{media_id}", status_code=204, responses=_ERRORS)
async def remove_source(
    project_id: str, media_id: str, svc: ServicesDep, principal: MediaWriteDep
) -> Response:
    """Remove a source and the clips cut from it (its media item stays in the library)."""

    def write() -> None:
        with svc.db.write() as conn:
            row = projects.get_project(conn, principal.tenant_id, project_id, lock=True)
            projects.get_source(conn, row, media_id)
            made = rows.clip_renders(
                conn,
                [
                    c["id"]
                    for c in rows.list_clips(
                        conn, project_id, before_id=None, limit=10_000, origin=None
                    )
                    if c["media_id"] == media_id
                ],
            )
            if made:
                raise InvalidInput(
                    "clips of this source have renders; delete those first",
                    code="source_has_renders",
                )
            rows.remove_source(conn, project_id, media_id)

    await svc.db.run(write)
    return Response(status_code=204)


@router.put(
    "/{project_id}/sources/{media_id}/transcript",
    responses={**_ERRORS, **problem_responses(413, 415)},
    openapi_extra=subtitles.OPENAPI_BODY,
)
async def attach_transcript(
    project_id: str, media_id: str, request: Request, svc: ServicesDep, principal: MediaWriteDep
) -> dict[str, Any]:
    """Attach a WebVTT (`text/vtt`) or SRT (`application/x-subrip`) file as the source's
    transcript, replacing any; highlight detection and captions read it."""

    def source() -> None:  # an unknown project or source is a 404 before anything is read
        with svc.db.read() as conn:
            row = projects.get_project(conn, principal.tenant_id, project_id)
            projects.get_source(conn, row, media_id)

    await svc.db.run(source)
    transcript = await subtitles.read_transcript(request)

    def write() -> dict[str, Any]:
        with svc.db.write() as conn:
            row = projects.get_project(conn, principal.tenant_id, project_id, lock=True)
            projects.attach_transcript(conn, row, media_id, transcript, svc.clock.now())
        return {
            "media_id": media_id,
            "language": transcript.language,
            "segments": len(transcript.segments),
        }

    return await svc.db.run(write)


@router.get("/{project_id}/sources/{media_id}/transcript", responses=_ERRORS)
async def get_transcript(
    project_id: str,
    media_id: str,
    svc: ServicesDep,
    principal: PrincipalDep,
    format: Annotated[str, Query(pattern="^(json|vtt|srt)$")] = "json",
) -> Response:
    """The source's transcript as JSON (segments with word timings), WebVTT or SRT."""

    def read() -> Row:
        with svc.db.read() as conn:
            row = projects.get_project(conn, principal.tenant_id, project_id)
            return projects.get_source(conn, row, media_id)

    source = await svc.db.run(read)
    transcript = projects.transcript_of(source["transcript"])
    if transcript is None:
        raise InvalidInput(
            "this source has no transcript; attach a WebVTT or SRT file", code="no_transcript"
        )
    if format == "vtt":
        return Response(to_webvtt(transcript), media_type="text/vtt")
    if format == "srt":
        return Response(to_srt(transcript), media_type="application/x-subrip")
    return Response(_json(source["transcript"]), media_type="application/json")


def _json(value: Any) -> bytes:
    import orjson  # noqa: PLC0415 (the API's JSON encoder, here for a stored document)

    return orjson.dumps(value)


@router.post(
    "/{project_id}/highlights", status_code=202, response_model=JobPublic, responses=_ERRORS
)
async def start_highlights(
    project_id: str,
    request: Request,
    body: HighlightsRequest,
    svc: ServicesDep,
    principal: MediaWriteDep,
    idempotency_key: IdempotencyKey = None,
) -> Response:
    """Scan the project's sources for highlights (202): follow the job at `/v1/jobs/{id}`;
    the clips found join the project when it succeeds."""

    def create(conn: Connection) -> tuple[bytes, bytes]:
        task = highlights_job.start_highlights(
            svc,
            conn,
            tenant_id=principal.tenant_id,
            key_id=principal.key_id,
            mode=principal.mode.value,
            project_id=project_id,
            body=body,
        )
        answer = JobPublic.model_validate(tasks.public(svc, task)).model_dump_json().encode()
        return answer, answer

    return await accept_idempotently(svc, principal, request, idempotency_key, create)


@router.post(
    "/{project_id}/sources/{media_id}/transcribe",
    status_code=202,
    response_model=JobPublic,
    responses=_ERRORS,
)
async def transcribe_source(
    project_id: str,
    media_id: str,
    request: Request,
    svc: ServicesDep,
    principal: MediaWriteDep,
    body: TranscribeRequest | None = None,
    idempotency_key: IdempotencyKey = None,
) -> Response:
    """Transcribe a source through the transcription API (202): follow the job at
    `/v1/jobs/{id}`; the transcript (with word timings) replaces any the source had."""
    language = body.language if body else None

    def create(conn: Connection) -> tuple[bytes, bytes]:
        task = transcribe_job.start_transcription(
            svc,
            conn,
            tenant_id=principal.tenant_id,
            key_id=principal.key_id,
            mode=principal.mode.value,
            project_id=project_id,
            media_id=media_id,
            language=language,
        )
        answer = JobPublic.model_validate(tasks.public(svc, task)).model_dump_json().encode()
        return answer, answer

    return await accept_idempotently(svc, principal, request, idempotency_key, create)


@router.post("/{project_id}/clips", status_code=201, response_model=ClipPublic, responses=_ERRORS)
async def create_clip(
    project_id: str, body: ClipCreate, svc: ServicesDep, principal: MediaWriteDep
) -> ClipPublic:
    """Make a clip by hand from one of the project's sources."""

    def write() -> Row:
        with svc.db.write() as conn:
            return clips.create_clip(conn, principal.tenant_id, project_id, body, svc.clock.now())

    return ClipPublic.model_validate(clips.public(await svc.db.run(write)))


@router.get("/{project_id}/clips", response_model=Page[ClipPublic], responses=_ERRORS)
async def list_clips(
    project_id: str,
    request: Request,
    response: Response,
    svc: ServicesDep,
    principal: PrincipalDep,
    limit: Annotated[PageLimit, Query()] = 20,
    cursor: str | None = None,
    origin: Annotated[str | None, Query(pattern="^(detected|manual)$")] = None,
) -> Page[ClipPublic]:
    """A page of the project's clips, newest first."""
    before = decode_cursor(cursor) if cursor else None

    def read() -> list[Row]:
        with svc.db.read() as conn:
            projects.get_project(conn, principal.tenant_id, project_id)
            return rows.list_clips(
                conn, project_id, before_id=before, limit=limit + 1, origin=origin
            )

    found = await svc.db.run(read)
    return paginate(
        found, limit, request, response, lambda r: ClipPublic.model_validate(clips.public(r))
    )
