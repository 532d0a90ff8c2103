"""`/v1/jobs`: every long-running request (highlight detection, renders) as one resource,
with its progress and what came of it."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Request, Response

from crosspost.api.deps import PrincipalDep, ServicesDep
from crosspost.api.errors import problem_responses
from crosspost.api.pagination import decode_cursor, paginate
from crosspost.domain.bounds import PageLimit
from crosspost.domain.models import Page
from crosspost.domain.studio import JobPublic
from crosspost.engine import tasks
from crosspost.errors import NotFound
from crosspost.store import tasks as task_rows
from crosspost.store.rows import Row

router = APIRouter(prefix="/v1/jobs", tags=["jobs"])
_ERRORS = problem_responses(401, 403, 404, 422)


def _public(row: Row) -> JobPublic:
    return JobPublic.model_validate(tasks.public(row))


@router.get("", response_model=Page[JobPublic], responses=_ERRORS)
async def list_jobs(
    request: Request,
    response: Response,
    svc: ServicesDep,
    principal: PrincipalDep,
    limit: Annotated[PageLimit, Query()] = 20,
    cursor: str | None = None,
    kind: Annotated[str | None, Query(pattern="^(highlights|render)$")] = None,
    subject_id: Annotated[str | None, Query(max_length=40)] = None,
) -> Page[JobPublic]:
    """A page of the tenant's jobs, newest first, optionally of one kind or subject."""
    before = decode_cursor(cursor) if cursor else None

    def read() -> list[Row]:
        with svc.db.read() as conn:
            return task_rows.list_tasks(
                conn,
                principal.tenant_id,
                kind=kind,
                subject_id=subject_id,
                before_id=before,
                limit=limit + 1,
            )

    return paginate(await svc.db.run(read), limit, request, response, _public)


@router.get("/{job_id}", response_model=JobPublic, responses=_ERRORS)
async def get_job(job_id: str, svc: ServicesDep, principal: PrincipalDep) -> JobPublic:
    """A job: its status, progress, and its result or why it failed."""

    def read() -> Row | None:
        with svc.db.read() as conn:
            return task_rows.get_task(conn, principal.tenant_id, job_id)

    row = await svc.db.run(read)
    if row is None:
        raise NotFound(f"no job {job_id!r}", code="job_not_found")
    return _public(row)
